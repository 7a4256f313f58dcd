// Pooling kernels (NCHW): max_pool2d, avg_pool2d, global_avg_pool2d and global_max_pool2d,
// as plain loops; large calls split their output rows (or planes) over the kernel threads.
#include <algorithm>
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

// Validated, non-negative window geometry of one pooling call.
struct PoolGeometry {
  int64_t planes;  // N * C
  int64_t h, w, oh, ow;
  int64_t kh, kw, stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
};

// Validates data [N, C, H, W] -> out [N, C, OH, OW] against the attributes and fills `g`.
int ValidatePool(const char* name, const Pool2dAttrs& attrs, DLTensor* const* args,
                 int32_t num_args, PoolGeometry* g, FerryKernelError* error) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  if (data.ndim != 4) return Fail(error, name, "data must be 4-D NCHW, got rank %d", data.ndim);
  const int64_t kMax = internal::kMaxAttrValue;
  for (int i = 0; i < 2; ++i) {
    if (attrs.pool_size[i] < 1 || attrs.pool_size[i] > kMax) {
      return Fail(error, name, "pool_size must be in [1, %lld]", static_cast<long long>(kMax));
    }
  }
  if (internal::CheckWindowAttrs(name, attrs.strides, attrs.padding, attrs.dilation, error) != 0) {
    return -1;
  }
  g->planes = data.shape[0] * data.shape[1];
  g->h = data.shape[2];
  g->w = data.shape[3];
  g->kh = attrs.pool_size[0];
  g->kw = attrs.pool_size[1];
  g->stride_h = attrs.strides[0];
  g->stride_w = attrs.strides[1];
  g->dilation_h = attrs.dilation[0];
  g->dilation_w = attrs.dilation[1];
  g->pad_top = attrs.padding[0];
  g->pad_left = attrs.padding[1];
  g->pad_bottom = attrs.padding[2];
  g->pad_right = attrs.padding[3];
  g->oh = internal::WindowCount(g->h, g->pad_top, g->pad_bottom, g->kh, g->stride_h, g->dilation_h,
                                attrs.ceil_mode);
  g->ow = internal::WindowCount(g->w, g->pad_left, g->pad_right, g->kw, g->stride_w, g->dilation_w,
                                attrs.ceil_mode);
  if (g->oh < 0 || g->ow < 0) {
    return Fail(error, name, "dilated window %lldx%lld does not fit the padded input %s",
                static_cast<long long>(g->kh), static_cast<long long>(g->kw),
                internal::FormatShape(data).text);
  }
  const int64_t expected[4] = {data.shape[0], data.shape[1], g->oh, g->ow};
  return internal::CheckShape(name, "output", *args[1], expected, 4, error);
}

// Taps [begin, end) of one window along one axis: tap t reads input index
// start + t * dilation, and exactly those taps fall inside [lo, hi).
struct TapRange {
  int64_t begin, end;
};

// The work of a pooling call for ParallelFor: output elements times window taps (the taps
// capped, so that the product cannot overflow).
int64_t PoolWork(const PoolGeometry& g) {
  return g.planes * g.oh * g.ow * std::min<int64_t>(g.kh * g.kw, 1024);
}

TapRange Taps(int64_t start, int64_t kernel, int64_t dilation, int64_t lo, int64_t hi) {
  int64_t begin = 0;
  if (start < lo) begin = (lo - start + dilation - 1) / dilation;
  int64_t end = 0;
  if (hi > start) end = (hi - start + dilation - 1) / dilation;
  if (end > kernel) end = kernel;
  if (begin > end) begin = end;
  return {begin, end};
}

