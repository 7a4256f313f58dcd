#include "runtime/function_registry.h"

namespace ferry {

Status FunctionRegistry::Register(const std::string& name, PackedFunc function,
                                  bool allow_override) {
  if (name.empty()) return InvalidArgumentError("cannot register a function without a name");
  if (function.is_null()) return InvalidArgumentError("cannot register null function '" + name + "'");
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = functions_.try_emplace(name, function);
  if (!inserted) {
    if (!allow_override) {
      return InvalidArgumentError("function '" + name + "' is already registered");
    }
    it->second = std::move(function);
  }
  return Status::Ok();
}

StatusOr<PackedFunc> FunctionRegistry::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = functions_.find(name);
  if (it == functions_.end()) return NotFoundError("no global function '" + name + "'");
  return it->second;
}

bool FunctionRegistry::Remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  return functions_.erase(name) > 0;
}

std::vector<std::string> FunctionRegistry::ListNames() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> names;
  names.reserve(functions_.size());
  for (const auto& [name, f] : functions_) names.push_back(name);
  return names;
}

}  // namespace ferry
