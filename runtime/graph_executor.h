// The graph executor: interprets a model's graph node by node, calling the operator
// functions its library exports, with intermediates placed in one arena by PlanMemory.
// Module type key "graph_executor"; functions as documented in executor_node.h.
#ifndef FERRY_RUNTIME_GRAPH_EXECUTOR_H_
#define FERRY_RUNTIME_GRAPH_EXECUTOR_H_

#include <memory>

#include "runtime/library_manifest.h"
#include "runtime/module.h"
#include "runtime/shared_library.h"

namespace ferry {

// Errors: kInvalidArgument when the library lacks a node's operator function; allocation
// errors; errors of the packaged parameters.
StatusOr<Module> CreateGraphExecutor(ObjectPtr<SharedLibrary> library,
                                     std::shared_ptr<const ModelRecord> record);

}  // namespace ferry

#endif  // FERRY_RUNTIME_GRAPH_EXECUTOR_H_