// Runs `reduce(plane, ih_taps, iw_taps, ih0, iw0)` for every output position; the taps
// cover only real (unpadded) input positions.
// Returns false when the per-call column table cannot be allocated.
template <typename Reduce>
bool ForEachWindow(const PoolGeometry& g, const float* in, float* out, Reduce reduce) {
  // The column taps depend only on the output column: compute them once per call.
  std::vector<TapRange> col_taps;
  try {
    col_taps.resize(static_cast<size_t>(g.ow));
  } catch (const std::exception&) {
    return false;
  }
  for (int64_t ow = 0; ow < g.ow; ++ow) {
    col_taps[ow] = Taps(ow * g.stride_w - g.pad_left, g.kw, g.dilation_w, 0, g.w);
  }
  // One output row per (plane, oh) pair.
  internal::ParallelFor(g.planes * g.oh, PoolWork(g), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t p = r / g.oh, oh = r % g.oh;
      const float* plane = in + p * g.h * g.w;
      float* dst = out + r * g.ow;
      const int64_t ih0 = oh * g.stride_h - g.pad_top;
      const TapRange rows = Taps(ih0, g.kh, g.dilation_h, 0, g.h);
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        dst[ow] = reduce(plane, rows, col_taps[ow], ih0, ow * g.stride_w - g.pad_left);
      }
    }
  });
  return true;
}

}  // namespace

// max(best, v) with NaN propagating, as one expression the compiler can vectorise.
inline float NanMax(float best, float v) { return (v > best || v != v) ? v : best; }

// A window with no real input position (possible with large padding or ceil_mode) yields the
// lowest finite float, as TVM's pad value for max pooling does. Row by row: every kernel row
// and column updates a whole output row, and the columns whose windows lie inside the image
// take a branch-free (vectorisable) loop.
int MaxPool2d(const Pool2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  PoolGeometry g{};
  if (ValidatePool("max_pool2d", attrs, args, num_args, &g, error) != 0) return -1;
  if (internal::NumElements(*args[1]) == 0) return 0;
  std::vector<TapRange> col_taps;
  try {
    col_taps.resize(static_cast<size_t>(g.ow));
  } catch (const std::exception&) {
    return Fail(error, "max_pool2d", "cannot allocate the column table");
  }
  // Output columns [inner_begin, inner_end) have all kw taps inside the image.
  int64_t inner_begin = g.ow, inner_end = 0;
  for (int64_t ow = 0; ow < g.ow; ++ow) {
    col_taps[ow] = Taps(ow * g.stride_w - g.pad_left, g.kw, g.dilation_w, 0, g.w);
    if (col_taps[ow].begin == 0 && col_taps[ow].end == g.kw) {
      inner_begin = std::min(inner_begin, ow);
      inner_end = ow + 1;
    }
  }
  if (inner_end < inner_begin) inner_end = inner_begin;
  const float* in = DataAs<const float>(*args[0]);
  float* out = DataAs<float>(*args[1]);
  // One output row per (plane, oh) pair.
  internal::ParallelFor(g.planes * g.oh, PoolWork(g), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t p = row / g.oh, oh = row % g.oh;
      const float* plane = in + p * g.h * g.w;
      float* dst = out + row * g.ow;
      for (int64_t ow = 0; ow < g.ow; ++ow) dst[ow] = std::numeric_limits<float>::lowest();
      const int64_t ih0 = oh * g.stride_h - g.pad_top;
      const TapRange rows = Taps(ih0, g.kh, g.dilation_h, 0, g.h);
      for (int64_t r = rows.begin; r < rows.end; ++r) {
        const float* src = plane + (ih0 + r * g.dilation_h) * g.w;
        for (int64_t ow = 0; ow < inner_begin; ++ow) {
          for (int64_t c = col_taps[ow].begin; c < col_taps[ow].end; ++c) {
            dst[ow] = NanMax(dst[ow], src[ow * g.stride_w - g.pad_left + c * g.dilation_w]);
          }
        }
        for (int64_t c = 0; c < g.kw; ++c) {
          const int64_t offset = c * g.dilation_w - g.pad_left;
          for (int64_t ow = inner_begin; ow < inner_end; ++ow) {
            dst[ow] = NanMax(dst[ow], src[ow * g.stride_w + offset]);
          }
        }
        for (int64_t ow = inner_end; ow < g.ow; ++ow) {
          for (int64_t c = col_taps[ow].begin; c < col_taps[ow].end; ++c) {
            dst[ow] = NanMax(dst[ow], src[ow * g.stride_w - g.pad_left + c * g.dilation_w]);
          }
        }
      }
    }
  });
  return 0;
}

