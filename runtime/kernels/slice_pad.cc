// Index-remapping copies: slice (strided read of any dtype) and pad (constant, reflect, edge).
#include <string.h>

#include <initializer_list>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Compact element strides of `shape`.
void CompactStrides(const int64_t* shape, int ndim, int64_t* strides) {
  int64_t run = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    strides[d] = run;
    run *= shape[d];
  }
}

// Writes the output (shape `shape`, at least one element) in order, reading the input at
// `start` + sum(index[d] * step[d]) elements of `Bytes` bytes (steps may be negative).
template <size_t Bytes>
void StridedCopy(const char* in, char* out, const int64_t* shape, int64_t start,
                 const int64_t* step, int ndim, size_t bytes) {
  const int64_t eb = static_cast<int64_t>(Bytes == 0 ? bytes : Bytes);
  const int last = ndim - 1;
  const int64_t row = ndim == 0 ? 1 : shape[last], row_step = ndim == 0 ? 0 : step[last];
  const int64_t rows = internal::Product(shape, 0, ndim) / row;
  int64_t index[kMaxDims] = {};
  int64_t offset = start;
  for (int64_t r = 0; r < rows; ++r) {
    char* dst = out + r * row * eb;
    for (int64_t j = 0; j < row; ++j) {
      memcpy(dst + j * eb, in + (offset + j * row_step) * eb, Bytes == 0 ? bytes : Bytes);
    }
    for (int d = last - 1; d >= 0; --d) {
      offset += step[d];
      if (++index[d] < shape[d]) break;
      offset -= step[d] * shape[d];
      index[d] = 0;
    }
  }
}

// The input index that output index `o` reads along one axis of input length n padded by
// `before`, or -1 for a position that takes the constant value.
int64_t PadSource(int64_t o, int64_t before, int64_t n, PadMode mode) {
  int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : n - 1;
    case PadMode::kReflect: {
      // Mirror without repeating the edge: period 2 (n - 1), n >= 2.
      const int64_t period = 2 * (n - 1);
      i %= period;
      if (i < 0) i += period;
      return i < n ? i : period - i;
    }
  }
  return -1;
}

}  // namespace

