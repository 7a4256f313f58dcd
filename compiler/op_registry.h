// The operators the compiler knows: for each, input/attribute validation, output shape and
// dtype inference, and the C++ body of the operator function that calls the CPU kernel
// (runtime/kernels/kernels.h) with the attributes baked in as constants.
//
// Operators (inputs -> output; attributes with defaults):
//   dense(data [M,K], weight [N,K], [epilogue inputs]) -> [M,N]
//   conv2d(data NCHW, weight OIHW, [epilogue inputs]; strides=1, padding=0 (2 or 4 values:
//          t,l,b,r), dilation=1, groups=1)
//     Both take a fused epilogue (kernels.h: Epilogue): bias=0|1 (default 1 when exactly
//     three inputs), batch_norm=0|1, epsilon=1e-5, activation=0 none|1 relu|2 clip,
//     clip_min=0, clip_max=6; inputs: bias [C], then gamma, beta, mean, var [C].
//   conv2d_transpose(data NCHW, weight [C, O/groups, KH, KW]; strides, padding, dilation,
//          output_padding=0, groups=1)
//   matmul(a, b; transpose_a=0, transpose_b=0)
//   bias_add(data, bias; axis=1)      batch_norm(data, gamma, beta, mean, var; axis=1,
//                                                epsilon=1e-5)
//   layer_norm(data, scale, [bias]; axis=-1, epsilon=1e-5)
//   relu, sigmoid, tanh, neg, exp, sqrt, erf, log, abs, reciprocal, hard_swish (x)
//   leaky_relu(x; alpha=0.01)   hard_sigmoid(x; alpha=0.2, beta=0.5)   clip(x; min=0, max=6)
//   max_pool2d / avg_pool2d(data; pool_size, strides=1, padding=0, dilation=1, ceil_mode=0,
//                           count_include_pad=0 (avg only))
//   global_avg_pool2d, global_max_pool2d(data) -> [N,C,1,1]
//   conv3d(data NCDHW, weight; strides, padding (6: front, top, left, back, bottom, right),
//          dilation, groups)   max_pool3d / avg_pool3d(data; as the 2-D pools, 3-D windows)
//   add, sub, mul, div, pow(a, b) with numpy broadcasting
//   concat(x...; axis=0)   reshape(x; shape, one -1 allowed)   flatten(x; axis=1)
//   copy(x)   transpose(x; axes=reversed)   softmax, log_softmax(x; axis=-1)
//   reduce_sum, reduce_mean(x; axes=all, keepdims=1)
//   slice(x; starts, ends, axes=all, steps=1)  (ONNX Slice semantics, clamped)
//   pad(x; pads (begins then ends), mode=0 constant|1 reflect|2 edge, value=0)
//   gather(data, indices; axis=0)   cast(x; code, bits)  (a DLPack dtype)
//   resize_nearest(x; sizes, scales, coordinate_mode=0, nearest_mode=0) (kernels.h enums)
//   resize_linear(x; sizes, scales, coordinate_mode=0)
//   resize_cubic(x; sizes, scales, coordinate_mode=0, cubic_coeff_a=-0.75, exclude_outside=0)
// copy, concat, reshape, flatten, transpose, slice, gather and cast accept any dtype; add,
// sub, mul, div and pow float32/64 and 8-64 bit integers; the others float32 (anything else
// is kUnimplemented).
#ifndef FERRY_COMPILER_OP_REGISTRY_H_
#define FERRY_COMPILER_OP_REGISTRY_H_

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "compiler/attrs.h"
#include "runtime/graph.h"
#include "runtime/kernels/kernel_abi.h"

namespace ferry::compiler {

struct OpLowering {
  TensorInfo output;
  // Statements of the operator function's body; they may use `args`, `num_args` and
  // `error` (the FerryOpFunc parameters) and must return the kernel's result.
  std::string body;
  // Runs the same kernel with the same attributes in this process (FerryOpFunc contract):
  // what constant folding evaluates.
  std::function<int(DLTensor* const*, int32_t, FerryKernelError*)> evaluate;
};

// Errors: kNotFound for an unknown operator; kInvalidArgument naming the operator and the
// problem for wrong input counts, dtypes, shapes or attributes.
StatusOr<OpLowering> LowerOp(const std::string& op, std::span<const TensorInfo> inputs,
                             const Attrs& attrs);

// Sorted operator names.
std::vector<std::string> ListOps();

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_OP_REGISTRY_H_