// With count_include_pad the divisor counts the taps inside the padded input (a ceil_mode
// window that runs past the bottom/right padding is clipped to it, as in TVM and PyTorch);
// otherwise it counts the real input positions. A window with a zero divisor yields 0.
int AvgPool2d(const Pool2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  PoolGeometry g{};
  if (ValidatePool("avg_pool2d", attrs, args, num_args, &g, error) != 0) return -1;
  if (internal::NumElements(*args[1]) == 0) return 0;
  const bool include_pad = attrs.count_include_pad;
  const bool done = ForEachWindow(
      g, DataAs<const float>(*args[0]), DataAs<float>(*args[1]),
      [&g, include_pad](const float* plane, TapRange rows, TapRange cols, int64_t ih0,
                        int64_t iw0) {
        double sum = 0.0;
        for (int64_t r = rows.begin; r < rows.end; ++r) {
          const int64_t base = (ih0 + r * g.dilation_h) * g.w + iw0;
          for (int64_t c = cols.begin; c < cols.end; ++c) {
            sum += plane[base + c * g.dilation_w];
          }
        }
        int64_t count;
        if (include_pad) {
          const TapRange pr = Taps(ih0, g.kh, g.dilation_h, -g.pad_top, g.h + g.pad_bottom);
          const TapRange pc = Taps(iw0, g.kw, g.dilation_w, -g.pad_left, g.w + g.pad_right);
          count = (pr.end - pr.begin) * (pc.end - pc.begin);
        } else {
          count = (rows.end - rows.begin) * (cols.end - cols.begin);
        }
        return count == 0 ? 0.0f : static_cast<float>(sum / count);
      });
  return done ? 0 : Fail(error, "avg_pool2d", "cannot allocate the column table");
}

namespace {

// Validates data [N, C, H, W] -> out [N, C, 1, 1] (float32) and stores reduce(plane, H * W)
// for every plane. An empty plane is an error unless `allow_empty`.
template <typename Reduce>
int GlobalPool(const char* name, bool allow_empty, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error, Reduce reduce) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  if (data.ndim != 4) return Fail(error, name, "data must be 4-D NCHW, got rank %d", data.ndim);
  const int64_t expected[4] = {data.shape[0], data.shape[1], 1, 1};
  if (internal::CheckShape(name, "output", *args[1], expected, 4, error) != 0) return -1;
  const int64_t planes = data.shape[0] * data.shape[1];
  const int64_t size = data.shape[2] * data.shape[3];
  if (size == 0 && !allow_empty && planes > 0) {
    return Fail(error, name, "data shape %s has an empty spatial plane",
                internal::FormatShape(data).text);
  }
  const float* in = DataAs<const float>(data);
  float* out = DataAs<float>(*args[1]);
  internal::ParallelFor(planes, planes * size, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) out[p] = reduce(in + p * size, size);
  });
  return 0;
}

}  // namespace

// An empty spatial plane (H * W == 0) yields 0.
int GlobalAvgPool2d(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return GlobalPool("global_avg_pool2d", true, args, num_args, error,
                    [](const float* plane, int64_t size) {
                      double sum = 0.0;
                      for (int64_t i = 0; i < size; ++i) sum += plane[i];
                      return size == 0 ? 0.0f : static_cast<float>(sum / size);
                    });
}

// NaN propagates, as in max_pool2d. An empty spatial plane (H * W == 0) is an error.
int GlobalMaxPool2d(DLTensor* const* args, int32_t num_args, FerryKernelError* error) {
  return GlobalPool("global_max_pool2d", false, args, num_args, error,
                    [](const float* plane, int64_t size) {
                      float best = plane[0];
                      for (int64_t i = 1; i < size; ++i) {
                        if (plane[i] > best || plane[i] != plane[i]) best = plane[i];
                      }
                      return best;
                    });
}

}  // namespace ferry::kernels
