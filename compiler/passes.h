// Graph passes over a compiler Model (model.h). Each keeps the model valid and computes
// bit-identical outputs.
#ifndef FERRY_COMPILER_PASSES_H_
#define FERRY_COMPILER_PASSES_H_

#include "compiler/model.h"

namespace ferry::compiler {

// Folds the chain conv2d | dense -> [bias_add | add of a [C] vector (dense)] ->
// [batch_norm] -> [relu | clip] into one node with a fused epilogue (kernels.h: Epilogue)
// wherever each intermediate result feeds only the next node and is not a model output.
// The fused kernel performs exactly the same float operations, so outputs are identical.
// The fused-away intermediate entries are removed. Returns the number of nodes removed.
StatusOr<int> FuseEpilogues(Model& model);

// Removes nodes whose outputs no model output depends on, then parameters nothing reads,
// and renumbers the remaining entries. Model inputs are kept. Returns the number of nodes
// removed.
StatusOr<int> RemoveDeadNodes(Model& model);

// FuseEpilogues, then RemoveDeadNodes; validates the result.
Status OptimizeModel(Model& model);

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_PASSES_H_
