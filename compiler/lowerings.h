// The operator lowerings behind op_registry.h's table, grouped by file; internal to
// ferry_compiler. Each validates inputs and attributes and returns the node's OpLowering.
#ifndef FERRY_COMPILER_LOWERINGS_H_
#define FERRY_COMPILER_LOWERINGS_H_

#include <span>

#include "compiler/attrs.h"
#include "compiler/op_registry.h"

namespace ferry::compiler::lowering {

using Inputs = std::span<const TensorInfo>;

// lower_nn.cc
StatusOr<OpLowering> LowerDense(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerMatmul(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerConv2d(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerConv2dTranspose(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerPool(Inputs in, const Attrs& attrs, bool is_max);
StatusOr<OpLowering> LowerGlobalPool(Inputs in, const Attrs& attrs, bool is_max);
StatusOr<OpLowering> LowerBiasAdd(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerBatchNorm(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerLayerNorm(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerConv3d(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerPool3d(Inputs in, const Attrs& attrs, bool is_max);

// lower_blocked.cc: the blocked-layout operators (the oneDNN ones only with FERRY_HAVE_DNNL).
StatusOr<OpLowering> LowerChannelBlocks(Inputs in, const Attrs& attrs, bool to_blocks);
StatusOr<OpLowering> LowerBlockedConv2d(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerBlockedPool2d(Inputs in, const Attrs& attrs);

// lower_elementwise.cc
// relu, sigmoid, tanh and the kernels::UnaryOp operators, by Ferry op name.
StatusOr<OpLowering> LowerUnary(const std::string& op, Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerClip(Inputs in, const Attrs& attrs);
// add, sub, mul, div, pow.
StatusOr<OpLowering> LowerBinary(const std::string& op, Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerSoftmax(Inputs in, const Attrs& attrs, bool log);
StatusOr<OpLowering> LowerReduce(Inputs in, const Attrs& attrs, bool mean);

// lower_tensor.cc
StatusOr<OpLowering> LowerConcat(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerReshape(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerFlatten(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerCopy(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerTranspose(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerSlice(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerPad(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerGather(Inputs in, const Attrs& attrs);
StatusOr<OpLowering> LowerCast(Inputs in, const Attrs& attrs);
enum class ResizeKind { kNearest, kLinear, kCubic };
StatusOr<OpLowering> LowerResize(Inputs in, const Attrs& attrs, ResizeKind kind);

}  // namespace ferry::compiler::lowering

#endif  // FERRY_COMPILER_LOWERINGS_H_
