// The graph executor: interprets a model's graph node by node, calling the operator
// functions its library exports, with intermediates placed in one arena by PlanMemory.
// Module type key "graph_executor"; functions as documented in executor_node.h.
#ifndef FERRY_RUNTIME_GRAPH_EXECUTOR_H_
#define FERRY_RUNTIME_GRAPH_EXECUTOR_H_

#include <memory>

#include "runtime/library_manifest.h"
#include "runtime/module.h"
#include "runtime/params.h"
#include "runtime/shared_library.h"

namespace ferry {

// `packaged_params`: the model's packaged parameters (empty when it has none), used as they
// are, never written (executor_node.h); the executor keeps its own references to them.
// Errors: kInvalidArgument when the library lacks a node's operator function or a packaged
// array does not match its parameter; allocation errors.
StatusOr<Module> CreateGraphExecutor(ObjectPtr<SharedLibrary> library,
                                     std::shared_ptr<const ModelRecord> record,
                                     const ParamMap& packaged_params);

}  // namespace ferry

#endif  // FERRY_RUNTIME_GRAPH_EXECUTOR_H_
