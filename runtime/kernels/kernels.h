// CPU operator kernels that model libraries are built from.
//
// Every kernel has the shape
//   int Name([const NameAttrs& attrs,] DLTensor* const* args, int32_t num_args,
//            FerryKernelError* error);
// with the inputs first and the output last in `args`. All tensors live on kDLCPU, are
// compact row-major (strides == NULL or equal to the compact strides), have byte_offset
// honoured, and are float32 unless a kernel says otherwise. The output tensor is allocated by
// the caller with the exact expected shape. A kernel validates arity, device, dtype and
// shapes; on any mismatch it returns non-zero with a message naming the kernel and the
// problem (e.g. "conv2d: weight channels 4 do not match input channels 3 / groups 1") and
// writes nothing else. Kernels are reentrant and keep no state between calls beyond
// per-thread scratch memory that only grows (the convolutions' column buffers). GEMM and
// convolution go through BLAS (cblas_sgemm); the rest are plain loops.
#ifndef FERRY_RUNTIME_KERNELS_KERNELS_H_
#define FERRY_RUNTIME_KERNELS_KERNELS_H_

#include <stdint.h>

#include "runtime/kernels/kernel_abi.h"

namespace ferry::kernels {

inline constexpr int kMaxDims = 8;

// dense: data [M, K], weight [N, K] -> out [M, N]  (out = data * weight^T, TVM's nn.dense).
int Dense(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// An epilogue fused into conv2d, dense or matmul: applied to every output element of channel c, in
// this order, with exactly the arithmetic of the bias_add, batch_norm, relu and clip kernels
// run as separate nodes (the results are bit-identical). Each enabled step takes extra
// inputs after the weight, each of shape [channels]: bias; then gamma, beta, moving_mean,
// moving_var for batch_norm.
// kSwish (x * sigmoid(x), ONNX's SiLU) only as a post-op of blocked_conv2d
// (blocked_kernels.h); the plain kernels refuse it.
enum class Activation : int32_t { kNone, kRelu, kClip, kSwish };
struct Epilogue {
  bool bias = false;
  bool batch_norm = false;
  double epsilon = 1e-5;  // batch_norm's
  Activation activation = Activation::kNone;
  double clip_min = 0.0;
  double clip_max = 6.0;
};

// dense with an epilogue (channels are the N columns of the output): data, weight,
// [epilogue inputs], out.
struct DenseAttrs {
  Epilogue epilogue;
};
int FusedDense(const DenseAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error);

// matmul: a [.., M, K], b [.., K, N], [epilogue inputs] -> out [.., M, N]. Leading (batch)
// dimensions of a and b broadcast with numpy rules; a 1-D operand is not accepted. With
// transpose_a / transpose_b the last two dimensions of that operand are read transposed. The
// epilogue's channels are the N columns of the output (as for dense).
struct MatmulAttrs {
  bool transpose_a = false;
  bool transpose_b = false;
  Epilogue epilogue;
};
int Matmul(const MatmulAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error);

// conv2d, NCHW: data [N, C, H, W], weight [O, C / groups, KH, KW] -> out [N, O, OH, OW] with
// OH = (H + pad_top + pad_bottom - dilation_h * (KH - 1) - 1) / stride_h + 1 (same for W).
// O must be divisible by groups. Implemented as im2col + GEMM (gemm.h) per group.
struct Conv2dAttrs {
  int64_t strides[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};  // top, left, bottom, right
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
  Epilogue epilogue;  // its inputs follow the weight
};
int Conv2d(const Conv2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error);

// 3-D (NCDHW) convolution and pooling, as conv2d and the 2-D pools with one more spatial
// axis: conv3d data [N, C, D, H, W], weight [O, C / groups, KD, KH, KW] -> out
// [N, O, OD, OH, OW] (im2col + cblas_sgemm, no epilogue); max_pool3d / avg_pool3d with the
// 2-D pools' padding, ceil_mode and count_include_pad rules. Padding is front, top, left,
// back, bottom, right.
struct Conv3dAttrs {
  int64_t strides[3] = {1, 1, 1};
  int64_t padding[6] = {0, 0, 0, 0, 0, 0};
  int64_t dilation[3] = {1, 1, 1};
  int64_t groups = 1;
};
int Conv3d(const Conv3dAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error);
struct Pool3dAttrs {
  int64_t pool_size[3] = {1, 1, 1};
  int64_t strides[3] = {1, 1, 1};
  int64_t padding[6] = {0, 0, 0, 0, 0, 0};
  int64_t dilation[3] = {1, 1, 1};
  bool ceil_mode = false;
  bool count_include_pad = false;
};
int MaxPool3d(const Pool3dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);
int AvgPool3d(const Pool3dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);

// bias_add: data [..], bias [data.shape[axis]] -> out (same shape as data). A negative axis
// counts from the end.
struct BiasAddAttrs {
  int64_t axis = 1;
};
int BiasAdd(const BiasAddAttrs& attrs, DLTensor* const* args, int32_t num_args,
            FerryKernelError* error);

// Unary element-wise: in -> out, same shape.
int Relu(DLTensor* const* args, int32_t num_args, FerryKernelError* error);
int Sigmoid(DLTensor* const* args, int32_t num_args, FerryKernelError* error);
int Tanh(DLTensor* const* args, int32_t num_args, FerryKernelError* error);
struct ClipAttrs {
  double min = 0.0;
  double max = 6.0;
};
int Clip(const ClipAttrs& attrs, DLTensor* const* args, int32_t num_args,
         FerryKernelError* error);

// Pooling, NCHW: data [N, C, H, W] -> out [N, C, OH, OW]; OH as for conv2d with
// KH = pool_size[0] (ceil instead of floor when ceil_mode; a window must start inside the
// padded input). max_pool2d ignores padded positions. avg_pool2d divides by the window size
// including padding when count_include_pad, else by the number of real elements.
struct Pool2dAttrs {
  int64_t pool_size[2] = {1, 1};
  int64_t strides[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};  // top, left, bottom, right
  int64_t dilation[2] = {1, 1};
  bool ceil_mode = false;
  bool count_include_pad = false;
};
int MaxPool2d(const Pool2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);
int AvgPool2d(const Pool2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);
// global_avg_pool2d: data [N, C, H, W] -> out [N, C, 1, 1].
int GlobalAvgPool2d(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// batch_norm (inference): data, gamma, beta, moving_mean, moving_var (each [data.shape[axis]])
// -> out = (data - mean) / sqrt(var + epsilon) * gamma + beta along `axis`.
struct BatchNormAttrs {
  int64_t axis = 1;
  double epsilon = 1e-5;
};
int BatchNorm(const BatchNormAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);

// Binary element-wise with numpy broadcasting: a, b -> out (out.shape = broadcast shape), all
// three of one dtype: float32, float64, int8-64 or uint8-64. Integer arithmetic wraps around
// like numpy's; see Div and Pow below for their integer rules.
int Add(DLTensor* const* args, int32_t num_args, FerryKernelError* error);
int Mul(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// concat: num_args - 1 inputs of equal rank and equal shapes except along axis -> out.
// Works for any dtype (copies bytes).
struct ConcatAttrs {
  int64_t axis = 0;
};
int Concat(const ConcatAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error);

// reshape (also used for flatten): in -> out with the same element count and dtype; a
// contiguous copy. Works for any dtype.
int Reshape(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// transpose: in -> out with out.shape[i] = in.shape[axes[i]]; axes is a permutation of
// [0, ndim). Works for any dtype.
struct TransposeAttrs {
  int64_t ndim = 0;
  int64_t axes[kMaxDims] = {};
};
int Transpose(const TransposeAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);

// softmax along axis (negative counts from the end), numerically stable (max subtracted).
struct SoftmaxAttrs {
  int64_t axis = -1;
};
int Softmax(const SoftmaxAttrs& attrs, DLTensor* const* args, int32_t num_args,
            FerryKernelError* error);

// ---- Operators added for ONNX import (unary.cc, broadcast.cc, pooling.cc, softmax.cc,
// reduce.cc, slice_pad.cc, gather.cc, cast.cc, conv2d_transpose.cc, resize.cc, layer_norm.cc).
// Same contract as above. ----

// Unary float32 element-wise, in -> out of the same shape:
//   neg: -x   exp: e^x   sqrt: sqrt(x)   erf: erf(x)
//   leaky_relu: x >= 0 ? x : alpha * x
//   hard_sigmoid: max(0, min(1, alpha * x + beta))
//   hard_swish: x * max(0, min(1, x / 6 + 0.5))   (ONNX HardSwish)
//   identity: x
//   log: ln(x)   abs: |x|   reciprocal: 1 / x
enum class UnaryOp : int32_t {
  kNeg, kExp, kSqrt, kErf, kLeakyRelu, kHardSigmoid, kHardSwish, kIdentity, kLog, kAbs,
  kReciprocal,
};
struct UnaryAttrs {
  UnaryOp op = UnaryOp::kIdentity;
  double alpha = 0.0;
  double beta = 0.0;
};
int Unary(const UnaryAttrs& attrs, DLTensor* const* args, int32_t num_args,
          FerryKernelError* error);

// More binary element-wise kernels with numpy broadcasting and the dtypes of Add / Mul:
// out = a - b; a / b (floats: IEEE, x/0 is inf or nan; integers: truncated toward zero, and
// division by zero is an error); pow(a, b) (floats: std::pow in the element type; integers:
// computed in double and converted back, 0 where the result is out of range).
int Sub(DLTensor* const* args, int32_t num_args, FerryKernelError* error);
int Div(DLTensor* const* args, int32_t num_args, FerryKernelError* error);
int Pow(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// global_max_pool2d: data [N, C, H, W] -> out [N, C, 1, 1] (max over each plane; H*W must be
// > 0).
int GlobalMaxPool2d(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// log_softmax along axis: x - max - log(sum(exp(x - max))), numerically stable.
int LogSoftmax(const SoftmaxAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error);

// reduce_sum / reduce_mean over the axes flagged in `reduce` (reduce[i] != 0 reduces input
// dimension i; ndim must equal the input's rank). The output holds the product of the kept
// dimensions in their order (keepdims only changes the shape the caller allocates, so the
// output's element count is checked, not its shape). Accumulates in double. Reducing an empty
// axis gives 0 for sum and NaN for mean.
struct ReduceAttrs {
  int64_t ndim = 0;
  int64_t reduce[kMaxDims] = {};
};
int ReduceSum(const ReduceAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);
int ReduceMean(const ReduceAttrs& attrs, DLTensor* const* args, int32_t num_args,
               FerryKernelError* error);

// slice: in -> out with out[i0, i1, ...] = in[starts[0] + i0 * steps[0], ...]. `starts` are
// already normalised by the caller (in range for the elements that are read), steps are
// non-zero (negative walks backwards); ndim equals the input's rank and the output's rank; the
// output's shape gives the counts. Any dtype (copies elements). Every read index is checked
// against the input's bounds; an out-of-range read is an error, not a crash.
struct SliceAttrs {
  int64_t ndim = 0;
  int64_t starts[kMaxDims] = {};
  int64_t steps[kMaxDims] = {};
};
int Slice(const SliceAttrs& attrs, DLTensor* const* args, int32_t num_args,
          FerryKernelError* error);

// pad (float32): in -> out with out.shape[i] = in.shape[i] + before[i] + after[i] (given by
// the output's shape; before/after may be negative, which crops). constant mode fills with
// `value`; reflect mirrors without repeating the edge (needs in.shape[i] >= 2 where padded;
// pads longer than in.shape[i] - 1 keep mirroring, as numpy); edge repeats the edge element
// (needs in.shape[i] >= 1 where padded). A crop may remove at most the whole dimension.
enum class PadMode : int32_t { kConstant, kReflect, kEdge };
struct PadAttrs {
  int64_t ndim = 0;
  int64_t before[kMaxDims] = {};
  PadMode mode = PadMode::kConstant;
  double value = 0.0;
};
int Pad(const PadAttrs& attrs, DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// gather: data (any dtype), indices (int32 or int64, any shape) -> out with shape
// data.shape[:axis] + indices.shape + data.shape[axis+1:]. Negative indices count from the
// end; an index outside [-n, n) is an error naming it.
struct GatherAttrs {
  int64_t axis = 0;
};
int Gather(const GatherAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error);

// cast: in -> out of the same shape, converting each element to out's dtype. Supported dtypes
// on both sides: float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
// bool (DLPack code 6, 8 bits). Float to integer truncates toward zero (values out of the
// target's range are undefined in C++, so they are clamped to it; NaN becomes 0); to bool is
// x != 0 (NaN is true); from bool, any non-zero byte is true. Integer to integer wraps modulo
// 2^bits (numpy's behaviour).
int Cast(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// conv2d_transpose, NCHW: data [N, C, H, W], weight [C, O / groups, KH, KW] -> out
// [N, O, OH, OW] with OH = (H - 1) * stride_h - pad_top - pad_bottom + dilation_h * (KH - 1)
// + output_padding_h + 1 (same for W). C must be divisible by groups. The gradient of conv2d
// (GEMM into columns, then col2im accumulation).
struct Conv2dTransposeAttrs {
  int64_t strides[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};  // top, left, bottom, right
  int64_t dilation[2] = {1, 1};
  int64_t output_padding[2] = {0, 0};
  int64_t groups = 1;
};
int Conv2dTranspose(const Conv2dTransposeAttrs& attrs, DLTensor* const* args, int32_t num_args,
                    FerryKernelError* error);

// resize_nearest: in -> out of the same rank (any float32 shape; the output's shape gives the
// sizes). For each axis, output index o maps to input coordinate x by `coordinate_mode`
// (ONNX Resize's coordinate_transformation_mode, with scale[i] = the ONNX scale, i.e.
// out / in when sizes were given):
//   half_pixel: (o + 0.5) / scale - 0.5    asymmetric: o / scale
//   pytorch_half_pixel: out > 1 ? (o + 0.5) / scale - 0.5 : 0
//   align_corners: out == 1 ? 0 : o * (in - 1) / (scale * in - 1)  (ONNX's reference: the
//                  divisor is out - 1 unless the scale gives a fractional size)
//   tf_half_pixel_for_nn: (o + 0.5) / scale
// then to an index by `nearest_mode` (round_prefer_floor: ceil(x - 0.5) ... as ONNX:
// round_prefer_floor rounds .5 down, round_prefer_ceil rounds .5 up, floor, ceil), clamped
// to [0, in - 1]. Coordinates are computed in double. Scales must be positive and finite.
// An empty input axis cannot grow.
enum class ResizeCoordinateMode : int32_t {
  kHalfPixel, kAsymmetric, kPytorchHalfPixel, kAlignCorners, kTfHalfPixelForNn,
};
enum class ResizeNearestMode : int32_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
struct ResizeNearestAttrs {
  int64_t ndim = 0;
  double scales[kMaxDims] = {};
  ResizeCoordinateMode coordinate_mode = ResizeCoordinateMode::kHalfPixel;
  ResizeNearestMode nearest_mode = ResizeNearestMode::kRoundPreferFloor;
};
int ResizeNearest(const ResizeNearestAttrs& attrs, DLTensor* const* args, int32_t num_args,
                  FerryKernelError* error);

// resize_linear: in -> out of the same rank (float32), interpolating linearly along every
// axis between the input elements at floor(x) and floor(x) + 1 of the source coordinate x
// (ResizeNearest's coordinate modes except tf_half_pixel_for_nn), clamped to the edges, in
// double (ONNX Resize with mode "linear").
struct ResizeLinearAttrs {
  int64_t ndim = 0;
  double scales[kMaxDims] = {};
  ResizeCoordinateMode coordinate_mode = ResizeCoordinateMode::kHalfPixel;
};
int ResizeLinear(const ResizeLinearAttrs& attrs, DLTensor* const* args, int32_t num_args,
                 FerryKernelError* error);

// resize_cubic: as resize_linear with 4 taps per axis (input indices floor(x) - 1 ...
// floor(x) + 2, clamped) weighted by Keys' cubic convolution with parameter cubic_coeff_a;
// with exclude_outside, taps outside the input get weight 0 and the others are renormalised
// (ONNX Resize with mode "cubic").
struct ResizeCubicAttrs {
  int64_t ndim = 0;
  double scales[kMaxDims] = {};
  ResizeCoordinateMode coordinate_mode = ResizeCoordinateMode::kHalfPixel;
  double cubic_coeff_a = -0.75;
  bool exclude_outside = false;
};
int ResizeCubic(const ResizeCubicAttrs& attrs, DLTensor* const* args, int32_t num_args,
                FerryKernelError* error);

// layer_norm: data, scale, [bias], out. Normalises over the dimensions [axis, rank) (negative
// axis counts from the end): y = (x - mean) / sqrt(var + epsilon) * scale + bias, with the
// biased variance, mean and variance accumulated in double. scale and bias hold exactly the
// product of the normalised dimensions' elements (any shape with that count, laid out
// row-major over those dimensions). epsilon must be non-negative and finite.
struct LayerNormAttrs {
  int64_t axis = -1;
  double epsilon = 1e-5;
};
int LayerNorm(const LayerNormAttrs& attrs, DLTensor* const* args, int32_t num_args,
              FerryKernelError* error);

}  // namespace ferry::kernels

#endif  // FERRY_RUNTIME_KERNELS_KERNELS_H_
