// export_library: turns models into one model library (.so) through the system C++ compiler.
//
// Each model gets its own key and executor kind. The library exports one operator function
// per node, an AOT entry per AOT model, and the manifest (graphs, parameters when packaged)
// under kManifestSymbol; the kernels it needs are linked in statically from ferry_kernels,
// BLAS dynamically. With package_params=false the parameters of all models go to
// `<path>.params` instead (the params format; an executor's load_params reads it).
#ifndef FERRY_COMPILER_EXPORT_LIBRARY_H_
#define FERRY_COMPILER_EXPORT_LIBRARY_H_

#include <chrono>
#include <span>
#include <string>

#include "compiler/blocked_layouts.h"
#include "compiler/model.h"
#include "runtime/library_manifest.h"

namespace ferry::compiler {

struct ModelBuild {
  const Model* model = nullptr;
  ExecutorKind executor = ExecutorKind::kGraph;
};

struct ExportOptions {
  bool package_params = true;
  // The C++ compiler: empty means $FERRY_CXX, else the compiler Ferry was built with.
  std::string cxx;
  std::chrono::milliseconds compile_timeout{std::chrono::minutes(5)};
  // Keep the generated source beside the library as `<path>.cc` (for inspection).
  bool keep_source = false;
  // Convolutional parts on oneDNN in blocked layouts (blocked_layouts.h) when this build has
  // oneDNN, in `layout`; false keeps every node on the plain kernels (OpenBLAS convolutions).
  bool blocked_layouts = true;
  BlockedLayout layout = BlockedLayout::kAuto;
};

// Writes the library to `path` atomically (a failed export leaves no file there).
// Errors: kInvalidArgument for no models, duplicate keys, an invalid graph or a node that does
// not lower; kUnavailable/kDeadlineExceeded/kInternal when the compiler cannot be run, times
// out or fails (with its output).
Status ExportLibrary(std::span<const ModelBuild> models, const std::string& path,
                     const ExportOptions& options = {});

// The path of the separate params file for a library at `library_path`.
std::string ParamsPathFor(const std::string& library_path);

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_EXPORT_LIBRARY_H_