// out must not overlap in.
int Slice(const SliceAttrs& attrs, DLTensor* const* args, int32_t num_args,
          FerryKernelError* error) {
  constexpr const char* kName = "slice";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckSameDType(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (attrs.ndim != in.ndim || out.ndim != in.ndim) {
    return Fail(error, kName, "slice has %lld dimensions, input rank is %d, output rank is %d",
                static_cast<long long>(attrs.ndim), in.ndim, out.ndim);
  }
  const int ndim = in.ndim;
  const bool empty = internal::NumElements(out) == 0;
  int64_t in_stride[kMaxDims], step[kMaxDims];
  CompactStrides(in.shape, ndim, in_stride);
  int64_t start = 0;
  for (int d = 0; d < ndim; ++d) {
    if (attrs.steps[d] == 0) return Fail(error, kName, "step of dimension %d is 0", d);
    if (empty) continue;
    // First and last index read along d; both must lie inside the input.
    const int64_t first = attrs.starts[d];
    int64_t last;
    if (__builtin_mul_overflow(out.shape[d] - 1, attrs.steps[d], &last) ||
        __builtin_add_overflow(last, first, &last)) {
      return Fail(error, kName, "dimension %d reads past the input (index overflows)", d);
    }
    for (const int64_t index : {first, last}) {
      if (index < 0 || index >= in.shape[d]) {
        return Fail(error, kName, "dimension %d reads index %lld, outside [0, %lld)", d,
                    static_cast<long long>(index), static_cast<long long>(in.shape[d]));
      }
    }
    start += first * in_stride[d];
    // A dimension read once never steps (its step may be too large to scale).
    step[d] = out.shape[d] == 1 ? 0 : attrs.steps[d] * in_stride[d];
  }
  if (empty) return 0;
  const char* src = DataAs<const char>(in);
  char* dst = DataAs<char>(out);
  const size_t bytes = internal::ElementBytes(in);
  switch (bytes) {
    case 1:
      StridedCopy<1>(src, dst, out.shape, start, step, ndim, bytes);
      break;
    case 2:
      StridedCopy<2>(src, dst, out.shape, start, step, ndim, bytes);
      break;
    case 4:
      StridedCopy<4>(src, dst, out.shape, start, step, ndim, bytes);
      break;
    case 8:
      StridedCopy<8>(src, dst, out.shape, start, step, ndim, bytes);
      break;
    default:
      StridedCopy<0>(src, dst, out.shape, start, step, ndim, bytes);
      break;
  }
  return 0;
}

// out must not overlap in.
int Pad(const PadAttrs& attrs, DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  constexpr const char* kName = "pad";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (attrs.mode != PadMode::kConstant && attrs.mode != PadMode::kReflect &&
      attrs.mode != PadMode::kEdge) {
    return Fail(error, kName, "unknown mode %d", static_cast<int>(attrs.mode));
  }
  if (attrs.ndim != in.ndim || out.ndim != in.ndim) {
    return Fail(error, kName, "pads have %lld dimensions, input rank is %d, output rank is %d",
                static_cast<long long>(attrs.ndim), in.ndim, out.ndim);
  }
  const int ndim = in.ndim;
  const bool empty = internal::NumElements(out) == 0;
  for (int d = 0; d < ndim; ++d) {
    const int64_t n = in.shape[d], before = attrs.before[d];
    // after = out - n - before; a crop (negative pad) may remove at most the whole dimension.
    int64_t after;
    if (__builtin_sub_overflow(out.shape[d] - n, before, &after) || before < -n || after < -n) {
      return Fail(error, kName,
                  "output dimension %d (%lld) does not match input %lld padded by "
                  "%lld before",
                  d, static_cast<long long>(out.shape[d]), static_cast<long long>(n),
                  static_cast<long long>(before));
    }
    if (empty || (before <= 0 && after <= 0)) continue;
    if (attrs.mode == PadMode::kEdge && n < 1) {
      return Fail(error, kName, "edge mode cannot pad empty dimension %d", d);
    }
    if (attrs.mode == PadMode::kReflect && n < 2) {
      return Fail(error, kName,
                  "reflect mode needs at least 2 elements in padded dimension %d, "
                  "got %lld",
                  d, static_cast<long long>(n));
    }
  }
  if (empty) return 0;
  const float* src = DataAs<const float>(in);
  float* dst = DataAs<float>(out);
  const float value = static_cast<float>(attrs.value);
  if (ndim == 0) {
    dst[0] = src[0];
    return 0;
  }
  int64_t in_stride[kMaxDims];
  CompactStrides(in.shape, ndim, in_stride);
  const int last = ndim - 1;
  const int64_t row = out.shape[last], n_last = in.shape[last], before_last = attrs.before[last];
  const int64_t rows = internal::NumElements(out) / row;
  int64_t index[kMaxDims] = {};  // Output index of the current row's outer dimensions.
  for (int64_t r = 0; r < rows; ++r) {
    float* dst_row = dst + r * row;
    // Input offset of the row, or -1 when an outer index falls in constant padding.
    int64_t base = 0;
    for (int d = 0; d < last && base >= 0; ++d) {
      const int64_t i = PadSource(index[d], attrs.before[d], in.shape[d], attrs.mode);
      base = i < 0 ? -1 : base + i * in_stride[d];
    }
    if (base < 0) {
      for (int64_t j = 0; j < row; ++j) dst_row[j] = value;
    } else {
      const float* src_row = src + base;
      for (int64_t j = 0; j < row; ++j) {
        const int64_t i = PadSource(j, before_last, n_last, attrs.mode);
        dst_row[j] = i < 0 ? value : src_row[i];
      }
    }
    for (int d = last - 1; d >= 0; --d) {
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
  return 0;
}

}  // namespace ferry::kernels
