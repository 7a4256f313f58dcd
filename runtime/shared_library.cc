#include "runtime/shared_library.h"

#include <dlfcn.h>
#include <link.h>

#include <filesystem>

namespace ferry {

StatusOr<ObjectPtr<SharedLibrary>> SharedLibrary::Open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFoundError("no such file: " + path);
  // dlopen treats names without a slash as search-path lookups; make the path explicit.
  std::string explicit_path = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  void* handle = dlopen(explicit_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    return InvalidArgumentError("cannot load " + path + " as a shared library: " +
                                (reason != nullptr ? reason : "unknown loader error"));
  }
  return ObjectPtr<SharedLibrary>(new SharedLibrary(handle, path));
}

SharedLibrary::~SharedLibrary() { dlclose(handle_); }

void* SharedLibrary::FindSymbol(const std::string& name) const {
  return dlsym(handle_, name.c_str());
}

StatusOr<std::string_view> SharedLibrary::FindDataSymbol(const std::string& name) const {
  void* address = FindSymbol(name);
  if (address == nullptr) return NotFoundError(path_ + " has no symbol " + name);
  Dl_info info;
  void* symbol_entry = nullptr;
  const bool found = dladdr1(address, &info, &symbol_entry, RTLD_DL_SYMENT) != 0;
  const auto* symbol = static_cast<const ElfW(Sym)*>(symbol_entry);
  if (!found || symbol == nullptr || symbol->st_size == 0) {
    return InvalidArgumentError("symbol " + name + " in " + path_ + " has no recorded size");
  }
  return std::string_view(static_cast<const char*>(address), symbol->st_size);
}

}  // namespace ferry
