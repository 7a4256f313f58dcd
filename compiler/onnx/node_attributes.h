// Typed, checked access to an ONNX node's attributes that remembers which ones a converter
// read, so that an attribute Ferry does not implement is an error instead of being ignored.
#ifndef FERRY_COMPILER_ONNX_NODE_ATTRIBUTES_H_
#define FERRY_COMPILER_ONNX_NODE_ATTRIBUTES_H_

#include <onnx/onnx_pb.h>

#include <set>
#include <string>
#include <vector>

#include "runtime/ndarray.h"
#include "runtime/status.h"

namespace ferry::compiler::onnx_import {

class NodeAttributes {
 public:
  explicit NodeAttributes(const onnx::NodeProto& node) : node_(node) {}

  bool Has(const std::string& name) const { return Find(name) != nullptr; }
  // Each returns `fallback` when the attribute is absent and kInvalidArgument naming it when
  // it has another type.
  StatusOr<int64_t> Int(const std::string& name, int64_t fallback);
  StatusOr<double> Float(const std::string& name, double fallback);
  StatusOr<std::string> String(const std::string& name, std::string fallback);
  StatusOr<std::vector<int64_t>> Ints(const std::string& name, std::vector<int64_t> fallback);
  StatusOr<std::vector<double>> Floats(const std::string& name, std::vector<double> fallback);
  // kInvalidArgument when absent.
  StatusOr<NDArray> Tensor(const std::string& name);

  // Marks an attribute as read without reading it (one that only affects training).
  void Ignore(const std::string& name) { read_.insert(name); }

  // kUnimplemented naming the first attribute no converter call read.
  Status CheckAllRead() const;

 private:
  const onnx::AttributeProto* Find(const std::string& name) const;
  // The attribute if present with type `type`; null when absent; error for another type.
  StatusOr<const onnx::AttributeProto*> Get(const std::string& name,
                                            onnx::AttributeProto::AttributeType type);

  const onnx::NodeProto& node_;
  std::set<std::string> read_;
};

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_NODE_ATTRIBUTES_H_
