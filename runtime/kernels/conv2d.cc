// conv2d (NCHW) as im2col + GEMM (gemm.h) per image and group.
#include <string.h>

#include <utility>


#include "runtime/kernels/gemm.h"
#include "runtime/kernels/epilogue.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

// Everything the compute loops need, with validated, non-negative values.
struct ConvGeometry {
  int64_t n, c, h, w;     // data
  int64_t o, kh, kw;      // weight (channels per group is c / groups)
  int64_t oh, ow;         // output
  int64_t groups;
  int64_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
};

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The input column of output column ow is ow * stride_w + col_base; returns [begin, end):
// the output columns whose input column lies inside the image.
std::pair<int64_t, int64_t> InsideColumns(const ConvGeometry& g, int64_t col_base) {
  int64_t begin = col_base >= 0 ? 0 : CeilDiv(-col_base, g.stride_w);
  int64_t end = g.w - col_base <= 0 ? 0 : CeilDiv(g.w - col_base, g.stride_w);
  if (begin > g.ow) begin = g.ow;
  if (end > g.ow) end = g.ow;
  if (end < begin) end = begin;
  return {begin, end};
}

// Fills col [channels * kh * kw, oh * ow] from `in` [channels, h, w]; padded taps are zero.
void Im2Col(const ConvGeometry& g, int64_t channels, const float* in, float* col) {
  const int64_t spatial = g.oh * g.ow;
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = in + c * g.h * g.w;
    for (int64_t kh = 0; kh < g.kh; ++kh) {
      for (int64_t kw = 0; kw < g.kw; ++kw) {
        float* row = col + ((c * g.kh + kh) * g.kw + kw) * spatial;
        const int64_t col_base = kw * g.dilation_w - g.pad_left;
        const auto [ow_begin, ow_end] = InsideColumns(g, col_base);
        for (int64_t oh = 0; oh < g.oh; ++oh) {
          float* dst = row + oh * g.ow;
          const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          if (ih < 0 || ih >= g.h) {
            memset(dst, 0, sizeof(float) * g.ow);
            continue;
          }
          const float* src = plane + ih * g.w;
          for (int64_t ow = 0; ow < ow_begin; ++ow) dst[ow] = 0.0f;
          if (g.stride_w == 1) {
            if (ow_end > ow_begin) {
              memcpy(dst + ow_begin, src + ow_begin + col_base,
                     sizeof(float) * (ow_end - ow_begin));
            }
          } else {
            for (int64_t ow = ow_begin; ow < ow_end; ++ow) {
              dst[ow] = src[ow * g.stride_w + col_base];
            }
          }
          for (int64_t ow = ow_end; ow < g.ow; ++ow) dst[ow] = 0.0f;
        }
      }
    }
  }
}

