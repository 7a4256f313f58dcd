#include "compiler/onnx/onnx_importer.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <map>
#include <set>

#include "compiler/onnx/converters.h"
#include "compiler/onnx/import_context.h"
#include "compiler/onnx/tensor_proto.h"
#include "compiler/passes.h"
#include "runtime/file_util.h"

namespace ferry::compiler::onnx_import {
namespace {

StatusOr<int64_t> DefaultDomainOpset(const onnx::ModelProto& model) {
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    if (opset.domain().empty() || opset.domain() == "ai.onnx") {
      if (opset.version() < kMinOpset || opset.version() > kMaxOpset) {
        return UnimplementedError("opset " + std::to_string(opset.version()) +
                                  " (Ferry imports opsets " + std::to_string(kMinOpset) + "-" +
                                  std::to_string(kMaxOpset) + ")");
      }
      return opset.version();
    }
  }
  return InvalidArgumentError("the model imports no opset of the default ONNX domain");
}

// The static shape of graph input `info`, from the options or the model.
StatusOr<std::vector<int64_t>> InputShape(const onnx::ValueInfoProto& info,
                                          const OnnxImportOptions& options) {
  const std::string& name = info.name();
  const onnx::TypeProto::Tensor& tensor = info.type().tensor_type();
  const bool has_shape = tensor.has_shape();
  auto given = options.input_shapes.find(name);
  if (given != options.input_shapes.end()) {
    if (has_shape && tensor.shape().dim_size() != static_cast<int>(given->second.size())) {
      return InvalidArgumentError("input '" + name + "' has rank " +
                                  std::to_string(tensor.shape().dim_size()) + ", but --input-shape gives " +
                                  ShapeToString(given->second));
    }
    for (int i = 0; has_shape && i < tensor.shape().dim_size(); ++i) {
      const auto& dim = tensor.shape().dim(i);
      if (dim.has_dim_value() && dim.dim_value() != given->second[i]) {
        return InvalidArgumentError("input '" + name + "' has dimension " + std::to_string(i) +
                                    " = " + std::to_string(dim.dim_value()) +
                                    ", but --input-shape gives " + ShapeToString(given->second));
      }
    }
    return given->second;
  }
  if (!has_shape) {
    return InvalidArgumentError("input '" + name + "' has no shape; give it with --input-shape " +
                                name + "=D0,D1,...");
  }
  std::vector<int64_t> shape;
  for (int i = 0; i < tensor.shape().dim_size(); ++i) {
    const auto& dim = tensor.shape().dim(i);
    if (!dim.has_dim_value() || dim.dim_value() < 0) {
      const std::string label = dim.has_dim_param() ? "'" + dim.dim_param() + "'" : "unknown";
      return InvalidArgumentError("input '" + name + "' has a dynamic dimension " +
                                  std::to_string(i) + " (" + label + "); fix it with --input-shape " +
                                  name + "=D0,D1,...");
    }
    shape.push_back(dim.dim_value());
  }
  return shape;
}

Status DefineInputs(const onnx::GraphProto& graph, const OnnxImportOptions& options,
                    ImportContext& ctx) {
  std::set<std::string> initializers, inputs;
  if (graph.sparse_initializer_size() > 0) {
    return UnimplementedError("sparse initializers ('" + graph.sparse_initializer(0).values().name() +
                              "' ...) are not supported");
  }
  for (const onnx::TensorProto& init : graph.initializer()) {
    ASSIGN_OR_RETURN(NDArray value, TensorFromProto(init));
    ASSIGN_OR_RETURN(Value v, ctx.MakeConstant(std::move(value), init.name()));
    RETURN_IF_ERROR(ctx.Define(init.name(), std::move(v)));
    initializers.insert(init.name());
  }
  for (const onnx::ValueInfoProto& input : graph.input()) {
    const std::string& name = input.name();
    inputs.insert(name);
    if (initializers.count(name)) continue;  // IR < 4 lists initializers as inputs too
    if (!input.type().has_tensor_type()) {
      return UnimplementedError("input '" + name + "' is not a tensor");
    }
    StatusOr<DataType> dtype = DataTypeFromOnnx(input.type().tensor_type().elem_type());
    if (!dtype.ok()) return dtype.status().WithContext("input '" + name + "'");
    auto bound = options.bound_inputs.find(name);
    if (bound != options.bound_inputs.end()) {
      if (!(bound->second.dtype() == *dtype)) {
        return InvalidArgumentError("the value bound to input '" + name + "' is " +
                                    bound->second.dtype().ToString() + "; the model expects " +
                                    dtype->ToString());
      }
      const auto& declared = input.type().tensor_type();
      bool matches = !declared.has_shape() ||
                     declared.shape().dim_size() == static_cast<int>(bound->second.ndim());
      for (int i = 0; matches && declared.has_shape() && i < declared.shape().dim_size(); ++i) {
        const auto& dim = declared.shape().dim(i);
        matches = !dim.has_dim_value() || dim.dim_value() == bound->second.shape()[i];
      }
      if (!matches) {
        return InvalidArgumentError("the value bound to input '" + name + "' has shape " +
                                    ShapeToString(bound->second.shape()) +
                                    ", which the model's declaration does not allow");
      }
      ASSIGN_OR_RETURN(Value v, ctx.MakeConstant(bound->second, name));
      RETURN_IF_ERROR(ctx.Define(name, std::move(v)));
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<int64_t> shape, InputShape(input, options));
    ASSIGN_OR_RETURN(Tensor t, ctx.builder().Input(name, shape, *dtype));
    Value v;
    v.info = ctx.builder().info(t);
    v.tensor = t;
    RETURN_IF_ERROR(ctx.Define(name, std::move(v)));
    ctx.MarkGraphInput(name);
  }
  for (const auto& [name, shape] : options.input_shapes) {
    if (!inputs.count(name)) return InvalidArgumentError("the model has no input '" + name + "'");
  }
  for (const auto& [name, value] : options.bound_inputs) {
    if (!inputs.count(name)) return InvalidArgumentError("the model has no input '" + name + "'");
  }
  return Status::Ok();
}

Status ConvertNode(ImportContext& ctx, const onnx::NodeProto& node, int index) {
  const std::string base =
      node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
  const std::string label = "node '" + base + "' (" + node.op_type() + ")";
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return UnimplementedError(label + ": operators of domain '" + node.domain() +
                              "' are not supported");
  }
  const Converter* converter = FindConverter(node.op_type());
  if (converter == nullptr) {
    return UnimplementedError(label + ": operator " + node.op_type() + " is not supported");
  }
  NodeContext node_ctx(ctx, node, base);
  // A memory-reuse hint of opsets 1-5 with no effect on results.
  node_ctx.attrs().Ignore("consumed_inputs");
  Status converted = converter->convert(node_ctx);
  if (converted.ok()) converted = node_ctx.attrs().CheckAllRead();
  return converted.WithContext(label);
}

