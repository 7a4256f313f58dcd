// Layout kernels that move bytes without interpreting them: concat, reshape, transpose.
// Large concats and transposes split their output over the kernel threads.
#include <string.h>

#include <algorithm>
#include <climits>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"
#include "runtime/kernels/parallel_for.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Copies in -> out where output dimension d advances the input by in_stride[d] elements of
// `Bytes` bytes each; the output is written in order, in ranges of rows on several threads
// when it is large. `shape` is the output shape, with at least one element. memcpy of a
// constant size compiles to a plain load and store.
template <size_t Bytes>
void PermuteCopy(const char* in, char* out, const int64_t* shape, const int64_t* in_stride,
                 int ndim);

// Output rows shorter than kShortRow whose elements lie apart in the input while the
// next-to-last output dimension runs along it (NCHW -> NHWC, a matrix transpose): each
// [shape[last - 1], shape[last]] block of the output is a 2-D transpose, copied in tiles of
// kTile input-contiguous elements so that the reads run along the input.
inline constexpr int64_t kShortRow = 16;
inline constexpr int64_t kTile = 64;

bool IsInnerTranspose(const int64_t* shape, const int64_t* in_stride, int ndim) {
  return ndim >= 2 && shape[ndim - 1] < kShortRow && in_stride[ndim - 1] != 1 &&
         in_stride[ndim - 2] == 1;
}

template <size_t Bytes>
void InnerTransposeCopy(const char* in, char* out, const int64_t* shape,
                        const int64_t* in_stride, int ndim) {
  const int64_t rows = shape[ndim - 2], cols = shape[ndim - 1];
  const int64_t col_step = in_stride[ndim - 1];
  const int64_t blocks = internal::Product(shape, 0, ndim - 2);
  const int64_t block_bytes = rows * cols * static_cast<int64_t>(Bytes);
  internal::ParallelFor(blocks, blocks * rows * cols, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      int64_t offset = 0;  // in elements: the input offset of block b
      for (int64_t d = ndim - 3, rest = b; d >= 0; --d) {
        offset += (rest % shape[d]) * in_stride[d];
        rest /= shape[d];
      }
      const char* src = in + offset * static_cast<int64_t>(Bytes);
      char* dst = out + b * block_bytes;
      for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
        const int64_t r1 = r0 + kTile < rows ? r0 + kTile : rows;
        for (int64_t c = 0; c < cols; ++c) {
          const char* column = src + c * col_step * static_cast<int64_t>(Bytes);
          for (int64_t r = r0; r < r1; ++r) {
            memcpy(dst + (r * cols + c) * static_cast<int64_t>(Bytes),
                   column + r * static_cast<int64_t>(Bytes), Bytes);
          }
        }
      }
    }
  });
}

template <size_t Bytes>
void PermuteCopy(const char* in, char* out, const int64_t* shape, const int64_t* in_stride,
                 int ndim) {
  if (ndim == 0) {
    memcpy(out, in, Bytes);
    return;
  }
  if (IsInnerTranspose(shape, in_stride, ndim)) {
    return InnerTransposeCopy<Bytes>(in, out, shape, in_stride, ndim);
  }
  const int last = ndim - 1;
  const int64_t row = shape[last], step = in_stride[last] * static_cast<int64_t>(Bytes);
  const int64_t rows = internal::Product(shape, 0, last);
  internal::ParallelFor(rows, rows * row, [&](int64_t begin, int64_t end) {
    int64_t index[kMaxDims + 1] = {};  // Up to kMaxDims + 1 dimensions, see below.
    int64_t offset = 0;                // In elements: the input offset of row `begin`.
    for (int64_t d = last - 1, rest = begin; d >= 0; --d) {
      index[d] = rest % shape[d];
      rest /= shape[d];
      offset += index[d] * in_stride[d];
    }
    for (int64_t r = begin; r < end; ++r) {
      char* dst = out + r * row * static_cast<int64_t>(Bytes);
      const char* src = in + offset * static_cast<int64_t>(Bytes);
      for (int64_t j = 0; j < row; ++j)
        memcpy(dst + j * static_cast<int64_t>(Bytes), src + j * step, Bytes);
      for (int d = last - 1; d >= 0; --d) {
        offset += in_stride[d];
        if (++index[d] < shape[d]) break;
        offset -= in_stride[d] * shape[d];
        index[d] = 0;
      }
    }
  });
}

// PermuteCopy for elements of any byte size.
void PermuteCopyBytes(const char* in, char* out, size_t element_bytes, const int64_t* shape,
                      const int64_t* in_stride, int ndim) {
  switch (element_bytes) {
    case 1:
      return PermuteCopy<1>(in, out, shape, in_stride, ndim);
    case 2:
      return PermuteCopy<2>(in, out, shape, in_stride, ndim);
    case 4:
      return PermuteCopy<4>(in, out, shape, in_stride, ndim);
    case 8:
      return PermuteCopy<8>(in, out, shape, in_stride, ndim);
    default:
      break;
  }
  // Other sizes: treat each element as a trailing dimension of element_bytes single bytes.
  int64_t byte_shape[kMaxDims + 1], byte_stride[kMaxDims + 1];
  const int64_t eb = static_cast<int64_t>(element_bytes);
  for (int d = 0; d < ndim; ++d) {
    byte_shape[d] = shape[d];
    byte_stride[d] = in_stride[d] * eb;
  }
  byte_shape[ndim] = eb;
  byte_stride[ndim] = 1;
  PermuteCopy<1>(in, out, byte_shape, byte_stride, ndim + 1);
}

}  // namespace

