// The state of one ONNX graph's import: every ONNX value is either a constant (an initializer,
// a Constant node, or a node whose inputs were all constant: folded here by running Ferry's
// own kernel on them) or a tensor of the Ferry graph under construction. Converters
// (converters.h) see one node at a time through NodeContext.
#ifndef FERRY_COMPILER_ONNX_IMPORT_CONTEXT_H_
#define FERRY_COMPILER_ONNX_IMPORT_CONTEXT_H_

#include <onnx/onnx_pb.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compiler/graph_builder.h"
#include "compiler/onnx/node_attributes.h"

namespace ferry::compiler::onnx_import {

struct Value {
  TensorInfo info;
  NDArray constant;             // defined for a constant
  std::optional<Tensor> tensor;  // set for a tensor of the graph
  std::string name;             // the ONNX name, for messages and parameter names

  bool is_constant() const { return !constant.is_null(); }
};

class ImportContext {
 public:
  ImportContext(std::string key, int64_t opset) : builder_(std::move(key)), opset_(opset) {}

  GraphBuilder& builder() { return builder_; }
  int64_t opset() const { return opset_; }

  // Binds an ONNX value name. Errors: kInvalidArgument when the name is already bound (ONNX
  // graphs are in SSA form).
  Status Define(const std::string& name, Value value);
  // Errors: kInvalidArgument for a name no earlier node or graph input defines.
  StatusOr<Value> Lookup(const std::string& name) const;
  // The graph input a value name is, if any (for messages that suggest binding it).
  bool IsGraphInput(const std::string& name) const { return graph_inputs_.count(name) > 0; }
  void MarkGraphInput(const std::string& name) { graph_inputs_.insert(name); }

  StatusOr<Value> MakeConstant(NDArray array, std::string name);
  // The graph tensor of `value`; a constant becomes a parameter (once per array).
  StatusOr<Tensor> Materialize(const Value& value);
  // Adds `op` on `inputs`, or evaluates it right away when every input is a constant.
  StatusOr<Value> Apply(const std::string& node_name, const std::string& op,
                        const std::vector<Value>& inputs, const Attrs& attrs);
  // `base`, or `base` with a numeric suffix, unused so far by nodes and parameters.
  std::string UniqueName(const std::string& base);

 private:
  StatusOr<Value> Evaluate(const std::string& op, const std::vector<Value>& inputs,
                           const Attrs& attrs);

  GraphBuilder builder_;
  int64_t opset_;
  std::map<std::string, Value> values_;
  std::set<std::string> graph_inputs_;
  // Materialised constants by data pointer; holding the array keeps the address unique.
  std::map<const void*, std::pair<NDArray, Tensor>> parameters_;
  std::set<std::string> names_;
};

// One ONNX node under conversion.
class NodeContext {
 public:
  NodeContext(ImportContext& import, const onnx::NodeProto& node, std::string name)
      : import_(import), node_(node), attrs_(node), name_(std::move(name)) {}

  const onnx::NodeProto& node() const { return node_; }
  NodeAttributes& attrs() { return attrs_; }
  int64_t opset() const { return import_.opset(); }

  // Whether input i is given (present with a non-empty name).
  bool Has(size_t i) const;
  size_t num_inputs() const { return static_cast<size_t>(node_.input_size()); }
  // Errors: kInvalidArgument for a missing input.
  StatusOr<Value> In(size_t i) const;
  // The constant value of input i. Errors: kInvalidArgument when missing, kFailedPrecondition
  // when it is computed at run time (naming the graph input to bind when it is one).
  StatusOr<NDArray> Const(size_t i) const;
  // Const(i) as int64 values (any integer dtype).
  StatusOr<std::vector<int64_t>> ConstInts(size_t i) const;
  // Const(i) as doubles (any float or integer dtype).
  StatusOr<std::vector<double>> ConstFloats(size_t i) const;

  StatusOr<Value> Apply(const std::string& op, const std::vector<Value>& inputs,
                        const Attrs& attrs = {});
  StatusOr<Value> Constant(NDArray array);
  // Errors: kUnimplemented when output i is requested but `value` is missing.
  Status SetOutput(size_t i, Value value);
  // Whether output i is requested (present with a non-empty name).
  bool OutputUsed(size_t i) const;

 private:
  ImportContext& import_;
  const onnx::NodeProto& node_;
  NodeAttributes attrs_;
  std::string name_;
  int applied_ = 0;
};

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_IMPORT_CONTEXT_H_
