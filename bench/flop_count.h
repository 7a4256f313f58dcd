// FLOP counting for onnx_models_bench: the arithmetic of a model's convolutions and matrix
// products, from the shapes on its graph.
#ifndef FERRY_BENCH_FLOP_COUNT_H_
#define FERRY_BENCH_FLOP_COUNT_H_

#include <string>
#include <vector>

#include "compiler/model.h"

namespace ferry::bench {

// FLOPs of a model, counted on its graph.
struct FlopCount {
  double flops = 0;  // 2 * multiply-adds of the counted nodes
  // "name (op)" of nodes that look like GEMM work but whose shapes were not understood (a new
  // layout, say): their FLOPs are missing from `flops`.
  std::vector<std::string> uncounted;
};

// Counts 2 * multiply-adds of the conv2d, conv2d_transpose, dense and matmul nodes of `model`
// (after the graph passes: a fused epilogue's bias, batch norm and activation are not counted,
// nor are pools, element-wise and layout nodes) from the shapes of their entries. A matrix
// product [M, K] x [K, N] is 2 * M * N * K FLOPs, once per batch of a matmul.
FlopCount CountFlops(const compiler::Model& model);

}  // namespace ferry::bench

#endif  // FERRY_BENCH_FLOP_COUNT_H_
