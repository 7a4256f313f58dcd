// Status and StatusOr: expected failures as values (Abseil's shape, Ferry's small code set).
//
// A Status is either OK or carries a code chosen for what the caller should do next, and a
// human-readable message. StatusOr<T> holds a T or a non-OK Status. Both are [[nodiscard]].
#ifndef FERRY_RUNTIME_STATUS_H_
#define FERRY_RUNTIME_STATUS_H_

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/check.h"

namespace ferry {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong; retrying the same call will not help
  kNotFound,           // a named thing (function, file, model, input) does not exist
  kUnavailable,        // the peer or resource is gone: reconnect, retry
  kResourceExhausted,  // out of memory, quota or capacity: back off
  kDeadlineExceeded,   // the deadline passed before the work completed
  kUnimplemented,      // valid request, not supported by this build or device
  kPermissionDenied,   // not allowed
  kFailedPrecondition, // the system is not in the state the call needs (e.g. params not loaded)
  kInternal,           // a broken invariant: a bug
};

// The stable name of a code, e.g. "INVALID_ARGUMENT".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "context: message"; OK stays OK.
  Status WithContext(std::string_view context) const;

  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
inline Status DeadlineExceededError(std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(m));
}
inline Status UnimplementedError(std::string m) {
  return Status(StatusCode::kUnimplemented, std::move(m));
}
inline Status PermissionDeniedError(std::string m) {
  return Status(StatusCode::kPermissionDenied, std::move(m));
}
inline Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

// Thrown only by the throwing conveniences (PackedFunc::operator(), StatusOr::value() on an
// error); carries the Status so a request loop can turn it back into a reply.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(Status status)
      : std::runtime_error(status.ToString()), status_(std::move(status)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // Implicit from a value or from a non-OK status, so `return value;` and `return status;`
  // both work in a function returning StatusOr<T>.
  StatusOr(const T& value) : value_(value) {}             // NOLINT
  StatusOr(T&& value) : value_(std::move(value)) {}       // NOLINT
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    FERRY_CHECK(!status_.ok()) << "StatusOr constructed from an OK status without a value";
  }
  template <typename U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, Status> &&
             !std::is_same_v<std::decay_t<U>, T> && !std::is_same_v<std::decay_t<U>, StatusOr>)
  StatusOr(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Precondition: ok(). Throws StatusError carrying status() otherwise.
  T& value() & {
    ThrowIfError();
    return *value_;
  }
  const T& value() const& {
    ThrowIfError();
    return *value_;
  }
  T&& value() && {
    ThrowIfError();
    return std::move(*value_);
  }
  // The value, or `fallback` when this holds an error.
  T value_or(T fallback) const& { return value_.has_value() ? *value_ : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void ThrowIfError() const {
    if (!value_.has_value()) throw StatusError(status_);
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace ferry

#define FERRY_STATUS_CONCAT_INNER(a, b) a##b
#define FERRY_STATUS_CONCAT(a, b) FERRY_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::ferry::Status ferry_status_tmp_ = (expr);      \
    if (!ferry_status_tmp_.ok()) return ferry_status_tmp_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  FERRY_ASSIGN_OR_RETURN_IMPL(FERRY_STATUS_CONCAT(ferry_statusor_, __LINE__), lhs, expr)
#define FERRY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

#endif  // FERRY_RUNTIME_STATUS_H_
