// Reductions over a set of axes: reduce_sum and reduce_mean, accumulated in double.
#include <limits>
#include <new>
#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Adds the input elements of dimensions [first, ndim) of `shape` (count of them at `src`)
// into `sums`, where input dimension d advances the output by out_stride[d] (0: reduced).
// Walks the input row by row (last dimension innermost), carrying the output offset; a
// rank-0 input is one row of one element. Each output element receives its inputs in input
// order, a reduced last dimension summed per row first.
void Accumulate(const float* src, int64_t count, const int64_t* shape,
                const int64_t* out_stride, int first, int ndim, double* sums) {
  const int last = ndim - 1;
  const int64_t row = ndim == 0 ? 1 : shape[last];
  const int64_t step = ndim == 0 ? 0 : out_stride[last];
  const int64_t rows = count / row;
  int64_t index[kMaxDims] = {};
  int64_t offset = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* values = src + r * row;
    double* acc = sums + offset;
    if (step == 0) {
      double s = 0.0;
      for (int64_t j = 0; j < row; ++j) s += values[j];
      *acc += s;
    } else {
      for (int64_t j = 0; j < row; ++j) acc[j * step] += values[j];
    }
    for (int d = last - 1; d >= first; --d) {
      offset += out_stride[d];
      if (++index[d] < shape[d]) break;
      offset -= out_stride[d] * shape[d];
      index[d] = 0;
    }
  }
}

// Validates in -> out against the reduced axes, then writes finish(sum, count) to every
// output element, where sum is the double sum of the input elements that reduce into it and
// count the number of those elements. Works in place (sums go to a separate buffer).
template <typename Finish>
int Reduce(const char* name, const ReduceAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error, Finish finish) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (attrs.ndim != in.ndim) {
    return Fail(error, name, "reduce has %lld entries, input rank is %d",
                static_cast<long long>(attrs.ndim), in.ndim);
  }
  const int ndim = in.ndim;
  // Output element stride of every input dimension (0 for a reduced one), the kept element
  // count and the reduced element count.
  int64_t out_stride[kMaxDims];
  int64_t kept = 1, reduced = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    if (attrs.reduce[d] != 0) {
      out_stride[d] = 0;
      reduced *= in.shape[d];
    } else {
      out_stride[d] = kept;
      kept *= in.shape[d];
    }
  }
  if (internal::NumElements(out) != kept) {
    return Fail(error, name, "output shape %s has %lld elements, expected %lld kept elements",
                internal::FormatShape(out).text, static_cast<long long>(internal::NumElements(out)),
                static_cast<long long>(kept));
  }
  if (kept == 0) return 0;
  std::vector<double> sums;
  try {
    sums.assign(static_cast<size_t>(kept), 0.0);
  } catch (const std::exception&) {
    return Fail(error, name, "cannot allocate the accumulator (%lld doubles)",
                static_cast<long long>(kept));
  }
  const int64_t count = internal::NumElements(in);
  if (count > 0) {
    // The leading kept dimensions (and reduced ones of size 1; all but the last dimension at
    // most) split the input into `outer` slices that reduce into disjoint output ranges:
    // those slices go to the threads, each accumulated exactly as in one serial walk. (A
    // reduced leading dimension of size > 1 leaves one slice: serial.)
    int first = 0;
    while (first < ndim - 1 && (attrs.reduce[first] == 0 || in.shape[first] == 1)) ++first;
    const int64_t outer = internal::Product(in.shape, 0, first);
    const int64_t slice = count / outer;
    const int64_t out_slice = kept / outer;
    const float* src = DataAs<const float>(in);
    double* acc = sums.data();
    internal::ParallelFor(outer, count, [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        Accumulate(src + o * slice, slice, in.shape, out_stride, first, ndim, acc + o * out_slice);
      }
    });
  }
  float* dst = DataAs<float>(out);
  internal::ParallelFor(kept, kept, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = finish(sums[i], reduced);
  });
  return 0;
}

}  // namespace

int ReduceSum(const ReduceAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  return Reduce("reduce_sum", attrs, args, num_args, error,
                [](double sum, int64_t) { return static_cast<float>(sum); });
}

// The mean of no elements is NaN.
int ReduceMean(const ReduceAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error) {
  return Reduce("reduce_mean", attrs, args, num_args, error, [](double sum, int64_t count) {
    return count == 0 ? std::numeric_limits<float>::quiet_NaN()
                      : static_cast<float>(sum / static_cast<double>(count));
  });
}

}  // namespace ferry::kernels