Status DefineOutputs(const onnx::GraphProto& graph, ImportContext& ctx) {
  for (const onnx::ValueInfoProto& output : graph.output()) {
    const std::string label = "output '" + output.name() + "'";
    ASSIGN_OR_RETURN(Value v, ctx.Lookup(output.name()));
    if (output.type().has_tensor_type() && output.type().tensor_type().elem_type() != 0) {
      StatusOr<DataType> declared = DataTypeFromOnnx(output.type().tensor_type().elem_type());
      if (!declared.ok()) return declared.status().WithContext(label);
      if (!(*declared == v.info.dtype)) {
        return InternalError(label + " is " + declared->ToString() + " in the model, but Ferry computes " +
                             v.info.ToString());
      }
    }
    ASSIGN_OR_RETURN(Tensor t, ctx.Materialize(v));
    // Model outputs must be distinct node outputs: constants, inputs and repeats get a copy.
    if (v.is_constant() || !ctx.builder().Output(t).ok()) {
      ASSIGN_OR_RETURN(Tensor copy, ctx.builder().Op("copy", {t}, {},
                                                     ctx.UniqueName("output:" + output.name())));
      RETURN_IF_ERROR(ctx.builder().Output(copy).WithContext(label));
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<onnx::ModelProto> LoadOnnxModel(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    return InvalidArgumentError(path + " is not an ONNX model (the protobuf does not parse)");
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return InvalidArgumentError(path + " fails the ONNX checker: " + e.what());
  }
  return model;
}

StatusOr<Model> ImportOnnxModel(const onnx::ModelProto& model, const OnnxImportOptions& options) {
  if (options.key.empty()) return InvalidArgumentError("the model needs a key");
  ASSIGN_OR_RETURN(int64_t opset, DefaultDomainOpset(model));
  const onnx::GraphProto& graph = model.graph();
  ImportContext ctx(options.key, opset);
  RETURN_IF_ERROR(DefineInputs(graph, options, ctx));
  for (int i = 0; i < graph.node_size(); ++i) {
    RETURN_IF_ERROR(ConvertNode(ctx, graph.node(i), i));
  }
  RETURN_IF_ERROR(DefineOutputs(graph, ctx));
  ASSIGN_OR_RETURN(Model imported, std::move(ctx.builder()).Finish());
  if (options.optimize) RETURN_IF_ERROR(OptimizeModel(imported));
  return imported;
}

StatusOr<Model> ImportOnnxFile(const std::string& path, const OnnxImportOptions& options) {
  ASSIGN_OR_RETURN(onnx::ModelProto model, LoadOnnxModel(path));
  StatusOr<Model> imported = ImportOnnxModel(model, options);
  if (!imported.ok()) return imported.status().WithContext(path);
  return imported;
}

std::vector<std::string> ConstantOperandInputs(const onnx::ModelProto& model) {
  std::set<std::string> graph_inputs, initializers, result;
  for (const onnx::TensorProto& init : model.graph().initializer()) initializers.insert(init.name());
  for (const onnx::ValueInfoProto& input : model.graph().input()) {
    if (!initializers.count(input.name())) graph_inputs.insert(input.name());
  }
  std::map<std::string, const onnx::NodeProto*> producer;
  for (const onnx::NodeProto& node : model.graph().node()) {
    for (const std::string& out : node.output()) producer[out] = &node;
  }
  // Follows a build-time operand back to the graph inputs it is computed from. Shape needs
  // only its input's (static) shape, so the walk stops there.
  std::set<std::string> visited;
  std::vector<std::string> pending;
  auto require = [&](const std::string& name) {
    if (!name.empty() && visited.insert(name).second) pending.push_back(name);
  };
  for (const onnx::NodeProto& node : model.graph().node()) {
    const Converter* converter = FindConverter(node.op_type());
    if (converter == nullptr) continue;
    for (int index : converter->constant_inputs) {
      if (index < node.input_size()) require(node.input(index));
    }
  }
  while (!pending.empty()) {
    const std::string name = pending.back();
    pending.pop_back();
    if (graph_inputs.count(name)) result.insert(name);
    auto it = producer.find(name);
    if (it == producer.end() || it->second->op_type() == "Shape") continue;
    for (const std::string& input : it->second->input()) require(input);
  }
  return {result.begin(), result.end()};
}

std::vector<std::string> SupportedOnnxOperators() { return SupportedOnnxOps(); }

}  // namespace ferry::compiler::onnx_import
