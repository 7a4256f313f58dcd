// Module: a named collection of PackedFuncs (TVM's Module/ModuleNode split).
//
// A Module is a shareable handle to a ModuleNode. Functions returned by GetFunction keep their
// module alive. Modules may import other modules (a library importing its factories).
#ifndef FERRY_RUNTIME_MODULE_H_
#define FERRY_RUNTIME_MODULE_H_

#include <optional>
#include <string>
#include <vector>

#include "runtime/object.h"
#include "runtime/packed_func.h"
#include "runtime/status.h"

namespace ferry {

class Module;

class ModuleNode : public Object {
 public:
  // Out of line: Module is incomplete here, and clang instantiates an inline destructor of
  // imports_ eagerly.
  ~ModuleNode() override;

  // A stable name of the module's kind, e.g. "library", "graph_executor".
  virtual std::string type_key() const = 0;

  // The function called `name`, or nullopt when this module has none. Implementations capture
  // ObjectPtr<ModuleNode>(this) in the closures they return so the module outlives them.
  virtual std::optional<PackedFunc> GetFunction(const std::string& name) = 0;

  // Names that GetFunction resolves, for listing; may be a subset for modules with open-ended
  // name spaces.
  virtual std::vector<std::string> ListFunctions() const { return {}; }

  // Serialises the module so a loader of its type_key can rebuild it. Default: kUnimplemented.
  virtual StatusOr<std::string> SaveToBinary() const;

  const std::vector<Module>& imports() const { return imports_; }
  void Import(Module module);

 private:
  std::vector<Module> imports_;
};

class Module {
 public:
  Module() = default;
  explicit Module(ObjectPtr<ModuleNode> node) : node_(std::move(node)) {}

  // Looks `name` up in this module, then (when query_imports) depth-first in its imports.
  // Errors: kNotFound naming the function and the module's type key.
  StatusOr<PackedFunc> GetFunction(const std::string& name, bool query_imports = false) const;

  std::string type_key() const { return node_->type_key(); }
  const std::vector<Module>& imports() const { return node_->imports(); }
  bool is_null() const { return !node_; }
  ModuleNode* get() const { return node_.get(); }
  ModuleNode* operator->() const { return node_.get(); }
  friend bool operator==(const Module& a, const Module& b) { return a.node_ == b.node_; }

 private:
  ObjectPtr<ModuleNode> node_;
};

}  // namespace ferry

#endif  // FERRY_RUNTIME_MODULE_H_
