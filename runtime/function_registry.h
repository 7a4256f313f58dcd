// FunctionRegistry: global functions by name ("runtime.GetDeviceAttr", "ferry.kernels.list").
//
// An ordinary object, created by whoever wires the process (main, a session server, a test)
// and passed to what needs it; there is no process-wide instance. Thread-safe.
#ifndef FERRY_RUNTIME_FUNCTION_REGISTRY_H_
#define FERRY_RUNTIME_FUNCTION_REGISTRY_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/packed_func.h"
#include "runtime/status.h"

namespace ferry {

class FunctionRegistry {
 public:
  // Errors: kInvalidArgument for an empty name or a null function; kInvalidArgument when the
  // name is taken and !allow_override.
  Status Register(const std::string& name, PackedFunc function, bool allow_override = false);
  // Errors: kNotFound.
  StatusOr<PackedFunc> Get(const std::string& name) const;
  // Returns whether a function was removed.
  bool Remove(const std::string& name);
  // Sorted names.
  std::vector<std::string> ListNames() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, PackedFunc> functions_;
};

}  // namespace ferry

#endif  // FERRY_RUNTIME_FUNCTION_REGISTRY_H_
