#include "compiler/passes.h"

#include <algorithm>
#include <map>
#include <optional>

namespace ferry::compiler {
namespace {

using Shape = std::vector<int64_t>;


// The epilogue being assembled for one conv2d / dense node.
struct Fusion {
  bool bias = false, batch_norm = false;
  int64_t activation = 0;  // 0 none, 1 relu, 2 clip
  std::vector<uint32_t> extra_inputs;
  Attrs attrs;  // epilogue attributes to add
};

// Whether `node` (reading `from` as its first operand) can join `fusion`; extends it if so.
bool TryExtend(const ExecGraph& g, const GraphNode& node, const Attrs& attrs, uint32_t from,
               int64_t channel_axis, int64_t channels, bool is_dense, Fusion& f) {
  const size_t rank = g.entries[from].shape.size();
  auto is_channel_axis = [&](int64_t axis) {
    return axis == channel_axis || axis + static_cast<int64_t>(rank) == channel_axis;
  };
  if (f.activation != 0) return false;
  if (node.op == "bias_add" && !f.bias && !f.batch_norm && node.inputs[0] == from &&
      is_channel_axis(IntAttrOr(attrs, "axis", 1))) {
    f.bias = true;
    f.extra_inputs.push_back(node.inputs[1]);
    return true;
  }
  if (node.op == "add" && is_dense && !f.bias && !f.batch_norm && node.inputs.size() == 2) {
    const uint32_t other = node.inputs[0] == from ? node.inputs[1] : node.inputs[0];
    if (other == from || !(g.entries[other].shape == Shape{channels}) ||
        !(g.entries[other].dtype == DataType::Float32())) {
      return false;
    }
    f.bias = true;
    f.extra_inputs.push_back(other);
    return true;
  }
  if (node.op == "batch_norm" && !f.batch_norm && node.inputs[0] == from &&
      is_channel_axis(IntAttrOr(attrs, "axis", 1))) {
    f.batch_norm = true;
    f.attrs["epsilon"] = FloatAttrOr(attrs, "epsilon", 1e-5);
    f.extra_inputs.insert(f.extra_inputs.end(), node.inputs.begin() + 1, node.inputs.end());
    return true;
  }
  if (node.op == "relu") {
    f.activation = 1;
    return true;
  }
  if (node.op == "clip") {
    f.activation = 2;
    f.attrs["clip_min"] = FloatAttrOr(attrs, "min", 0.0);
    f.attrs["clip_max"] = FloatAttrOr(attrs, "max", 6.0);
    return true;
  }
  return false;
}

// Keeps the nodes flagged in `keep_node` and the entries flagged in `keep_entry` (which must
// cover everything the kept nodes, the inputs and the outputs use), drops parameters whose
// entry goes, and renumbers the remaining entries in their old order.
void Compact(Model& model, const std::vector<bool>& keep_node, const std::vector<bool>& keep_entry) {
  ExecGraph& g = model.graph;
  std::vector<uint32_t> renumber(g.entries.size(), UINT32_MAX);
  ExecGraph out;
  for (size_t e = 0; e < g.entries.size(); ++e) {
    if (!keep_entry[e]) continue;
    renumber[e] = static_cast<uint32_t>(out.entries.size());
    out.entries.push_back(g.entries[e]);
  }
  for (const NamedEntry& in : g.inputs) out.inputs.push_back({in.name, renumber[in.entry]});
  for (const NamedEntry& p : g.params) {
    if (keep_entry[p.entry]) {
      out.params.push_back({p.name, renumber[p.entry]});
    } else {
      model.params.erase(p.name);
    }
  }
  for (uint32_t e : g.outputs) out.outputs.push_back(renumber[e]);
  std::vector<Attrs> attrs;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (!keep_node[n]) continue;
    GraphNode node = std::move(g.nodes[n]);
    for (uint32_t& e : node.inputs) e = renumber[e];
    for (uint32_t& e : node.outputs) e = renumber[e];
    out.nodes.push_back(std::move(node));
    attrs.push_back(std::move(model.node_attrs[n]));
  }
  g = std::move(out);
  model.node_attrs = std::move(attrs);
}

// The entries that inputs, outputs and `keep_node`'s nodes use.
std::vector<bool> UsedEntries(const ExecGraph& g, const std::vector<bool>& keep_node) {
  std::vector<bool> used(g.entries.size(), false);
  for (const NamedEntry& in : g.inputs) used[in.entry] = true;
  for (uint32_t e : g.outputs) used[e] = true;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (!keep_node[n]) continue;
    for (uint32_t e : g.nodes[n].inputs) used[e] = true;
    for (uint32_t e : g.nodes[n].outputs) used[e] = true;
  }
  return used;
}

}  // namespace

