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
// writes nothing else. Kernels are reentrant and keep no state between calls. GEMM and
// convolution go through BLAS (cblas_sgemm); the rest are plain loops.
#ifndef FERRY_RUNTIME_KERNELS_KERNELS_H_
#define FERRY_RUNTIME_KERNELS_KERNELS_H_

#include <stdint.h>

#include "runtime/kernels/kernel_abi.h"

namespace ferry::kernels {

inline constexpr int kMaxDims = 8;

// dense: data [M, K], weight [N, K] -> out [M, N]  (out = data * weight^T, TVM's nn.dense).
int Dense(DLTensor* const* args, int32_t num_args, FerryKernelError* error);

// matmul: a [.., M, K], b [.., K, N] -> out [.., M, N]. Leading (batch) dimensions of a and b
// broadcast with numpy rules; a 1-D operand is not accepted. With transpose_a / transpose_b the
// last two dimensions of that operand are read transposed.
struct MatmulAttrs {
  bool transpose_a = false;
  bool transpose_b = false;
};
int Matmul(const MatmulAttrs& attrs, DLTensor* const* args, int32_t num_args,
           FerryKernelError* error);

// conv2d, NCHW: data [N, C, H, W], weight [O, C / groups, KH, KW] -> out [N, O, OH, OW] with
// OH = (H + pad_top + pad_bottom - dilation_h * (KH - 1) - 1) / stride_h + 1 (same for W).
// O must be divisible by groups. Implemented as im2col + cblas_sgemm per group.
struct Conv2dAttrs {
  int64_t strides[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};  // top, left, bottom, right
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
};
int Conv2d(const Conv2dAttrs& attrs, DLTensor* const* args, int32_t num_args,
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

// Binary element-wise with numpy broadcasting: a, b -> out (out.shape = broadcast shape).
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

}  // namespace ferry::kernels

#endif  // FERRY_RUNTIME_KERNELS_KERNELS_H_
