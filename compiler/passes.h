// Graph passes over a compiler Model (model.h). Each keeps the model valid and computes
// bit-identical outputs.
#ifndef FERRY_COMPILER_PASSES_H_
#define FERRY_COMPILER_PASSES_H_

#include "compiler/model.h"

namespace ferry::compiler {

// Folds the chain conv2d | dense | matmul -> [bias_add | add of a [C] vector (dense,
// matmul)] -> [batch_norm] -> [relu | clip] into one node with a fused epilogue (kernels.h:
// Epilogue; a conv2d's channels are axis 1, a dense's or matmul's the last axis)
// wherever each intermediate result feeds only the next node and is not a model output.
// The fused kernel performs exactly the same float operations, so outputs are identical.
// The fused-away intermediate entries are removed. Returns the number of nodes removed.
StatusOr<int> FuseEpilogues(Model& model);

// Removes nodes whose outputs no model output depends on, then parameters nothing reads,
// and renumbers the remaining entries. Model inputs are kept. Returns the number of nodes
// removed.
StatusOr<int> RemoveDeadNodes(Model& model);

// Replaces each layer normalisation written out as its arithmetic (as PyTorch exports
// nn.LayerNorm before ONNX opset 17: reduce_mean, sub, pow or mul, reduce_mean, add of a
// constant epsilon, sqrt, div, mul by a scale, add of a bias, over trailing axes) with one
// layer_norm node, wherever the intermediate results feed only the chain. Unlike the other
// passes its results are not bit-identical: layer_norm accumulates the mean and variance in
// double, as precise or more. The replaced nodes are left dead for RemoveDeadNodes. Returns
// the number of normalisations fused.
StatusOr<int> FuseLayerNorms(Model& model);

// FuseLayerNorms, FuseEpilogues, then RemoveDeadNodes; validates the result.
Status OptimizeModel(Model& model);

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_PASSES_H_
