// resize_nearest, resize_linear and resize_cubic: ONNX Resize with modes "nearest",
// "linear" and "cubic", any rank.
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

namespace {

// An interpolating resize (linear: 2 taps per axis, cubic: 4), as ONNX's reference computes
// it: for source coordinate x, with f = floor(x) and ratio = x - f (an integer x counts as
// f = x - 1, ratio = 1, so the left neighbour is preferred), the taps read input indices
// f - taps/2 + 1 ... f + taps/2 clamped to the edges (edge padding), weighted by
// `weights(ratio)`; with `exclude_outside` taps outside the input get weight 0 and the rest
// are renormalised. Weights and sums are in double. Axes that keep their size with scale 1
// read straight through.
template <int kTaps, typename Weights>
int Interpolate(const char* name, int64_t ndim_attr, const double* scales, ResizeCoordinateMode mode,
                bool exclude_outside, Weights weights, DLTensor* const* args, int32_t num_args,
                FerryKernelError* error) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& in = *args[0];
  const DLTensor& out = *args[1];
  if (mode == ResizeCoordinateMode::kTfHalfPixelForNn) {
    return Fail(error, name, "tf_half_pixel_for_nn is a nearest-neighbour mode");
  }
  if (CheckGeometry(name, ndim_attr, scales, mode, in, out, error) != 0) return -1;
  const int64_t count = internal::NumElements(out);
  if (count == 0) return 0;
  const float* src = DataAs<const float>(in);
  float* dst = DataAs<float>(out);
  const int ndim = in.ndim;
  if (ndim == 0) {
    dst[0] = src[0];
    return 0;
  }
  // Per axis and output index: the input offsets of the taps and their weights.
  struct Taps {
    int64_t offset[kTaps];
    double weight[kTaps];
  };
  int64_t table_begin[kMaxDims];
  int64_t table_size = 0;
  for (int d = 0; d < ndim; ++d) {
    table_begin[d] = table_size;
    table_size += out.shape[d];
  }
  std::vector<Taps> table;
  try {
    table.resize(static_cast<size_t>(table_size));
  } catch (const std::exception&) {
    return Fail(error, name, "cannot allocate the tap table (%lld entries)",
                static_cast<long long>(table_size));
  }
  int64_t in_stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    const int64_t n = in.shape[d];
    const bool identity = n == out.shape[d] && scales[d] == 1.0;
    for (int64_t o = 0; o < out.shape[d]; ++o) {
      Taps& t = table[table_begin[d] + o];
      if (identity) {
        for (int k = 0; k < kTaps; ++k) {
          t.offset[k] = o * in_stride;
          t.weight[k] = k == 0 ? 1.0 : 0.0;
        }
        continue;
      }
      double x = SourceCoordinate(mode, o, n, out.shape[d], scales[d]);
      if (!std::isfinite(x)) x = 0.0;
      double f = std::floor(x), ratio = x - f;
      if (ratio == 0.0) {
        f -= 1.0;
        ratio = 1.0;
      }
      double w[kTaps];
      weights(ratio, w);
      double total = 0.0;
      for (int k = 0; k < kTaps; ++k) {
        const double index = f - (kTaps / 2 - 1) + k;
        if (exclude_outside && (index < 0.0 || index > static_cast<double>(n - 1))) w[k] = 0.0;
        total += w[k];
        const int64_t clamped = !(index > 0.0) ? 0
                                : index >= static_cast<double>(n - 1) ? n - 1
                                                                      : static_cast<int64_t>(index);
        t.offset[k] = clamped * in_stride;
      }
      for (int k = 0; k < kTaps; ++k) {
        t.weight[k] = exclude_outside && total != 0.0 ? w[k] / total : w[k];
      }
    }
    in_stride *= n;
  }
  const int last = ndim - 1;
  const int64_t row = out.shape[last];
  const int64_t rows = count / row;
  const Taps* last_taps = table.data() + table_begin[last];
  int64_t index[kMaxDims] = {};  // Output index of the current row's outer dimensions.
  // The taps of the current row's outer axes combined: input offset and weight.
  std::vector<std::pair<int64_t, double>> corners, next;
  for (int64_t r = 0; r < rows; ++r) {
    corners.assign(1, {0, 1.0});
    for (int d = 0; d < last; ++d) {
      const Taps& t = table[table_begin[d] + index[d]];
      next.clear();
      for (const auto& [offset, weight] : corners) {
        for (int k = 0; k < kTaps; ++k) {
          if (t.weight[k] != 0.0) next.push_back({offset + t.offset[k], weight * t.weight[k]});
        }
      }
      corners.swap(next);
    }
    float* dst_row = dst + r * row;
    for (int64_t j = 0; j < row; ++j) {
      const Taps& t = last_taps[j];
      double sum = 0.0;
      for (const auto& [offset, weight] : corners) {
        double inner = 0.0;
        for (int k = 0; k < kTaps; ++k) inner += t.weight[k] * src[offset + t.offset[k]];
        sum += weight * inner;
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

}  // namespace

// out must not overlap in.
int ResizeLinear(const ResizeLinearAttrs& attrs, DLTensor* const* args, int32_t num_args,
                 FerryKernelError* error) {
  return Interpolate<2>(
      "resize_linear", attrs.ndim, attrs.scales, attrs.coordinate_mode, false,
      [](double ratio, double* w) {
        w[0] = 1.0 - ratio;
        w[1] = ratio;
      },
      args, num_args, error);
}

// out must not overlap in.
int ResizeCubic(const ResizeCubicAttrs& attrs, DLTensor* const* args, int32_t num_args,
                FerryKernelError* error) {
  const double a = attrs.cubic_coeff_a;
  if (!std::isfinite(a)) return Fail(error, "resize_cubic", "cubic_coeff_a must be finite");
  return Interpolate<4>(
      "resize_cubic", attrs.ndim, attrs.scales, attrs.coordinate_mode, attrs.exclude_outside,
      [a](double r, double* w) {
        // Keys' cubic convolution with parameter A, as ONNX's reference writes it.
        const double s = 1.0 - r;
        w[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
        w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
        w[2] = ((a + 2) * s - (a + 3)) * s * s + 1;
        w[3] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
      },
      args, num_args, error);
}

}  // namespace ferry::kernels
