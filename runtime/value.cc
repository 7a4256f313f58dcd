#include "runtime/value.h"

namespace ferry {

std::string_view ValueKindName(Value::Kind kind) {
  static constexpr std::string_view kNames[] = {"null",    "bool",   "int",       "float",
                                                "string",  "bytes",  "Device",    "DataType",
                                                "NDArray", "Module", "PackedFunc"};
  return kNames[static_cast<int>(kind)];
}

Status Value::KindMismatch(Kind expected) const {
  return InvalidArgumentError("expected " + std::string(ValueKindName(expected)) + " but got " +
                              std::string(ValueKindName(kind())));
}

std::string Value::ToString() const {
  std::string name(ValueKindName(kind()));
  switch (kind()) {
    case Kind::kBool:
      return name + " " + (std::get<bool>(storage_) ? "true" : "false");
    case Kind::kInt:
      return name + " " + std::to_string(std::get<int64_t>(storage_));
    case Kind::kFloat:
      return name + " " + std::to_string(std::get<double>(storage_));
    case Kind::kString:
      return name + " \"" + std::get<std::string>(storage_) + "\"";
    case Kind::kBytes:
      return name + " (" + std::to_string(std::get<Bytes>(storage_).data.size()) + " bytes)";
    case Kind::kDevice:
      return name + " " + std::get<Device>(storage_).ToString();
    case Kind::kDataType:
      return name + " " + std::get<DataType>(storage_).ToString();
    case Kind::kNDArray:
      return name + " " + std::get<NDArray>(storage_).ToString();
    case Kind::kModule: {
      const Module& m = std::get<Module>(storage_);
      return name + " " + (m.is_null() ? "null" : m.type_key());
    }
    default:
      return name;
  }
}

Status CheckArgCount(std::string_view function, std::span<const Value> args, size_t expected) {
  if (args.size() != expected) {
    return InvalidArgumentError(
        "function '" + std::string(function) + "' expects " + std::to_string(expected) +
        " argument" + (expected == 1 ? "" : "s") + ", got " + std::to_string(args.size()));
  }
  return Status::Ok();
}

namespace {

class LambdaPackedFuncNode final : public PackedFuncNode {
 public:
  explicit LambdaPackedFuncNode(PackedFunc::Body body) : body_(std::move(body)) {}
  StatusOr<Value> Call(std::span<const Value> args) const override { return body_(args); }

 private:
  PackedFunc::Body body_;
};

}  // namespace

PackedFunc::PackedFunc(Body body, FromBody)
    : node_(MakeObject<LambdaPackedFuncNode>(std::move(body))) {}

StatusOr<Value> PackedFunc::CallPacked(std::span<const Value> args) const {
  FERRY_CHECK(node_) << "calling a null PackedFunc";
  return node_->Call(args);
}

}  // namespace ferry
