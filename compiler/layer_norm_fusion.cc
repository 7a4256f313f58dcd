// FuseLayerNorms (passes.h): the layer normalisation that exporters write out as its
// arithmetic, matched and replaced by one layer_norm node.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compiler/passes.h"

namespace ferry::compiler {
namespace {

// Who reads each entry, for the matcher.
class Readers {
 public:
  explicit Readers(const ExecGraph& g) : nodes_(g.entries.size()), output_(g.entries.size()) {
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      for (uint32_t e : g.nodes[n].inputs) {
        if (nodes_[e].empty() || nodes_[e].back() != n) nodes_[e].push_back(n);  // mul(d, d): once
      }
    }
    for (uint32_t e : g.outputs) output_[e] = true;
  }
  // The only node that reads `entry`, when exactly one does and it is not a model output.
  std::optional<size_t> Only(uint32_t entry) const {
    if (output_[entry] || nodes_[entry].size() != 1) return std::nullopt;
    return nodes_[entry][0];
  }
  const std::vector<size_t>& Of(uint32_t entry) const { return nodes_[entry]; }
  bool IsOutput(uint32_t entry) const { return output_[entry]; }

 private:
  std::vector<std::vector<size_t>> nodes_;
  std::vector<bool> output_;
};

class Matcher {
 public:
  explicit Matcher(const Model& model) : model_(model), g_(model.graph), readers_(g_) {
    for (const NamedEntry& p : g_.params) param_of_[p.entry] = p.name;
  }

  // Matches the chain that ends a layer normalisation at the reduce_mean `n` of x:
  //   m = reduce_mean(x), d = x - m, v = reduce_mean(d * d | pow(d, 2)), s = sqrt(v + eps),
  //   y = d / s * gamma + beta  (either operand order for *, +)
  // over the trailing axes of x, keepdims, with eps a constant and gamma, beta holding the
  // normalised shape. Returns the node that writes y, rewritten as layer_norm, or nullopt.
  std::optional<std::pair<size_t, GraphNode>> Match(size_t n, Attrs* attrs) const {
    const GraphNode& mean = g_.nodes[n];
    if (mean.op != "reduce_mean" || mean.inputs.size() != 1) return std::nullopt;
    const uint32_t x = mean.inputs[0];
    const std::optional<int64_t> axis = TrailingAxis(model_.node_attrs[n], g_.entries[x]);
    if (!axis || !(g_.entries[x].dtype == DataType::Float32())) return std::nullopt;
    const GraphNode* sub = Single(mean.outputs[0], "sub");
    if (sub == nullptr || sub->inputs[0] != x || sub->inputs[1] != mean.outputs[0]) {
      return std::nullopt;
    }
    const uint32_t d = sub->outputs[0];
    // d is read by the squaring and by the division, and nothing else.
    const std::vector<size_t>& d_readers = readers_.Of(d);
    if (readers_.IsOutput(d) || d_readers.size() != 2) return std::nullopt;
    const GraphNode* square = nullptr;
    const GraphNode* div = nullptr;
    for (size_t r : d_readers) {
      const GraphNode& node = g_.nodes[r];
      if (node.op == "div" && node.inputs[0] == d) div = &node;
      if (IsSquareOf(node, d)) square = &node;
    }
    if (square == nullptr || div == nullptr) return std::nullopt;
    const std::optional<size_t> variance_at = readers_.Only(square->outputs[0]);
    if (!variance_at) return std::nullopt;
    const GraphNode& variance = g_.nodes[*variance_at];
    if (variance.op != "reduce_mean" ||
        TrailingAxis(model_.node_attrs[*variance_at], g_.entries[d]) != axis) {
      return std::nullopt;
    }
    const GraphNode* shift = Single(variance.outputs[0], "add");
    if (shift == nullptr) return std::nullopt;
    const std::optional<double> epsilon = ScalarParam(OtherOperand(*shift, variance.outputs[0]));
    if (!epsilon || !(*epsilon >= 0)) return std::nullopt;
    const GraphNode* root = Single(shift->outputs[0], "sqrt");
    if (root == nullptr || div->inputs[1] != root->outputs[0] ||
        readers_.Only(root->outputs[0]) == std::nullopt) {
      return std::nullopt;
    }
    const GraphNode* scale = Single(div->outputs[0], "mul");
    if (scale == nullptr) return std::nullopt;
    const uint32_t gamma = OtherOperand(*scale, div->outputs[0]);
    const std::optional<size_t> bias_at = readers_.Only(scale->outputs[0]);
    if (!bias_at || g_.nodes[*bias_at].op != "add") return std::nullopt;
    const GraphNode& bias = g_.nodes[*bias_at];
    const uint32_t beta = OtherOperand(bias, scale->outputs[0]);
    const Shape normalized(g_.entries[x].shape.begin() + *axis, g_.entries[x].shape.end());
    if (!HoldsShape(gamma, normalized) || !HoldsShape(beta, normalized)) return std::nullopt;
    GraphNode fused;
    fused.name = bias.name;
    fused.op = "layer_norm";
    fused.inputs = {x, gamma, beta};
    fused.outputs = bias.outputs;
    *attrs = {{"axis", *axis}, {"epsilon", *epsilon}};
    return std::make_pair(*bias_at, std::move(fused));
  }

