// resize_nearest and resize_linear: ONNX Resize with modes "nearest" and "linear", any rank.
#include <cmath>
#include <new>
#include <utility>
#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

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
    case ResizeCoordinateMode::kAlignCorners: {
      // ONNX's reference divides by scale * in - 1, which is out - 1 unless the scale gave a
      // fractional size.
      const double length = scale * static_cast<double>(in);
      return out == 1 || length == 1.0 ? 0.0 : x * static_cast<double>(in - 1) / (length - 1.0);
    }
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

// Checks the rank, the coordinate mode and the scales of in -> out.
int CheckGeometry(const char* name, int64_t ndim, const double* scales,
                  ResizeCoordinateMode mode, const DLTensor& in, const DLTensor& out,
                  FerryKernelError* error) {
  if (!ValidCoordinateMode(mode)) {
    return Fail(error, name, "unknown coordinate mode %d", static_cast<int>(mode));
  }
  if (ndim != in.ndim || out.ndim != in.ndim) {
    return Fail(error, name, "scales have %lld dimensions, input rank is %d, output rank is %d",
                static_cast<long long>(ndim), in.ndim, out.ndim);
  }
  for (int d = 0; d < in.ndim; ++d) {
    const double scale = scales[d];
    if (!(scale > 0.0 && std::isfinite(scale))) {
      return Fail(error, name, "scale %g of dimension %d must be positive and finite", scale, d);
    }
    if (in.shape[d] == 0 && out.shape[d] != 0) {
      return Fail(error, name, "cannot resize empty dimension %d to %lld", d,
                  static_cast<long long>(out.shape[d]));
    }
  }
  return 0;
}

}  // namespace

// out must not overlap in.
int ResizeNearest(const ResizeNearestAttrs& attrs, DLTensor* const* args, int32_t num_args,
                  FerryKernelError* error) {
  constexpr const char* kName = "resize_nearest";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (!ValidNearestMode(attrs.nearest_mode)) {
    return Fail(error, kName, "unknown nearest mode %d", static_cast<int>(attrs.nearest_mode));
  }
  if (CheckGeometry(kName, attrs.ndim, attrs.scales, attrs.coordinate_mode, in, out, error) != 0) {
    return -1;
  }
  const int ndim = in.ndim;
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

// Each output element interpolates linearly along every axis between the input elements at
// floor(x) and floor(x) + 1 (clamped to the edges), with weights computed and accumulated in
// double, as ONNX's reference does. Axes that keep their size and scale 1 read straight
// through. out must not overlap in.
int ResizeLinear(const ResizeLinearAttrs& attrs, DLTensor* const* args, int32_t num_args,
                 FerryKernelError* error) {
  constexpr const char* kName = "resize_linear";
  if (internal::CheckArgs(kName, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (attrs.coordinate_mode == ResizeCoordinateMode::kTfHalfPixelForNn) {
    return Fail(error, kName, "tf_half_pixel_for_nn is a nearest-neighbour mode");
  }
  if (CheckGeometry(kName, attrs.ndim, attrs.scales, attrs.coordinate_mode, in, out, error) != 0) {
    return -1;
  }
  const int64_t count = internal::NumElements(out);
  if (count == 0) return 0;
  const float* src = DataAs<const float>(in);
  float* dst = DataAs<float>(out);
  const int ndim = in.ndim;
  if (ndim == 0) {
    dst[0] = src[0];
    return 0;
  }
  // Per axis and output index: the two input offsets and the weight of the second.
  struct Tap {
    int64_t lo, hi;
    double w;
  };
  int64_t table_begin[kMaxDims];
  int64_t table_size = 0;
  for (int d = 0; d < ndim; ++d) {
    table_begin[d] = table_size;
    table_size += out.shape[d];
  }
  std::vector<Tap> table;
  try {
    table.resize(static_cast<size_t>(table_size));
  } catch (const std::exception&) {
    return Fail(error, kName, "cannot allocate the tap table (%lld entries)",
                static_cast<long long>(table_size));
  }
  int64_t in_stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    const int64_t n = in.shape[d];
    const bool identity = n == out.shape[d] && attrs.scales[d] == 1.0;
    for (int64_t o = 0; o < out.shape[d]; ++o) {
      Tap& t = table[table_begin[d] + o];
      if (identity) {
        t = {o * in_stride, o * in_stride, 0.0};
        continue;
      }
      const double x = SourceCoordinate(attrs.coordinate_mode, o, n, out.shape[d], attrs.scales[d]);
      const double x0 = std::floor(x);
      auto clamp = [n](double v) -> int64_t {
        if (!(v > 0.0)) return 0;
        return v >= static_cast<double>(n - 1) ? n - 1 : static_cast<int64_t>(v);
      };
      t = {clamp(x0) * in_stride, clamp(x0 + 1.0) * in_stride, std::isfinite(x) ? x - x0 : 0.0};
    }
    in_stride *= n;
  }
  const int last = ndim - 1;
  const int64_t row = out.shape[last];
  const int64_t rows = count / row;
  const Tap* last_taps = table.data() + table_begin[last];
  int64_t index[kMaxDims] = {};  // Output index of the current row's outer dimensions.
  // The corners of the current row's outer axes: input offset and weight.
  std::vector<std::pair<int64_t, double>> corners;
  for (int64_t r = 0; r < rows; ++r) {
    corners.assign(1, {0, 1.0});
    for (int d = 0; d < last; ++d) {
      const Tap& t = table[table_begin[d] + index[d]];
      const size_t size = corners.size();
      for (size_t i = 0; i < size; ++i) {
        if (t.w != 0.0) corners.push_back({corners[i].first + t.hi, corners[i].second * t.w});
        corners[i] = {corners[i].first + t.lo, corners[i].second * (1.0 - t.w)};
      }
    }
    float* dst_row = dst + r * row;
    for (int64_t j = 0; j < row; ++j) {
      const Tap& t = last_taps[j];
      double sum = 0.0;
      for (const auto& [offset, weight] : corners) {
        sum += weight * ((1.0 - t.w) * src[offset + t.lo] + t.w * src[offset + t.hi]);
      }
      dst_row[j] = static_cast<float>(sum);
    }
    for (int d = last - 1; d >= 0; --d) {
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
  return 0;
}

}  // namespace ferry::kernels
