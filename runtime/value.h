// Value: what PackedFunc arguments and return values carry.
//
// One of: null, bool, int (int64), float (double), string, bytes, Device, DataType, NDArray,
// Module, PackedFunc. As<T>() converts with a clear kInvalidArgument on a kind mismatch
// ("expected NDArray but got int"); the only implicit conversion is int -> float.
#ifndef FERRY_RUNTIME_VALUE_H_
#define FERRY_RUNTIME_VALUE_H_

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "runtime/data_type.h"
#include "runtime/device.h"
#include "runtime/module.h"
#include "runtime/ndarray.h"
#include "runtime/packed_func.h"
#include "runtime/status.h"

namespace ferry {

// Raw bytes, distinct from text.
struct Bytes {
  std::string data;
  friend bool operator==(const Bytes& a, const Bytes& b) { return a.data == b.data; }
};

class Value {
 public:
  // The order matches the variant's alternatives.
  enum class Kind {
    kNull,
    kBool,
    kInt,
    kFloat,
    kString,
    kBytes,
    kDevice,
    kDataType,
    kNDArray,
    kModule,
    kPackedFunc,
  };

  Value() = default;
  Value(std::nullptr_t) {}                                   // NOLINT
  Value(bool v) : storage_(v) {}                             // NOLINT
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Value(T v) : storage_(static_cast<int64_t>(v)) {}          // NOLINT
  Value(double v) : storage_(v) {}                           // NOLINT
  Value(float v) : storage_(static_cast<double>(v)) {}       // NOLINT
  Value(std::string v) : storage_(std::move(v)) {}           // NOLINT
  Value(const char* v) : storage_(std::string(v)) {}         // NOLINT
  Value(std::string_view v) : storage_(std::string(v)) {}    // NOLINT
  Value(Bytes v) : storage_(std::move(v)) {}                 // NOLINT
  Value(Device v) : storage_(v) {}                           // NOLINT
  Value(DataType v) : storage_(v) {}                         // NOLINT
  Value(NDArray v) : storage_(std::move(v)) {}               // NOLINT
  Value(Module v) : storage_(std::move(v)) {}                // NOLINT
  Value(PackedFunc v) : storage_(std::move(v)) {}            // NOLINT

  Kind kind() const { return static_cast<Kind>(storage_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }

  // The value as T (one of bool, int64_t, int, double, std::string, Bytes, Device, DataType,
  // NDArray, Module, PackedFunc). Errors: kInvalidArgument naming both kinds.
  template <typename T>
  StatusOr<T> As() const;

  // A short description for messages: "int 3", "NDArray float32[1, 10] on cpu(0)".
  std::string ToString() const;

  friend bool operator==(const Value& a, const Value& b) { return a.storage_ == b.storage_; }

 private:
  using Storage = std::variant<std::monostate, bool, int64_t, double, std::string, Bytes, Device,
                               DataType, NDArray, Module, PackedFunc>;
  Status KindMismatch(Kind expected) const;

  Storage storage_;
};

// "null", "bool", "int", "float", "string", "bytes", "Device", "DataType", "NDArray",
// "Module", "PackedFunc".
std::string_view ValueKindName(Value::Kind kind);

template <typename T>
StatusOr<T> Value::As() const {
  if constexpr (std::is_same_v<T, double>) {
    if (auto* i = std::get_if<int64_t>(&storage_)) return static_cast<double>(*i);
    if (auto* d = std::get_if<double>(&storage_)) return *d;
    return KindMismatch(Kind::kFloat);
  } else if constexpr (std::is_same_v<T, int>) {
    if (auto* i = std::get_if<int64_t>(&storage_)) {
      if (*i < INT32_MIN || *i > INT32_MAX) {
        return InvalidArgumentError("integer " + std::to_string(*i) + " does not fit in int32");
      }
      return static_cast<int>(*i);
    }
    return KindMismatch(Kind::kInt);
  } else {
    constexpr Kind kKind = std::is_same_v<T, bool>          ? Kind::kBool
                           : std::is_same_v<T, int64_t>     ? Kind::kInt
                           : std::is_same_v<T, std::string> ? Kind::kString
                           : std::is_same_v<T, Bytes>       ? Kind::kBytes
                           : std::is_same_v<T, Device>      ? Kind::kDevice
                           : std::is_same_v<T, DataType>    ? Kind::kDataType
                           : std::is_same_v<T, NDArray>     ? Kind::kNDArray
                           : std::is_same_v<T, Module>      ? Kind::kModule
                                                            : Kind::kPackedFunc;
    if (auto* v = std::get_if<T>(&storage_)) return *v;
    return KindMismatch(kKind);
  }
}

// Argument helpers for PackedFunc bodies. `function` names the function in messages.
// Errors: kInvalidArgument "function 'f' expects 2 arguments, got 1".
Status CheckArgCount(std::string_view function, std::span<const Value> args, size_t expected);
// Errors: kInvalidArgument "argument 1 of 'f': expected NDArray but got int".
template <typename T>
StatusOr<T> GetArg(std::string_view function, std::span<const Value> args, size_t index) {
  if (index >= args.size()) {
    return InvalidArgumentError("function '" + std::string(function) + "' is missing argument " +
                                std::to_string(index));
  }
  StatusOr<T> v = args[index].As<T>();
  if (!v.ok()) {
    return v.status().WithContext("argument " + std::to_string(index) + " of '" +
                                  std::string(function) + "'");
  }
  return v;
}

template <typename... Args>
StatusOr<Value> PackedFunc::Call(Args&&... args) const {
  Value packed[sizeof...(Args) + 1] = {Value(std::forward<Args>(args))...};
  return CallPacked(std::span<const Value>(packed, sizeof...(Args)));
}

template <typename... Args>
Value PackedFunc::operator()(Args&&... args) const {
  return Call(std::forward<Args>(args)...).value();
}

}  // namespace ferry

#endif  // FERRY_RUNTIME_VALUE_H_