StatusOr<int> FuseEpilogues(Model& model) {
  ExecGraph& g = model.graph;
  // Readers of each entry; a model output counts as a reader no node can fuse away.
  std::vector<int> readers(g.entries.size(), 0);
  std::vector<int> reader_node(g.entries.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (uint32_t e : g.nodes[n].inputs) {
      ++readers[e];
      reader_node[e] = static_cast<int>(n);
    }
  }
  for (uint32_t e : g.outputs) readers[e] += 2;
  std::vector<bool> removed(g.nodes.size(), false);
  int fused_away = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    GraphNode& head = g.nodes[n];
    if (removed[n] || (head.op != "conv2d" && head.op != "dense" && head.op != "matmul")) continue;
    const Attrs& head_attrs = model.node_attrs[n];
    if (IntAttrOr(head_attrs, "batch_norm", 0) || IntAttrOr(head_attrs, "activation", 0)) continue;
    // dense and matmul: the channels are the output's last axis (a matmul's may be the third
    // or later); conv2d: axis 1.
    const bool is_dense = head.op != "conv2d";
    const int64_t channel_axis =
        is_dense ? static_cast<int64_t>(g.entries[head.outputs[0]].shape.size()) - 1 : 1;
    Fusion f;
    f.bias = head.inputs.size() == 3 && IntAttrOr(head_attrs, "bias", 1) != 0;
    const int64_t channels = g.entries[head.outputs[0]].shape[channel_axis];
    uint32_t out = head.outputs[0];
    std::vector<size_t> chain;
    while (readers[out] == 1) {
      const size_t next = static_cast<size_t>(reader_node[out]);
      if (next >= g.nodes.size() || removed[next] ||
          !TryExtend(g, g.nodes[next], model.node_attrs[next], out, channel_axis, channels,
                     is_dense, f)) {
        break;
      }
      chain.push_back(next);
      out = g.nodes[next].outputs[0];
    }
    if (chain.empty()) continue;
    GraphNode fused = head;
    fused.inputs.insert(fused.inputs.end(), f.extra_inputs.begin(), f.extra_inputs.end());
    fused.outputs = {out};
    Attrs attrs = head_attrs;
    attrs.insert(f.attrs.begin(), f.attrs.end());
    attrs["bias"] = int64_t{f.bias};
    attrs["batch_norm"] = int64_t{f.batch_norm};
    attrs["activation"] = f.activation;
    // The fused node runs where the chain's last node ran: every extra input exists by then.
    const size_t last = chain.back();
    g.nodes[last] = std::move(fused);
    model.node_attrs[last] = std::move(attrs);
    removed[n] = true;
    for (size_t i = 0; i + 1 < chain.size(); ++i) removed[chain[i]] = true;
    fused_away += static_cast<int>(chain.size());
  }
  std::vector<bool> keep(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) keep[n] = !removed[n];
  // The fused-away intermediate results go with their nodes.
  Compact(model, keep, UsedEntries(g, keep));
  return fused_away;
}


StatusOr<int> RemoveDeadNodes(Model& model) {
  const ExecGraph& g = model.graph;
  std::vector<bool> live(g.entries.size(), false);
  for (uint32_t e : g.outputs) live[e] = true;
  std::vector<bool> keep(g.nodes.size(), false);
  int removed = 0;
  for (size_t n = g.nodes.size(); n-- > 0;) {
    const GraphNode& node = g.nodes[n];
    keep[n] = std::any_of(node.outputs.begin(), node.outputs.end(),
                          [&](uint32_t e) { return live[e]; });
    if (!keep[n]) {
      ++removed;
      continue;
    }
    for (uint32_t e : node.inputs) live[e] = true;
  }
  Compact(model, keep, UsedEntries(g, keep));
  return removed;
}

Status OptimizeModel(Model& model) {
  RETURN_IF_ERROR(FuseLayerNorms(model).status());
  RETURN_IF_ERROR(FuseEpilogues(model).status());
  RETURN_IF_ERROR(RemoveDeadNodes(model).status());
  ExecGraph check = model.graph;
  for (GraphNode& node : check.nodes) node.func_name = node.name;
  return check.Validate().WithContext("model '" + model.key + "' after optimisation");
}

}  // namespace ferry::compiler
