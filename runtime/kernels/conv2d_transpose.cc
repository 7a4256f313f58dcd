// conv2d_transpose (NCHW), the gradient of conv2d: a GEMM (gemm.h) of the weight (transposed)
// with each image's group into a column matrix, then col2im accumulation into the output.
#include <string.h>


#include "runtime/kernels/gemm.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/kernels.h"

namespace ferry::kernels {
namespace {

using internal::DataAs;
using internal::Fail;

constexpr const char* kName = "conv2d_transpose";

// Everything the compute loops need, with validated, non-negative values.
struct TransposeGeometry {
  int64_t n, c, h, w;  // data
  int64_t o, kh, kw;   // output channels (weight.shape[1] * groups) and kernel size
  int64_t oh, ow;      // output
  int64_t groups;
  int64_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
};

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// (in - 1) * stride - pad_before - pad_after + dilation * (kernel - 1) + output_padding + 1,
// or -1 on overflow or when it is negative. Arguments are validated attributes, in >= 0 and
// kernel >= 1.
int64_t OutputSize(int64_t in, int64_t stride, int64_t pad_before, int64_t pad_after,
                   int64_t dilation, int64_t kernel, int64_t output_padding) {
  int64_t size, extent;
  if (__builtin_mul_overflow(in - 1, stride, &size) ||
      __builtin_mul_overflow(dilation, kernel - 1, &extent) ||
      __builtin_add_overflow(size, extent, &size) ||
      __builtin_add_overflow(size, output_padding + 1 - pad_before - pad_after, &size)) {
    return -1;
  }
  return size < 0 ? -1 : size;
}

// Adds col [channels * kh * kw, h * w] into `out` [channels, oh, ow]: column (ih, iw) of row
// (c, kh, kw) lands on output (ih * stride_h - pad_top + kh * dilation_h, same for w) when
// that lies inside the output.
void Col2Im(const TransposeGeometry& g, int64_t channels, const float* col, float* out) {
  const int64_t spatial = g.h * g.w;
  for (int64_t c = 0; c < channels; ++c) {
    float* plane = out + c * g.oh * g.ow;
    for (int64_t kh = 0; kh < g.kh; ++kh) {
      for (int64_t kw = 0; kw < g.kw; ++kw) {
        const float* row = col + ((c * g.kh + kh) * g.kw + kw) * spatial;
        // Output column of input column iw is iw * stride_w + col_base; [iw_begin, iw_end)
        // are the input columns whose output column lies inside the output.
        const int64_t col_base = kw * g.dilation_w - g.pad_left;
        int64_t iw_begin = col_base >= 0 ? 0 : CeilDiv(-col_base, g.stride_w);
        int64_t iw_end = g.ow - col_base <= 0 ? 0 : CeilDiv(g.ow - col_base, g.stride_w);
        if (iw_begin > g.w) iw_begin = g.w;
        if (iw_end > g.w) iw_end = g.w;
        for (int64_t ih = 0; ih < g.h; ++ih) {
          const int64_t oh = ih * g.stride_h - g.pad_top + kh * g.dilation_h;
          if (oh < 0 || oh >= g.oh) continue;
          const float* src = row + ih * g.w;
          float* dst = plane + oh * g.ow;
          for (int64_t iw = iw_begin; iw < iw_end; ++iw) dst[iw * g.stride_w + col_base] += src[iw];
        }
      }
    }
  }
}

// Validates arguments and attributes and fills `g`.
int Validate(const Conv2dTransposeAttrs& attrs, DLTensor* const* args, int32_t num_args,
             TransposeGeometry* g, FerryKernelError* error) {
  if (internal::CheckArgs(kName, args, num_args, 3, 3, error) != 0 ||
      internal::CheckFloat32(kName, args, num_args, error) != 0) {
    return -1;
  }
  const DLTensor& data = *args[0];
  const DLTensor& weight = *args[1];
  if (data.ndim != 4) return Fail(error, kName, "data must be 4-D NCHW, got rank %d", data.ndim);
  if (weight.ndim != 4) {
    return Fail(error, kName, "weight must be 4-D IOHW, got rank %d", weight.ndim);
  }
  if (internal::CheckWindowAttrs(kName, attrs.strides, attrs.padding, attrs.dilation, error) != 0) {
    return -1;
  }
  const int64_t kMax = internal::kMaxAttrValue;
  for (int i = 0; i < 2; ++i) {
    if (attrs.output_padding[i] < 0 || attrs.output_padding[i] > kMax) {
      return Fail(error, kName, "output_padding must be in [0, %lld]",
                  static_cast<long long>(kMax));
    }
  }
  if (attrs.groups < 1 || attrs.groups > kMax) {
    return Fail(error, kName, "groups %lld must be positive", static_cast<long long>(attrs.groups));
  }
  g->n = data.shape[0];
  g->c = data.shape[1];
  g->h = data.shape[2];
  g->w = data.shape[3];
  g->kh = weight.shape[2];
  g->kw = weight.shape[3];
  g->groups = attrs.groups;
  g->stride_h = attrs.strides[0];
  g->stride_w = attrs.strides[1];
  g->dilation_h = attrs.dilation[0];
  g->dilation_w = attrs.dilation[1];
  g->pad_top = attrs.padding[0];
  g->pad_left = attrs.padding[1];
  if (weight.shape[0] != g->c) {
    return Fail(error, kName, "weight input channels %lld do not match data channels %lld",
                static_cast<long long>(weight.shape[0]), static_cast<long long>(g->c));
  }
  if (g->c % g->groups != 0) {
    return Fail(error, kName, "data channels %lld are not divisible by groups %lld",
                static_cast<long long>(g->c), static_cast<long long>(g->groups));
  }
  if (g->kh == 0 || g->kw == 0) {
    return Fail(error, kName, "weight shape %s has an empty kernel",
                internal::FormatShape(weight).text);
  }
  if (__builtin_mul_overflow(weight.shape[1], g->groups, &g->o)) {
    return Fail(error, kName, "output channels overflow");
  }
  g->oh = OutputSize(g->h, g->stride_h, attrs.padding[0], attrs.padding[2], g->dilation_h, g->kh,
                     attrs.output_padding[0]);
  g->ow = OutputSize(g->w, g->stride_w, attrs.padding[1], attrs.padding[3], g->dilation_w, g->kw,
                     attrs.output_padding[1]);
  if (g->oh < 0 || g->ow < 0) {
    return Fail(error, kName, "padding leaves no output for input %s and kernel %lldx%lld",
                internal::FormatShape(data).text, static_cast<long long>(g->kh),
                static_cast<long long>(g->kw));
  }
  const int64_t expected[4] = {g->n, g->o, g->oh, g->ow};
  if (internal::CheckShape(kName, "output", *args[2], expected, 4, error) != 0) return -1;
  const int64_t rows = weight.shape[1] * g->kh * g->kw;
  if (!internal::SgemmFits(rows, g->h * g->w, g->c)) {
    return Fail(error, kName, "dimensions exceed the BLAS integer range");
  }
  return 0;
}

}  // namespace

// out must not overlap data or weight.
int Conv2dTranspose(const Conv2dTransposeAttrs& attrs, DLTensor* const* args, int32_t num_args,
                    FerryKernelError* error) {
  TransposeGeometry g{};
  if (Validate(attrs, args, num_args, &g, error) != 0) return -1;
  const int64_t total = internal::NumElements(*args[2]);
  if (total == 0) return 0;
  float* out = DataAs<float>(*args[2]);
  const int64_t group_c = g.c / g.groups, group_o = g.o / g.groups;
  const int64_t rows = group_o * g.kh * g.kw, spatial = g.h * g.w;
  const int64_t out_spatial = g.oh * g.ow;
  memset(out, 0, sizeof(float) * static_cast<size_t>(total));
  if (group_c == 0 || spatial == 0) return 0;  // Nothing to accumulate.
  int64_t col_size;
  if (__builtin_mul_overflow(rows, spatial, &col_size)) {
    return Fail(error, kName, "column buffer size overflows");
  }
  float* col = internal::ScratchFloats(col_size);
  if (col == nullptr) {
    return Fail(error, kName, "cannot allocate the column buffer (%lld floats)",
                static_cast<long long>(col_size));
  }
  const float* data = DataAs<const float>(*args[0]);
  const float* weight = DataAs<const float>(*args[1]);
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      // col [rows, spatial] = weight_g^T [rows, group_c] * data_g [group_c, spatial], where
      // weight_g is the group's [group_c, rows] block of the [C, O / groups * KH * KW] weight.
      if (internal::Sgemm(kName, true, false, rows, spatial, group_c,
                          weight + grp * group_c * rows, rows,
                          data + (n * g.c + grp * group_c) * spatial, spatial, col, spatial,
                          error) != 0) {
        return -1;
      }
      Col2Im(g, group_o, col, out + (n * g.o + grp * group_o) * out_spatial);
    }
  }
  return 0;
}

}  // namespace ferry::kernels
