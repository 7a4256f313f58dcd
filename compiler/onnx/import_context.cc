#include "compiler/onnx/import_context.h"

#include "compiler/op_registry.h"

namespace ferry::compiler::onnx_import {

Status ImportContext::Define(const std::string& name, Value value) {
  if (name.empty()) return Status::Ok();
  value.name = name;
  if (!values_.emplace(name, std::move(value)).second) {
    return InvalidArgumentError("value '" + name + "' is defined twice");
  }
  return Status::Ok();
}

StatusOr<Value> ImportContext::Lookup(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    return InvalidArgumentError("value '" + name + "' is used before it is defined");
  }
  return it->second;
}

std::string ImportContext::UniqueName(const std::string& base) {
  const std::string root = base.empty() ? "node" : base;
  std::string name = root;
  for (int i = 2; names_.count(name) > 0; ++i) name = root + "_" + std::to_string(i);
  names_.insert(name);
  return name;
}

StatusOr<Value> ImportContext::MakeConstant(NDArray array, std::string name) {
  Value v;
  v.info = {array.shape(), array.dtype()};
  v.constant = std::move(array);
  v.name = std::move(name);
  return v;
}

StatusOr<Tensor> ImportContext::Materialize(const Value& value) {
  if (value.tensor) return *value.tensor;
  if (!value.is_constant()) return InternalError("value '" + value.name + "' has no tensor");
  auto it = parameters_.find(value.constant.data());
  if (it != parameters_.end() && it->second.first.shape() == value.constant.shape() &&
      it->second.first.dtype() == value.constant.dtype()) {
    return it->second.second;
  }
  ASSIGN_OR_RETURN(Tensor t, builder_.Param(UniqueName(value.name), value.constant));
  parameters_[value.constant.data()] = {value.constant, t};
  return t;
}

StatusOr<Value> ImportContext::Evaluate(const std::string& op, const std::vector<Value>& inputs,
                                        const Attrs& attrs) {
  std::vector<TensorInfo> infos;
  std::vector<DLTensor*> args;
  for (const Value& v : inputs) {
    infos.push_back(v.info);
    args.push_back(v.constant.dl_tensor());
  }
  ASSIGN_OR_RETURN(OpLowering lowered, LowerOp(op, infos, attrs));
  ASSIGN_OR_RETURN(NDArray out, NDArray::Empty(lowered.output.shape, lowered.output.dtype,
                                               Device::Cpu()));
  args.push_back(out.dl_tensor());
  FerryKernelError error{};
  if (lowered.evaluate(args.data(), static_cast<int32_t>(args.size()), &error) != 0) {
    error.message[sizeof(error.message) - 1] = '\0';
    return InvalidArgumentError(std::string("constant folding failed: ") + error.message);
  }
  return MakeConstant(std::move(out), "");
}

StatusOr<Value> ImportContext::Apply(const std::string& node_name, const std::string& op,
                                     const std::vector<Value>& inputs, const Attrs& attrs) {
  bool all_constant = !inputs.empty();
  for (const Value& v : inputs) all_constant = all_constant && v.is_constant();
  if (all_constant) {
    ASSIGN_OR_RETURN(Value folded, Evaluate(op, inputs, attrs));
    folded.name = node_name;
    return folded;
  }
  std::vector<Tensor> tensors;
  for (const Value& v : inputs) {
    ASSIGN_OR_RETURN(Tensor t, Materialize(v));
    tensors.push_back(t);
  }
  ASSIGN_OR_RETURN(Tensor out, builder_.Op(op, tensors, attrs, UniqueName(node_name)));
  Value v;
  v.info = builder_.info(out);
  v.tensor = out;
  v.name = node_name;
  return v;
}

bool NodeContext::Has(size_t i) const {
  return i < num_inputs() && !node_.input(static_cast<int>(i)).empty();
}

StatusOr<Value> NodeContext::In(size_t i) const {
  if (!Has(i)) return InvalidArgumentError("input " + std::to_string(i) + " is required");
  return import_.Lookup(node_.input(static_cast<int>(i)));
}

StatusOr<NDArray> NodeContext::Const(size_t i) const {
  ASSIGN_OR_RETURN(Value v, In(i));
  if (v.is_constant()) return v.constant;
  const std::string& name = node_.input(static_cast<int>(i));
  std::string message = "input " + std::to_string(i) + " ('" + name +
                        "') must be known when the model is built, but it is computed at run time";
  if (import_.IsGraphInput(name)) {
    message += "; it is the graph input '" + name + "': fix its value with --bind " + name +
               "=FILE (.npy or .pb)";
  }
  return FailedPreconditionError(message);
}

StatusOr<std::vector<int64_t>> NodeContext::ConstInts(size_t i) const {
  ASSIGN_OR_RETURN(NDArray a, Const(i));
  const DataType t = a.dtype();
  std::vector<int64_t> out(static_cast<size_t>(a.NumElements()));
  for (size_t k = 0; k < out.size(); ++k) {
    if (t == DataType::Int64()) {
      out[k] = a.data_as<int64_t>()[k];
    } else if (t == DataType::Int32()) {
      out[k] = a.data_as<int32_t>()[k];
    } else {
      return InvalidArgumentError("input " + std::to_string(i) + " must be int64 or int32, got " +
                                  t.ToString());
    }
  }
  return out;
}

StatusOr<std::vector<double>> NodeContext::ConstFloats(size_t i) const {
  ASSIGN_OR_RETURN(NDArray a, Const(i));
  const DataType t = a.dtype();
  std::vector<double> out(static_cast<size_t>(a.NumElements()));
  for (size_t k = 0; k < out.size(); ++k) {
    if (t == DataType::Float32()) {
      out[k] = a.data_as<float>()[k];
    } else if (t == DataType::Float64()) {
      out[k] = a.data_as<double>()[k];
    } else if (t == DataType::Int64()) {
      out[k] = static_cast<double>(a.data_as<int64_t>()[k]);
    } else if (t == DataType::Int32()) {
      out[k] = a.data_as<int32_t>()[k];
    } else {
      return InvalidArgumentError("input " + std::to_string(i) + " must be numeric, got " +
                                  t.ToString());
    }
  }
  return out;
}

StatusOr<Value> NodeContext::Apply(const std::string& op, const std::vector<Value>& inputs,
                                   const Attrs& attrs) {
  const std::string name = applied_++ == 0 ? name_ : name_ + "/" + op;
  return import_.Apply(name, op, inputs, attrs);
}

StatusOr<Value> NodeContext::Constant(NDArray array) {
  return import_.MakeConstant(std::move(array), name_);
}

bool NodeContext::OutputUsed(size_t i) const {
  return i < static_cast<size_t>(node_.output_size()) && !node_.output(static_cast<int>(i)).empty();
}

Status NodeContext::SetOutput(size_t i, Value value) {
  if (!OutputUsed(i)) return Status::Ok();
  return import_.Define(node_.output(static_cast<int>(i)), std::move(value));
}

}  // namespace ferry::compiler::onnx_import
