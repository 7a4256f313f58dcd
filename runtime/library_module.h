// Model libraries at run time: load_module and the module it returns (TVM's
// `lib = tvm.runtime.load_module("m.so")`).
//
// The library module (type key "library") resolves:
//   <model key>(device) -> Module   a new executor of that model (graph_executor or
//                                   aot_executor, as the library was built) with its packaged
//                                   parameters already set. Only CPU devices are supported
//                                   by the current kernels (kUnimplemented otherwise). The
//                                   packaged parameters are not copied: every executor of
//                                   the model reads them where the dynamic loader mapped
//                                   the library (read-only), which stays loaded while any
//                                   of them lives.
//   <operator function>(NDArray...) the compiled operator function of a graph node, called
//                                   with the node's inputs then outputs, so one kernel can be
//                                   run or timed on its own.
// Each model also appears as an imported factory module (type key "<kind>_executor_factory")
// that resolves the same key.
#ifndef FERRY_RUNTIME_LIBRARY_MODULE_H_
#define FERRY_RUNTIME_LIBRARY_MODULE_H_

#include <memory>
#include <string>
#include <vector>

#include "runtime/library_manifest.h"
#include "runtime/module.h"

namespace ferry {

// Loads a model library. Its manifest's structure is checked (and its checksum, which covers
// the records but not the parameters of a version 2 manifest); the parameters are neither
// read nor checksummed, only their headers parsed. Errors: kNotFound for a missing file;
// kInvalidArgument for a file that is not a loadable shared object, a shared object without
// Ferry's manifest, or a corrupt manifest (including malformed parameter headers).
StatusOr<Module> LoadModule(const std::string& path);

// The manifest of a module returned by LoadModule (for tools such as `ferry inspect`). Its
// records reference the library's mapping (params_in_blob), and the pointer keeps the
// library loaded. Errors: kInvalidArgument when `module` is not a library module.
StatusOr<std::shared_ptr<const LibraryManifest>> GetLibraryManifest(const Module& module);

}  // namespace ferry

#endif  // FERRY_RUNTIME_LIBRARY_MODULE_H_