// args: inputs..., out. Every input must have out's dtype; rank-0 inputs are rejected.
int Concat(const ConcatAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error) {
  constexpr const char* kName = "concat";
  if (internal::CheckArgs(kName, args, num_args, 2, INT32_MAX, error) != 0 ||
      internal::CheckSameDType(kName, args, num_args, error) != 0) {
    return -1;
  }
  const int32_t num_inputs = num_args - 1;
  const DLTensor& first = *args[0];
  const DLTensor& out = *args[num_inputs];
  int axis;
  if (internal::NormalizeAxis(kName, attrs.axis, first.ndim, &axis, error) != 0) return -1;
  int64_t expected[kMaxDims];
  for (int d = 0; d < first.ndim; ++d) expected[d] = first.shape[d];
  for (int32_t i = 1; i < num_inputs; ++i) {
    const DLTensor& t = *args[i];
    bool match = t.ndim == first.ndim;
    for (int d = 0; match && d < first.ndim; ++d) match = d == axis || t.shape[d] == first.shape[d];
    if (!match) {
      return Fail(error, kName, "input %d shape %s does not match input 0 shape %s outside axis %d",
                  i, internal::FormatShape(t).text, internal::FormatShape(first).text, axis);
    }
    if (__builtin_add_overflow(expected[axis], t.shape[axis], &expected[axis])) {
      return Fail(error, kName, "concatenated dimension overflows");
    }
  }
  if (internal::CheckShape(kName, "output", out, expected, first.ndim, error) != 0) return -1;
  if (internal::NumElements(out) == 0) return 0;
  const size_t element_bytes = internal::ElementBytes(out);
  const int64_t outer = internal::Product(expected, 0, axis);
  const int64_t inner_bytes =
      internal::Product(expected, axis + 1, first.ndim) * static_cast<int64_t>(element_bytes);
  const int64_t out_row = expected[axis] * inner_bytes;
  const int64_t total = outer * out_row;
  char* dst = DataAs<char>(out);
  // The output is `outer` rows, each the inputs' blocks side by side. Every range of output
  // bytes is filled block piece by block piece, so any split of the bytes writes the same.
  internal::ParallelFor(total, total / static_cast<int64_t>(element_bytes),
                        [&](int64_t begin, int64_t end) {
    int64_t o = begin / out_row;
    int64_t in_row = begin % out_row;  // Byte offset inside output row o.
    int32_t i = 0;
    int64_t column = 0;  // Byte offset of input i's block inside an output row.
    while (column + args[i]->shape[axis] * inner_bytes <= in_row) {
      column += args[i]->shape[axis] * inner_bytes;
      ++i;
    }
    for (int64_t at = begin; at < end;) {
      const int64_t row = args[i]->shape[axis] * inner_bytes;
      const int64_t n = std::min(row - (in_row - column), end - at);
      if (n > 0) {
        memcpy(dst + at, DataAs<const char>(*args[i]) + o * row + (in_row - column),
               static_cast<size_t>(n));
      }
      at += n;
      in_row += n;
      if (in_row - column == row) {  // Input i's block of this row is done.
        column += row;
        if (++i == num_inputs) {
          i = 0;
          column = 0;
          in_row = 0;
          ++o;
        }
      }
    }
  });
  return 0;
}

// in and out may be the same buffer.
int Reshape(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  constexpr const char* kName = "reshape";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckSameDType(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  const int64_t count = internal::NumElements(in);
  if (internal::NumElements(out) != count) {
    return Fail(error, kName, "output shape %s has %lld elements, input shape %s has %lld",
                internal::FormatShape(out).text, static_cast<long long>(internal::NumElements(out)),
                internal::FormatShape(in).text, static_cast<long long>(count));
  }
  if (count == 0) return 0;
  const char* src = DataAs<const char>(in);
  char* dst = DataAs<char>(out);
  if (src != dst) memmove(dst, src, static_cast<size_t>(count) * internal::ElementBytes(in));
  return 0;
}

// out must not overlap in.
int Transpose(const TransposeAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  constexpr const char* kName = "transpose";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckSameDType(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (attrs.ndim != in.ndim) {
    return Fail(error, kName, "axes has %lld entries, input rank is %d",
                static_cast<long long>(attrs.ndim), in.ndim);
  }
  const int ndim = in.ndim;
  bool seen[kMaxDims] = {};
  for (int d = 0; d < ndim; ++d) {
    const int64_t axis = attrs.axes[d];
    if (axis < 0 || axis >= ndim || seen[axis]) {
      return Fail(error, kName, "axes is not a permutation of [0, %d)", ndim);
    }
    seen[axis] = true;
  }
  // Compact input strides, then the output shape and the input stride of each output axis.
  int64_t compact[kMaxDims], shape[kMaxDims], in_stride[kMaxDims];
  int64_t run = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    compact[d] = run;
    run *= in.shape[d];
  }
  for (int d = 0; d < ndim; ++d) {
    shape[d] = in.shape[attrs.axes[d]];
    in_stride[d] = compact[attrs.axes[d]];
  }
  if (internal::CheckShape(kName, "output", out, shape, ndim, error) != 0) return -1;
  if (internal::NumElements(out) == 0) return 0;
  PermuteCopyBytes(DataAs<const char>(in), DataAs<char>(out), internal::ElementBytes(in), shape,
                   in_stride, ndim);
  return 0;
}

}  // namespace ferry::kernels
