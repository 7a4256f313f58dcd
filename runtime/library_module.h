// Model libraries at run time: load_module and the module it returns (TVM's
// `lib = tvm.runtime.load_module("m.so")`).
//
// The library module (type key "library") resolves:
//   <model key>(device) -> Module   a new executor of that model (graph_executor or
//                                   aot_executor, as the library was built) with its packaged
//                                   parameters already set. Only CPU devices are supported
//                                   by the current kernels (kUnimplemented otherwise).
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

// Loads a model library. Errors: kNotFound for a missing file; kInvalidArgument for a file
// that is not a loadable shared object, a shared object without Ferry's manifest, or a
// corrupt manifest.
StatusOr<Module> LoadModule(const std::string& path);

// The manifest of a module returned by LoadModule (for tools such as `ferry inspect`).
// Errors: kInvalidArgument when `module` is not a library module.
StatusOr<std::shared_ptr<const LibraryManifest>> GetLibraryManifest(const Module& module);

}  // namespace ferry

#endif  // FERRY_RUNTIME_LIBRARY_MODULE_H_