 private:
  using Shape = std::vector<int64_t>;

  // The reader of `entry` when it is its only one and runs `op` on two inputs.
  const GraphNode* Single(uint32_t entry, std::string_view op) const {
    const std::optional<size_t> at = readers_.Only(entry);
    if (!at) return nullptr;
    const GraphNode& node = g_.nodes[*at];
    return node.op == op && node.inputs.size() == (op == "sqrt" ? 1u : 2u) ? &node : nullptr;
  }

  static uint32_t OtherOperand(const GraphNode& node, uint32_t one) {
    return node.inputs[0] == one ? node.inputs[1] : node.inputs[0];
  }

  bool IsSquareOf(const GraphNode& node, uint32_t d) const {
    if (node.op == "mul") {
      return node.inputs.size() == 2 && node.inputs[0] == d && node.inputs[1] == d;
    }
    if (node.op != "pow" || node.inputs.size() != 2 || node.inputs[0] != d) return false;
    return ScalarParam(node.inputs[1]) == 2.0;
  }

  // The value of a float32 parameter with one element.
  std::optional<double> ScalarParam(uint32_t entry) const {
    auto name = param_of_.find(entry);
    if (name == param_of_.end()) return std::nullopt;
    auto array = model_.params.find(name->second);
    if (array == model_.params.end() || array->second.NumElements() != 1 ||
        !(array->second.dtype() == DataType::Float32())) {
      return std::nullopt;
    }
    return array->second.data_as<float>()[0];
  }

  // Whether float32 `entry` holds exactly `shape`'s elements laid out as it (leading 1s
  // aside), as layer_norm's scale and bias must.
  bool HoldsShape(uint32_t entry, const Shape& shape) const {
    const TensorInfo& t = g_.entries[entry];
    if (!(t.dtype == DataType::Float32()) || t.shape.size() < shape.size()) return false;
    const size_t lead = t.shape.size() - shape.size();
    return std::all_of(t.shape.begin(), t.shape.begin() + lead, [](int64_t d) { return d == 1; }) &&
           std::equal(shape.begin(), shape.end(), t.shape.begin() + lead);
  }

  // The first normalised axis when a reduce_mean keeps its dimensions and reduces exactly the
  // trailing axes of `in` (at least one).
  static std::optional<int64_t> TrailingAxis(const Attrs& attrs, const TensorInfo& in) {
    const int64_t rank = static_cast<int64_t>(in.shape.size());
    if (IntAttrOr(attrs, "keepdims", 1) != 1) return std::nullopt;
    auto it = attrs.find("axes");
    if (it == attrs.end() || !std::holds_alternative<std::vector<int64_t>>(it->second)) {
      return std::nullopt;
    }
    std::vector<int64_t> axes = std::get<std::vector<int64_t>>(it->second);
    for (int64_t& a : axes) {
      if (a < -rank || a >= rank) return std::nullopt;
      if (a < 0) a += rank;
    }
    std::sort(axes.begin(), axes.end());
    // Distinct and contiguous, ending at the last axis.
    if (axes.empty() || axes.back() != rank - 1 ||
        std::adjacent_find(axes.begin(), axes.end()) != axes.end() ||
        axes.back() - axes.front() + 1 != static_cast<int64_t>(axes.size())) {
      return std::nullopt;
    }
    return axes.front();
  }

  const Model& model_;
  const ExecGraph& g_;
  Readers readers_;
  std::map<uint32_t, std::string> param_of_;
};

}  // namespace

StatusOr<int> FuseLayerNorms(Model& model) {
  int fused = 0;
  // Matched on the model as it was; rewriting a chain's last node leaves the other chains
  // (which share no node with it) as they were.
  const Matcher matcher(model);
  std::vector<std::pair<size_t, std::pair<GraphNode, Attrs>>> rewrites;
  for (size_t n = 0; n < model.graph.nodes.size(); ++n) {
    Attrs attrs;
    if (auto match = matcher.Match(n, &attrs)) {
      rewrites.push_back({match->first, {std::move(match->second), std::move(attrs)}});
    }
  }
  for (auto& [at, node] : rewrites) {
    model.graph.nodes[at] = std::move(node.first);
    model.node_attrs[at] = std::move(node.second);
    ++fused;
  }
  // The rest of each chain now feeds nothing: RemoveDeadNodes takes it away.
  return fused;
}

}  // namespace ferry::compiler
