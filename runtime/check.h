// FERRY_CHECK: broken preconditions (bugs) throw CheckError, which request loops catch once
// and turn into a kInternal reply. Expected failures use Status instead.
//
//   FERRY_CHECK(index < size) << "index " << index << " out of range";
#ifndef FERRY_RUNTIME_CHECK_H_
#define FERRY_RUNTIME_CHECK_H_

#include <sstream>
#include <stdexcept>
#include <string>

namespace ferry {

class CheckError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace internal {

// Collects the streamed message and throws from its destructor (it is a temporary that lives
// only for the failing check's full expression).
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    stream_ << file << ":" << line << ": check failed: " << condition << " ";
  }
  ~CheckFailure() noexcept(false) { throw CheckError(stream_.str()); }
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace ferry

#define FERRY_CHECK(condition) \
  if (condition) {             \
  } else                       \
    ::ferry::internal::CheckFailure(__FILE__, __LINE__, #condition)

#endif  // FERRY_RUNTIME_CHECK_H_
