// PackedFunc: a type-erased function over Values (TVM's calling convention, Status-returning).
//
// A PackedFunc is a cheap, shareable handle. Calling it returns StatusOr<Value>; expected
// failures (a wrong argument kind, a missing input) come back as a Status, never thrown.
// operator() is a throwing convenience for scripts and tests. Include "runtime/value.h" to
// call one.
#ifndef FERRY_RUNTIME_PACKED_FUNC_H_
#define FERRY_RUNTIME_PACKED_FUNC_H_

#include <concepts>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "runtime/object.h"
#include "runtime/status.h"

namespace ferry {

class Value;

class PackedFuncNode : public Object {
 public:
  // Thread safety is the implementation's to state; the built-in ones are safe to call
  // concurrently only where their owner says so (executors are not).
  virtual StatusOr<Value> Call(std::span<const Value> args) const = 0;
};

class PackedFunc {
 public:
  using Body = std::function<StatusOr<Value>(std::span<const Value> args)>;

  PackedFunc() = default;
  // Any callable a Body can hold. A constrained template rather than PackedFunc(Body), so that
  // copying or moving a PackedFunc never asks whether a PackedFunc converts to a Body (which
  // needs the complete Value; clang with libstdc++ asks it inside Value's own definition).
  template <typename F>
    requires(!std::same_as<std::remove_cvref_t<F>, PackedFunc> && std::constructible_from<Body, F>)
  explicit PackedFunc(F&& body) : PackedFunc(Body(std::forward<F>(body)), kFromBody) {}
  explicit PackedFunc(ObjectPtr<PackedFuncNode> node) : node_(std::move(node)) {}

  // Precondition: !is_null().
  StatusOr<Value> CallPacked(std::span<const Value> args) const;
  // Converts each argument to a Value and calls; defined in value.h.
  template <typename... Args>
  StatusOr<Value> Call(Args&&... args) const;
  // Like Call, but throws StatusError on failure.
  template <typename... Args>
  Value operator()(Args&&... args) const;

  bool is_null() const { return !node_; }
  PackedFuncNode* get() const { return node_.get(); }
  friend bool operator==(const PackedFunc& a, const PackedFunc& b) { return a.node_ == b.node_; }

 private:
  enum FromBody { kFromBody };
  PackedFunc(Body body, FromBody);

  ObjectPtr<PackedFuncNode> node_;
};

}  // namespace ferry

#endif  // FERRY_RUNTIME_PACKED_FUNC_H_
