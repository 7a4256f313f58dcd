#include "bench/flop_count.h"

#include "compiler/attrs.h"

namespace ferry::bench {
namespace {

double Elements(const std::vector<int64_t>& shape) {
  double n = 1;
  for (const int64_t d : shape) n *= static_cast<double>(d);
  return n;
}

}  // namespace

FlopCount CountFlops(const compiler::Model& model) {
  const ExecGraph& graph = model.graph;
  FlopCount count;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const GraphNode& node = graph.nodes[n];
    double macs = -1;
    if (node.inputs.size() >= 2 && node.outputs.size() == 1) {
      const std::vector<int64_t>& data = graph.entries[node.inputs[0]].shape;
      const std::vector<int64_t>& weight = graph.entries[node.inputs[1]].shape;
      const std::vector<int64_t>& out = graph.entries[node.outputs[0]].shape;
      if (node.op == "conv2d" && weight.size() == 4 && out.size() == 4) {
        // Weight [C_out, C_in / groups, KH, KW]: one output element is C_in / groups * KH * KW.
        macs = Elements(out) * static_cast<double>(weight[1] * weight[2] * weight[3]);
      } else if (node.op == "conv2d_transpose" && weight.size() == 4 && data.size() == 4) {
        // Weight [C_in, C_out / groups, KH, KW]: one input element spreads over as many.
        macs = Elements(data) * static_cast<double>(weight[1] * weight[2] * weight[3]);
      } else if (node.op == "dense" && data.size() == 2 && weight.size() == 2 && out.size() == 2 &&
                 data[1] == weight[1]) {
        // data [M, K], weight [N, K] -> out [M, N]: M * N * K.
        macs = Elements(out) * static_cast<double>(weight[1]);
      } else if (node.op == "matmul" && data.size() >= 2 && weight.size() >= 2 && out.size() >= 2 &&
                 n < model.node_attrs.size()) {
        // a [..., M, K] ([..., K, M] with transpose_a), b [..., K, N] ([..., N, K] with
        // transpose_b) -> out [..., M, N], the batch dimensions broadcast: one M * N * K
        // product per batch, so out's elements * K.
        const StatusOr<int64_t> transpose_a =
            compiler::GetIntAttr(model.node_attrs[n], "transpose_a", 0);
        const StatusOr<int64_t> transpose_b =
            compiler::GetIntAttr(model.node_attrs[n], "transpose_b", 0);
        if (transpose_a.ok() && transpose_b.ok()) {
          const int64_t k = data[data.size() - (*transpose_a ? 2 : 1)];
          const int64_t k_b = weight[weight.size() - (*transpose_b ? 1 : 2)];
          if (k == k_b) macs = Elements(out) * static_cast<double>(k);
        }
      }
    }
    if (macs >= 0) {
      count.flops += 2 * macs;
    } else if (node.op.find("conv") != std::string::npos ||
               node.op.find("dense") != std::string::npos ||
               node.op.find("matmul") != std::string::npos) {
      count.uncounted.push_back(node.name + " (" + node.op + ")");
    }
  }
  return count;
}

}  // namespace ferry::bench
