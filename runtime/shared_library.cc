#include "runtime/shared_library.h"

#include <dlfcn.h>
#include <link.h>

#include <elf.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace ferry {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
#else
constexpr uint16_t kHostMachine = EM_NONE;
#endif

// Checks that `path` is a complete 64-bit ELF shared object for this machine before dlopen
// maps it: the loader maps segments past the end of a truncated file and the process dies of
// SIGBUS on first touch, so truncation must be caught here.
Status CheckElfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError("cannot open " + path);
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  auto fail = [&](const std::string& why) {
    return InvalidArgumentError(path + " is not a loadable shared library: " + why);
  };
  Elf64_Ehdr header;
  if (size < sizeof(header) || !in.read(reinterpret_cast<char*>(&header), sizeof(header))) {
    return fail("shorter than an ELF header");
  }
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) return fail("not an ELF file");
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_type != ET_DYN) {
    return fail("not a 64-bit ELF shared object");
  }
  if (kHostMachine != EM_NONE && header.e_machine != kHostMachine) {
    return fail("built for another machine (ELF machine " + std::to_string(header.e_machine) + ")");
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      header.e_phoff + uint64_t{header.e_phnum} * sizeof(Elf64_Phdr) > size) {
    return fail("truncated (program headers lie past the end of the file)");
  }
  if (header.e_shoff + uint64_t{header.e_shnum} * header.e_shentsize > size) {
    return fail("truncated (section headers lie past the end of the file)");
  }
  in.seekg(static_cast<std::streamoff>(header.e_phoff));
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    if (!in.read(reinterpret_cast<char*>(&segment), sizeof(segment))) {
      return fail("truncated program header");
    }
    if (segment.p_filesz > size || segment.p_offset > size - segment.p_filesz) {
      return fail("truncated (segment " + std::to_string(i) + " ends at byte " +
                  std::to_string(segment.p_offset + segment.p_filesz) + " of " +
                  std::to_string(size) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ObjectPtr<SharedLibrary>> SharedLibrary::Open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFoundError("no such file: " + path);
  RETURN_IF_ERROR(CheckElfFile(path));
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
