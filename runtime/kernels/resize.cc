// resize_nearest: ONNX Resize with mode "nearest", any rank.
#include <cmath>
#include <new>
#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

constexpr const char* kName = "resize_nearest";

bool ValidCoordinateMode(ResizeCoordinateMode m) {
  switch (m) {
    case ResizeCoordinateMode::kHalfPixel:
    case ResizeCoordinateMode::kAsymmetric:
    case ResizeCoordinateMode::kPytorchHalfPixel:
    case ResizeCoordinateMode::kAlignCorners:
    case ResizeCoordinateMode::kTfHalfPixelForNn:
      return true;
  }
  return false;
}

bool ValidNearestMode(ResizeNearestMode m) {
  switch (m) {
    case ResizeNearestMode::kRoundPreferFloor:
    case ResizeNearestMode::kRoundPreferCeil:
    case ResizeNearestMode::kFloor:
    case ResizeNearestMode::kCeil:
      return true;
  }
  return false;
}

// The input coordinate of output index o along an axis of `in` -> `out` elements.
double SourceCoordinate(ResizeCoordinateMode mode, int64_t o, int64_t in, int64_t out,
                        double scale) {
  const double x = static_cast<double>(o);
  switch (mode) {
    case ResizeCoordinateMode::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case ResizeCoordinateMode::kAsymmetric:
      return x / scale;
    case ResizeCoordinateMode::kPytorchHalfPixel:
      return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case ResizeCoordinateMode::kAlignCorners:
      return out == 1 ? 0.0 : x * static_cast<double>(in - 1) / static_cast<double>(out - 1);
    case ResizeCoordinateMode::kTfHalfPixelForNn:
      return (x + 0.5) / scale;
  }
  return 0.0;
}

// The nearest input index to coordinate x, clamped to [0, in - 1] (in >= 1).
int64_t NearestIndex(ResizeNearestMode mode, double x, int64_t in) {
  double r = 0.0;
  switch (mode) {
    case ResizeNearestMode::kRoundPreferFloor:
      r = std::ceil(x - 0.5);  // x.5 rounds down.
      break;
    case ResizeNearestMode::kRoundPreferCeil:
      r = std::floor(x + 0.5);  // x.5 rounds up.
      break;
    case ResizeNearestMode::kFloor:
      r = std::floor(x);
      break;
    case ResizeNearestMode::kCeil:
      r = std::ceil(x);
      break;
  }
  if (!(r > 0.0)) return 0;  // Also NaN.
  if (r >= static_cast<double>(in - 1)) return in - 1;
  return static_cast<int64_t>(r);
}

}  // namespace

// out must not overlap in.
int ResizeNearest(const ResizeNearestAttrs& attrs, DLTensor* const* args, int32_t num_args,
                  FerryKernelError* error) {
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (!ValidCoordinateMode(attrs.coordinate_mode)) {
    return Fail(error, kName, "unknown coordinate mode %d",
                static_cast<int>(attrs.coordinate_mode));
  }
  if (!ValidNearestMode(attrs.nearest_mode)) {
    return Fail(error, kName, "unknown nearest mode %d", static_cast<int>(attrs.nearest_mode));
  }
  if (attrs.ndim != in.ndim || out.ndim != in.ndim) {
    return Fail(error, kName, "scales have %lld dimensions, input rank is %d, output rank is %d",
                static_cast<long long>(attrs.ndim), in.ndim, out.ndim);
  }
  const int ndim = in.ndim;
  const bool uses_scale = attrs.coordinate_mode != ResizeCoordinateMode::kAlignCorners;
  for (int d = 0; d < ndim; ++d) {
    const double scale = attrs.scales[d];
    if (uses_scale && !(scale > 0.0 && std::isfinite(scale))) {
      return Fail(error, kName, "scale %g of dimension %d must be positive and finite", scale, d);
    }
    if (in.shape[d] == 0 && out.shape[d] != 0) {
      return Fail(error, kName, "cannot resize empty dimension %d to %lld", d,
                  static_cast<long long>(out.shape[d]));
    }
  }
  const int64_t count = internal::NumElements(out);
  if (count == 0) return 0;
  const float* src = DataAs<const float>(in);
  float* dst = DataAs<float>(out);
  if (ndim == 0) {
    dst[0] = src[0];
    return 0;
  }
  // Per axis, the input element offset that each output index reads (one table, axis after
  // axis).
  int64_t table_begin[kMaxDims];
  int64_t table_size = 0;
  for (int d = 0; d < ndim; ++d) {
    table_begin[d] = table_size;
    table_size += out.shape[d];
  }
  std::vector<int64_t> table;
  try {
    table.resize(static_cast<size_t>(table_size));
  } catch (const std::exception&) {
    return Fail(error, kName, "cannot allocate the index table (%lld entries)",
                static_cast<long long>(table_size));
  }
  int64_t in_stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    for (int64_t o = 0; o < out.shape[d]; ++o) {
      const double x =
          SourceCoordinate(attrs.coordinate_mode, o, in.shape[d], out.shape[d], attrs.scales[d]);
      table[table_begin[d] + o] = NearestIndex(attrs.nearest_mode, x, in.shape[d]) * in_stride;
    }
    in_stride *= in.shape[d];
  }
  const int last = ndim - 1;
  const int64_t row = out.shape[last];
  const int64_t rows = count / row;
  const int64_t* last_table = table.data() + table_begin[last];
  int64_t index[kMaxDims] = {};  // Output index of the current row's outer dimensions.
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = 0;
    for (int d = 0; d < last; ++d) base += table[table_begin[d] + index[d]];
    const float* src_row = src + base;
    float* dst_row = dst + r * row;
    for (int64_t j = 0; j < row; ++j) dst_row[j] = src_row[last_table[j]];
    for (int d = last - 1; d >= 0; --d) {
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
  return 0;
}

}  // namespace ferry::kernels
