#include "compiler/onnx/node_attributes.h"

#include "compiler/onnx/tensor_proto.h"

namespace ferry::compiler::onnx_import {

using onnx::AttributeProto;

const AttributeProto* NodeAttributes::Find(const std::string& name) const {
  for (const AttributeProto& a : node_.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

StatusOr<const AttributeProto*> NodeAttributes::Get(const std::string& name,
                                                    AttributeProto::AttributeType type) {
  read_.insert(name);
  const AttributeProto* a = Find(name);
  if (a == nullptr) return static_cast<const AttributeProto*>(nullptr);
  // Old exporters leave `type` unset; then the populated field decides.
  if (a->type() != AttributeProto::UNDEFINED && a->type() != type) {
    return InvalidArgumentError("attribute '" + name + "' has type " +
                                AttributeProto::AttributeType_Name(a->type()) + ", expected " +
                                AttributeProto::AttributeType_Name(type));
  }
  return a;
}

StatusOr<int64_t> NodeAttributes::Int(const std::string& name, int64_t fallback) {
  ASSIGN_OR_RETURN(const AttributeProto* a, Get(name, AttributeProto::INT));
  return a ? a->i() : fallback;
}

StatusOr<double> NodeAttributes::Float(const std::string& name, double fallback) {
  ASSIGN_OR_RETURN(const AttributeProto* a, Get(name, AttributeProto::FLOAT));
  return a ? static_cast<double>(a->f()) : fallback;
}

StatusOr<std::string> NodeAttributes::String(const std::string& name, std::string fallback) {
  ASSIGN_OR_RETURN(const AttributeProto* a, Get(name, AttributeProto::STRING));
  return a ? a->s() : fallback;
}

StatusOr<std::vector<int64_t>> NodeAttributes::Ints(const std::string& name,
                                                    std::vector<int64_t> fallback) {
  ASSIGN_OR_RETURN(const AttributeProto* a, Get(name, AttributeProto::INTS));
  if (a == nullptr) return fallback;
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

StatusOr<std::vector<double>> NodeAttributes::Floats(const std::string& name,
                                                     std::vector<double> fallback) {
  ASSIGN_OR_RETURN(const AttributeProto* a, Get(name, AttributeProto::FLOATS));
  if (a == nullptr) return fallback;
  return std::vector<double>(a->floats().begin(), a->floats().end());
}

StatusOr<NDArray> NodeAttributes::Tensor(const std::string& name) {
  ASSIGN_OR_RETURN(const AttributeProto* a, Get(name, AttributeProto::TENSOR));
  if (a == nullptr) return InvalidArgumentError("attribute '" + name + "' is required");
  return TensorFromProto(a->t());
}

Status NodeAttributes::CheckAllRead() const {
  for (const AttributeProto& a : node_.attribute()) {
    if (read_.count(a.name()) == 0) {
      return UnimplementedError("attribute '" + a.name() + "' is not supported");
    }
  }
  return Status::Ok();
}

}  // namespace ferry::compiler::onnx_import
