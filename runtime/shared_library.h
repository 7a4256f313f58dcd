// SharedLibrary: an open dlopen handle, closed when the last reference goes away.
//
// Executors and kernel functions created from a model library hold a reference, so the code
// they call stays mapped while they live.
#ifndef FERRY_RUNTIME_SHARED_LIBRARY_H_
#define FERRY_RUNTIME_SHARED_LIBRARY_H_

#include <string>
#include <string_view>

#include "runtime/object.h"
#include "runtime/status.h"

namespace ferry {

class SharedLibrary : public Object {
 public:
  // dlopens `path` with RTLD_NOW | RTLD_LOCAL. Errors: kNotFound for a missing file,
  // kInvalidArgument with the loader's message for anything it cannot load (a truncated file,
  // not an ELF shared object, an unresolved symbol).
  static StatusOr<ObjectPtr<SharedLibrary>> Open(const std::string& path);
  ~SharedLibrary() override;

  // The address of exported symbol `name`, or nullptr.
  void* FindSymbol(const std::string& name) const;
  // The bytes of exported data symbol `name`, sized by its ELF symbol table entry.
  // Errors: kNotFound when absent; kInvalidArgument when the symbol has no recorded size.
  StatusOr<std::string_view> FindDataSymbol(const std::string& name) const;

  const std::string& path() const { return path_; }

 private:
  SharedLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  void* handle_;
  std::string path_;
};

}  // namespace ferry

#endif  // FERRY_RUNTIME_SHARED_LIBRARY_H_
