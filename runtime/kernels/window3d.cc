// conv3d, max_pool3d and avg_pool3d (NCDHW): the 2-D kernels' rules with a depth axis, as
// plain loops over the three spatial axes (conv3d through im2col + GEMM, gemm.h).
#include <string.h>

#include <limits>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Validated geometry of one 3-D window operator: input and output sizes, kernel, strides,
// dilation and the leading padding, per spatial axis (depth, height, width).
struct Geometry3d {
  int64_t in[3], out[3], kernel[3], stride[3], dilation[3], pad_before[3], pad_after[3];
};

// Fills g's output sizes from the rest. Errors: -1 when a window does not fit.
int OutputSizes(const char* name, Geometry3d* g, bool ceil_mode, const DLTensor& data,
                FerryKernelError* error) {
  for (int a = 0; a < 3; ++a) {
    g->out[a] = internal::WindowCount(g->in[a], g->pad_before[a], g->pad_after[a], g->kernel[a],
                                      g->stride[a], g->dilation[a], ceil_mode);
    if (g->out[a] < 0) {
      return Fail(error, name, "window does not fit the padded input %s",
                  internal::FormatShape(data).text);
    }
  }
  return 0;
}

void SetWindow(Geometry3d* g, const DLTensor& data, const int64_t* kernel, const int64_t* strides,
               const int64_t* padding, const int64_t* dilation) {
  for (int a = 0; a < 3; ++a) {
    g->in[a] = data.shape[2 + a];
    g->kernel[a] = kernel[a];
    g->stride[a] = strides[a];
    g->dilation[a] = dilation[a];
    g->pad_before[a] = padding[a];
    g->pad_after[a] = padding[3 + a];
  }
}

// Input index of output index o and tap t along axis a (may lie in the padding).
int64_t InputIndex(const Geometry3d& g, int a, int64_t o, int64_t t) {
  return o * g.stride[a] - g.pad_before[a] + t * g.dilation[a];
}

// Fills col [channels * KD * KH * KW, OD * OH * OW] from `in` [channels, D, H, W]; padded
// taps are zero.
void Im2Col3d(const Geometry3d& g, int64_t channels, const float* in, float* col) {
  const int64_t spatial = g.out[0] * g.out[1] * g.out[2];
  int64_t row = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const float* volume = in + c * g.in[0] * g.in[1] * g.in[2];
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++row) {
          float* dst = col + row * spatial;
          for (int64_t od = 0; od < g.out[0]; ++od) {
            const int64_t id = InputIndex(g, 0, od, kd);
            for (int64_t oh = 0; oh < g.out[1]; ++oh) {
              const int64_t ih = InputIndex(g, 1, oh, kh);
              const bool row_inside = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
              const float* src = volume + (id * g.in[1] + ih) * g.in[2];
              for (int64_t ow = 0; ow < g.out[2]; ++ow) {
                const int64_t iw = InputIndex(g, 2, ow, kw);
                *dst++ = row_inside && iw >= 0 && iw < g.in[2] ? src[iw] : 0.0f;
              }
            }
          }
        }
      }
    }
  }
}

// Runs reduce(value, count_inside) over every window of every plane and stores finish(acc,
// window) per output; `window` counts the taps inside the padded input.
template <typename Init, typename Reduce, typename Finish>
void ForEachWindow3d(const Geometry3d& g, int64_t planes, const float* in, float* out, Init init,
                     Reduce reduce, Finish finish) {
  for (int64_t p = 0; p < planes; ++p) {
    const float* volume = in + p * g.in[0] * g.in[1] * g.in[2];
    for (int64_t od = 0; od < g.out[0]; ++od) {
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          auto acc = init();
          int64_t inside = 0, padded = 0;
          for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
            const int64_t id = InputIndex(g, 0, od, kd);
            if (id >= g.in[0] + g.pad_after[0]) break;
            for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
              const int64_t ih = InputIndex(g, 1, oh, kh);
              if (ih >= g.in[1] + g.pad_after[1]) break;
              for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                const int64_t iw = InputIndex(g, 2, ow, kw);
                if (iw >= g.in[2] + g.pad_after[2]) break;
                ++padded;
                if (id < 0 || ih < 0 || iw < 0 || id >= g.in[0] || ih >= g.in[1] ||
                    iw >= g.in[2]) {
                  continue;
                }
                ++inside;
                reduce(acc, volume[(id * g.in[1] + ih) * g.in[2] + iw]);
              }
            }
          }
          *out++ = finish(acc, inside, padded);
        }
      }
    }
  }
}

