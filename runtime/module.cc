#include "runtime/module.h"

namespace ferry {

ModuleNode::~ModuleNode() = default;

StatusOr<std::string> ModuleNode::SaveToBinary() const {
  return UnimplementedError("module of type '" + type_key() + "' cannot be serialised");
}

void ModuleNode::Import(Module module) {
  FERRY_CHECK(!module.is_null()) << "importing a null module";
  imports_.push_back(std::move(module));
}

namespace {

std::optional<PackedFunc> FindInImports(const Module& module, const std::string& name) {
  for (const Module& imported : module.imports()) {
    if (auto f = imported->GetFunction(name)) return f;
    if (auto f = FindInImports(imported, name)) return f;
  }
  return std::nullopt;
}

}  // namespace

StatusOr<PackedFunc> Module::GetFunction(const std::string& name, bool query_imports) const {
  FERRY_CHECK(node_) << "GetFunction on a null module";
  if (auto f = node_->GetFunction(name)) return *f;
  if (query_imports) {
    if (auto f = FindInImports(*this, name)) return *f;
  }
  return NotFoundError("module '" + node_->type_key() + "' has no function '" + name + "'");
}

}  // namespace ferry
