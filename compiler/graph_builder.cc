#include "compiler/graph_builder.h"

#include <algorithm>

#include "compiler/op_registry.h"

namespace ferry::compiler {

GraphBuilder::GraphBuilder(std::string key) { model_.key = std::move(key); }

Status GraphBuilder::CheckNewName(const std::string& name) const {
  const ExecGraph& g = model_.graph;
  auto has = [&](const std::vector<NamedEntry>& list) {
    return std::any_of(list.begin(), list.end(), [&](const NamedEntry& e) { return e.name == name; });
  };
  if (name.empty()) return InvalidArgumentError("empty input or parameter name");
  if (has(g.inputs) || has(g.params)) {
    return InvalidArgumentError("name '" + name + "' is already used in model '" + model_.key + "'");
  }
  return Status::Ok();
}

uint32_t GraphBuilder::AddEntry(TensorInfo info) {
  model_.graph.entries.push_back(std::move(info));
  return static_cast<uint32_t>(model_.graph.entries.size() - 1);
}

StatusOr<Tensor> GraphBuilder::Input(const std::string& name, std::vector<int64_t> shape,
                                     DataType dtype) {
  RETURN_IF_ERROR(CheckNewName(name));
  RETURN_IF_ERROR(ShapeNumElements(shape).status().WithContext("input '" + name + "'"));
  const uint32_t entry = AddEntry({std::move(shape), dtype});
  model_.graph.inputs.push_back({name, entry});
  return Tensor{entry};
}

StatusOr<Tensor> GraphBuilder::Param(const std::string& name, NDArray value) {
  RETURN_IF_ERROR(CheckNewName(name));
  if (value.is_null() || value.device().type != kDLCPU) {
    return InvalidArgumentError("parameter '" + name + "' must be a CPU array");
  }
  const uint32_t entry = AddEntry({value.shape(), value.dtype()});
  model_.graph.params.push_back({name, entry});
  model_.params.emplace(name, std::move(value));
  return Tensor{entry};
}

StatusOr<Tensor> GraphBuilder::Op(const std::string& op, std::vector<Tensor> inputs, Attrs attrs,
                                  std::string name) {
  ExecGraph& g = model_.graph;
  if (name.empty()) name = op + "_" + std::to_string(g.nodes.size());
  for (const GraphNode& node : g.nodes) {
    if (node.name == name) return InvalidArgumentError("node name '" + name + "' is used twice");
  }
  std::vector<TensorInfo> infos;
  GraphNode node{name, op, "", {}, {}};
  for (Tensor t : inputs) {
    if (t.entry >= g.entries.size()) {
      return InvalidArgumentError("node '" + name + "': input refers to an unknown tensor");
    }
    infos.push_back(g.entries[t.entry]);
    node.inputs.push_back(t.entry);
  }
  StatusOr<OpLowering> lowered = LowerOp(op, infos, attrs);
  if (!lowered.ok()) return lowered.status().WithContext("node '" + name + "'");
  node.outputs.push_back(AddEntry(lowered->output));
  const Tensor out{node.outputs[0]};
  g.nodes.push_back(std::move(node));
  model_.node_attrs.push_back(std::move(attrs));
  return out;
}

Status GraphBuilder::Output(Tensor tensor) {
  ExecGraph& g = model_.graph;
  const bool produced = std::any_of(g.nodes.begin(), g.nodes.end(), [&](const GraphNode& n) {
    return std::find(n.outputs.begin(), n.outputs.end(), tensor.entry) != n.outputs.end();
  });
  if (!produced) return InvalidArgumentError("a model output must be computed by a node");
  if (std::find(g.outputs.begin(), g.outputs.end(), tensor.entry) != g.outputs.end()) {
    return InvalidArgumentError("tensor is already a model output");
  }
  g.outputs.push_back(tensor.entry);
  return Status::Ok();
}

StatusOr<Model> GraphBuilder::Finish() && {
  // func_name is assigned at export; validate with a placeholder so the check runs now.
  ExecGraph check = model_.graph;
  for (GraphNode& node : check.nodes) node.func_name = node.name;
  RETURN_IF_ERROR(check.Validate().WithContext("model '" + model_.key + "'"));
  return std::move(model_);
}

}  // namespace ferry::compiler
