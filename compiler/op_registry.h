// The operators the compiler knows: for each, input/attribute validation, output shape and
// dtype inference, and the C++ body of the operator function that calls the CPU kernel
// (runtime/kernels/kernels.h) with the attributes baked in as constants.
//
// Operators (inputs -> output; attributes with defaults):
//   dense(data [M,K], weight [N,K]) -> [M,N]
//   matmul(a, b; transpose_a=0, transpose_b=0)
//   conv2d(data NCHW, weight OIHW; strides=1, padding=0 (2 or 4 values: t,l,b,r),
//          dilation=1, groups=1)
//   bias_add(data, bias; axis=1)      batch_norm(data, gamma, beta, mean, var; axis=1,
//                                                epsilon=1e-5)
//   relu, sigmoid, tanh (x)           clip(x; min=0, max=6)
//   max_pool2d / avg_pool2d(data; pool_size, strides=1, padding=0, dilation=1, ceil_mode=0,
//                           count_include_pad=0 (avg only))
//   global_avg_pool2d(data) -> [N,C,1,1]
//   add, mul(a, b) with numpy broadcasting
//   concat(x...; axis=0)   reshape(x; shape, one -1 allowed)   flatten(x; axis=1)
//   transpose(x; axes=reversed)   softmax(x; axis=-1)
#ifndef FERRY_COMPILER_OP_REGISTRY_H_
#define FERRY_COMPILER_OP_REGISTRY_H_

#include <span>
#include <string>
#include <vector>

#include "compiler/attrs.h"
#include "runtime/graph.h"

namespace ferry::compiler {

struct OpLowering {
  TensorInfo output;
  // Statements of the operator function's body; they may use `args`, `num_args` and
  // `error` (the FerryOpFunc parameters) and must return the kernel's result.
  std::string body;
};

// Errors: kNotFound for an unknown operator; kInvalidArgument naming the operator and the
// problem for wrong input counts, dtypes, shapes or attributes.
StatusOr<OpLowering> LowerOp(const std::string& op, std::span<const TensorInfo> inputs,
                             const Attrs& attrs);

// Sorted operator names.
std::vector<std::string> ListOps();

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_OP_REGISTRY_H_
