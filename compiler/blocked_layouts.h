// ConvertToBlockedLayouts: moves a model's convolutional parts onto the blocked channel layout
// NCHW16c and oneDNN (runtime/kernels/blocked_kernels.h), the way ONNX Runtime's CPU path
// gets its speed.
//
// Every float32 conv2d with constant weights whose groups are 1 or depthwise becomes a
// blocked_conv2d: its batch norm folded into the weights and bias, the weights packed into
// oneDNN's blocked format here (at build time, stored packed as the node's parameter), its
// activation a post-op; a following `add` of a residual, and a relu or clip after that add,
// are fused in as a sum post-op when nothing else reads the intermediate results. Pools,
// relu, clip (min <= 0 <= max), same-shape add and channel concat whose inputs are blocked
// stay blocked, so consecutive layers pass blocked tensors with no reorder between them; a
// first convolution over few channels (an image) reads the plain input directly. Everything
// else reads plain tensors: from_channel_blocks is inserted where a blocked result meets such
// a reader or a model output, and to_channel_blocks where a plain tensor meets a blocked
// operator. Model inputs and outputs keep their names, shapes and order; parameters of
// converted convolutions are replaced by "<node>.packed_weight" and "<node>.packed_bias"
// (with a number appended should the model have those names already).
//
// Outputs agree with the unconverted model to float rounding (oneDNN sums in another order and
// batch norm is folded), not bit for bit. Without oneDNN (FERRY_HAVE_DNNL 0) the model comes
// back unchanged.
#ifndef FERRY_COMPILER_BLOCKED_LAYOUTS_H_
#define FERRY_COMPILER_BLOCKED_LAYOUTS_H_

#include "compiler/model.h"

namespace ferry::compiler {

// Whether this build can convert (it has oneDNN).
bool BlockedLayoutsAvailable();

enum class BlockedLayout {
  kAuto,           // ChooseBlockedLayout's choice
  kChannelBlocks,  // NCHW16c
  kChannelsLast,   // NHWC
};

// Channel blocks for a model with depthwise convolutions, else channels last: what measured
// faster on this kind of machine (runtime/kernels/blocked_kernels.h). A model with grouped
// (not depthwise) convolutions, or element-wise operators that would not keep the blocks'
// zero padding (sigmoid, exp, div, ...), takes channels last, where they stay in the layout.
BlockedLayout ChooseBlockedLayout(const Model& model);

// Errors: those of building the rewritten graph (a model that fails validation).
StatusOr<Model> ConvertToBlockedLayouts(const Model& model,
                                        BlockedLayout layout = BlockedLayout::kAuto);

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_BLOCKED_LAYOUTS_H_