int ValidatePool3d(const char* name, const Pool3dAttrs& attrs, DLTensor* const* args,
                   int32_t num_args, Geometry3d* g, FerryKernelError* error) {
  if (internal::CheckArgs(name, args, num_args, 2, 2, error) != 0 ||
      internal::CheckFloat32(name, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  if (data.ndim != 5) return Fail(error, name, "data must be 5-D NCDHW, got rank %d", data.ndim);
  for (int64_t k : attrs.pool_size) {
    if (k < 1 || k > internal::kMaxAttrValue) return Fail(error, name, "pool_size must be positive");
  }
  if (internal::CheckWindowAttrs(name, attrs.strides, attrs.padding, attrs.dilation, error, 3) != 0) {
    return -1;
  }
  SetWindow(g, data, attrs.pool_size, attrs.strides, attrs.padding, attrs.dilation);
  if (OutputSizes(name, g, attrs.ceil_mode, data, error) != 0) return -1;
  const int64_t expected[5] = {data.shape[0], data.shape[1], g->out[0], g->out[1], g->out[2]};
  return internal::CheckShape(name, "output", *args[1], expected, 5, error);
}

}  // namespace

int Conv3d(const Conv3dAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error) {
  constexpr const char* kName = "conv3d";
  if (internal::CheckArgs(kName, args, num_args, 3, 3, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  const DLTensor& weight = *args[1];
  if (data.ndim != 5 || weight.ndim != 5) {
    return Fail(error, kName, "data and weight must be 5-D, got ranks %d and %d", data.ndim,
                weight.ndim);
  }
  if (internal::CheckWindowAttrs(kName, attrs.strides, attrs.padding, attrs.dilation, error, 3) !=
      0) {
    return -1;
  }
  const int64_t groups = attrs.groups, c = data.shape[1], o = weight.shape[0];
  if (groups < 1 || groups > internal::kMaxAttrValue || c % groups != 0 || o % groups != 0 ||
      weight.shape[1] != c / groups) {
    return Fail(error, kName, "weight %s does not match data %s with groups %lld",
                internal::FormatShape(weight).text, internal::FormatShape(data).text,
                static_cast<long long>(groups));
  }
  Geometry3d g{};
  SetWindow(&g, data, weight.shape + 2, attrs.strides, attrs.padding, attrs.dilation);
  if (g.kernel[0] == 0 || g.kernel[1] == 0 || g.kernel[2] == 0) {
    return Fail(error, kName, "weight %s has an empty kernel", internal::FormatShape(weight).text);
  }
  if (OutputSizes(kName, &g, false, data, error) != 0) return -1;
  const int64_t n = data.shape[0];
  const int64_t expected[5] = {n, o, g.out[0], g.out[1], g.out[2]};
  if (internal::CheckShape(kName, "output", *args[2], expected, 5, error) != 0) return -1;
  const int64_t group_c = c / groups, group_o = o / groups;
  const int64_t k = group_c * g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t spatial = g.out[0] * g.out[1] * g.out[2];
  if (!internal::SgemmFits(group_o, spatial, k)) {
    return Fail(error, kName, "dimensions exceed the BLAS integer range");
  }
  float* out = DataAs<float>(*args[2]);
  if (n * o * spatial == 0) return 0;
  if (k == 0) {
    memset(out, 0, sizeof(float) * n * o * spatial);
    return 0;
  }
  int64_t col_size;
  if (__builtin_mul_overflow(k, spatial, &col_size)) {
    return Fail(error, kName, "im2col buffer size overflows");
  }
  float* col = internal::ScratchFloats(col_size);
  if (col == nullptr) {
    return Fail(error, kName, "cannot allocate the im2col buffer (%lld floats)",
                static_cast<long long>(col_size));
  }
  const float* in = DataAs<const float>(data);
  const float* w = DataAs<const float>(weight);
  const int64_t volume = g.in[0] * g.in[1] * g.in[2];
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t grp = 0; grp < groups; ++grp) {
      Im2Col3d(g, group_c, in + (b * c + grp * group_c) * volume, col);
      if (internal::Sgemm(kName, false, false, group_o, spatial, k, w + grp * group_o * k, k, col,
                          spatial, out + (b * o + grp * group_o) * spatial, spatial,
                          error) != 0) {
        return -1;
      }
    }
  }
  return 0;
}

// A window with no real input position yields the lowest finite float (as max_pool2d).
int MaxPool3d(const Pool3dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  Geometry3d g{};
  if (ValidatePool3d("max_pool3d", attrs, args, num_args, &g, error) != 0) return -1;
  ForEachWindow3d(
      g, args[0]->shape[0] * args[0]->shape[1], DataAs<const float>(*args[0]),
      DataAs<float>(*args[1]), [] { return std::numeric_limits<float>::lowest(); },
      [](float& best, float v) {
        if (v > best || v != v) best = v;  // NaN propagates.
      },
      [](float best, int64_t, int64_t) { return best; });
  return 0;
}

// Divides by the taps inside the padded input with count_include_pad, else by the real
// ones; a window with a zero divisor yields 0 (as avg_pool2d).
int AvgPool3d(const Pool3dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error) {
  Geometry3d g{};
  if (ValidatePool3d("avg_pool3d", attrs, args, num_args, &g, error) != 0) return -1;
  const bool include_pad = attrs.count_include_pad;
  ForEachWindow3d(
      g, args[0]->shape[0] * args[0]->shape[1], DataAs<const float>(*args[0]),
      DataAs<float>(*args[1]), [] { return 0.0; }, [](double& sum, float v) { sum += v; },
      [include_pad](double sum, int64_t inside, int64_t padded) {
        const int64_t count = include_pad ? padded : inside;
        return count == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(count));
      });
  return 0;
}

}  // namespace ferry::kernels