// Validates arguments and attributes and fills `g`.
int Validate(const Conv2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
             ConvGeometry* g, FerryKernelError* error) {
  constexpr const char* kName = "conv2d";
  const int32_t extra = internal::EpilogueArgCount(attrs.epilogue);
  if (internal::CheckArgs(kName, args, num_args, 3 + extra, 3 + extra, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  const DLTensor& weight = *args[1];
  if (data.ndim != 4) return Fail(error, kName, "data must be 4-D NCHW, got rank %d", data.ndim);
  if (weight.ndim != 4) {
    return Fail(error, kName, "weight must be 4-D OIHW, got rank %d", weight.ndim);
  }
  if (internal::CheckWindowAttrs(kName, attrs.strides, attrs.padding, attrs.dilation, error) != 0) {
    return -1;
  }
  const int64_t kMax = internal::kMaxAttrValue;
  if (attrs.groups < 1 || attrs.groups > kMax) {
    return Fail(error, kName, "groups %lld must be positive", static_cast<long long>(attrs.groups));
  }
  const DLTensor& out = *args[num_args - 1];
  g->n = data.shape[0];
  g->c = data.shape[1];
  g->h = data.shape[2];
  g->w = data.shape[3];
  g->o = weight.shape[0];
  g->kh = weight.shape[2];
  g->kw = weight.shape[3];
  g->groups = attrs.groups;
  g->stride_h = attrs.strides[0];
  g->stride_w = attrs.strides[1];
  g->dilation_h = attrs.dilation[0];
  g->dilation_w = attrs.dilation[1];
  g->pad_top = attrs.padding[0];
  g->pad_left = attrs.padding[1];
  const long long groups = static_cast<long long>(g->groups);
  if (g->c % g->groups != 0 || weight.shape[1] != g->c / g->groups) {
    return Fail(error, kName, "weight channels %lld do not match input channels %lld / groups %lld",
                static_cast<long long>(weight.shape[1]), static_cast<long long>(g->c), groups);
  }
  if (g->o % g->groups != 0) {
    return Fail(error, kName, "output channels %lld are not divisible by groups %lld",
                static_cast<long long>(g->o), groups);
  }
  if (g->kh == 0 || g->kw == 0) {
    return Fail(error, kName, "weight shape %s has an empty kernel",
                internal::FormatShape(weight).text);
  }
  g->oh = internal::WindowCount(g->h, attrs.padding[0], attrs.padding[2], g->kh,
                                g->stride_h, g->dilation_h, false);
  g->ow = internal::WindowCount(g->w, attrs.padding[1], attrs.padding[3], g->kw,
                                g->stride_w, g->dilation_w, false);
  if (g->oh < 0 || g->ow < 0) {
    return Fail(error, kName, "dilated kernel %lldx%lld does not fit the padded input %s",
                static_cast<long long>(g->kh), static_cast<long long>(g->kw),
                internal::FormatShape(data).text);
  }
  const int64_t expected[4] = {g->n, g->o, g->oh, g->ow};
  if (internal::CheckShape(kName, "output", out, expected, 4, error) != 0 ||
      internal::CheckEpilogue(kName, attrs.epilogue, args + 2, g->o, error) != 0) {
    return -1;
  }
  const int64_t k = weight.shape[1] * g->kh * g->kw;
  if (!internal::SgemmFits(g->o, g->oh * g->ow, k)) {
    return Fail(error, kName, "dimensions exceed the BLAS integer range");
  }
  return 0;
}

// Depthwise convolution (one input channel per group, one output per group) as direct
// loops: an im2col GEMM with M = 1 would spend its time packing. Accumulates tap by tap into
// `out`, which it zeroes first.
void Depthwise(const ConvGeometry& g, const float* data, const float* weight, float* out) {
  const int64_t spatial = g.oh * g.ow;
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t c = 0; c < g.c; ++c) {
      const float* plane = data + (n * g.c + c) * g.h * g.w;
      const float* taps = weight + c * g.kh * g.kw;
      float* dst = out + (n * g.o + c) * spatial;
      memset(dst, 0, sizeof(float) * spatial);
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          const float tap = taps[kh * g.kw + kw];
          const int64_t col_base = kw * g.dilation_w - g.pad_left;
          const auto [ow_begin, ow_end] = InsideColumns(g, col_base);
          for (int64_t oh = 0; oh < g.oh; ++oh) {
            const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
            if (ih < 0 || ih >= g.h) continue;
            const float* src = plane + ih * g.w;
            float* row = dst + oh * g.ow;
            if (g.stride_w == 1) {
              for (int64_t ow = ow_begin; ow < ow_end; ++ow) row[ow] += tap * src[ow + col_base];
            } else {
              for (int64_t ow = ow_begin; ow < ow_end; ++ow) {
                row[ow] += tap * src[ow * g.stride_w + col_base];
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace

int Conv2d(const Conv2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error) {
  ConvGeometry g{};
  if (Validate(attrs, args, num_args, &g, error) != 0) return -1;
  float* out = DataAs<float>(*args[num_args - 1]);
  if (internal::NumElements(*args[num_args - 1]) == 0) return 0;
  const float* data = DataAs<const float>(*args[0]);
  const float* weight = DataAs<const float>(*args[1]);
  const int64_t group_c = g.c / g.groups, group_o = g.o / g.groups;
  const int64_t k = group_c * g.kh * g.kw, spatial = g.oh * g.ow;
  if (k == 0) {
    memset(out, 0, sizeof(float) * g.n * g.o * spatial);
    internal::ApplyEpilogue(attrs.epilogue, args + 2, out, g.n, g.o, spatial);
    return 0;
  }
  if (g.groups == g.c && g.o == g.c) {
    Depthwise(g, data, weight, out);
    internal::ApplyEpilogue(attrs.epilogue, args + 2, out, g.n, g.o, spatial);
    return 0;
  }
  // A 1x1 kernel with unit strides and no padding reads the image as its own column matrix.
  const bool direct = g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 &&
                      g.oh == g.h && g.ow == g.w;
  float* col = nullptr;
  if (!direct) {
    int64_t col_size;
    if (__builtin_mul_overflow(k, spatial, &col_size)) {
      return Fail(error, "conv2d", "im2col buffer size overflows");
    }
    col = internal::ScratchFloats(col_size);
    if (col == nullptr) {
      return Fail(error, "conv2d", "cannot allocate the im2col buffer (%lld floats)",
                  static_cast<long long>(col_size));
    }
  }
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const float* in = data + (n * g.c + grp * group_c) * g.h * g.w;
      const float* b = in;
      if (!direct) {
        Im2Col(g, group_c, in, col);
        b = col;
      }
      if (internal::Sgemm("conv2d", false, false, group_o, spatial, k,
                          weight + grp * group_o * k, k, b, spatial,
                          out + (n * g.o + grp * group_o) * spatial, spatial, error) != 0) {
        return -1;
      }
    }
    internal::ApplyEpilogue(attrs.epilogue, args + 2, out + n * g.o * spatial, 1, g.o, spatial);
  }
  return 0;
}

}  // namespace ferry::kernels
