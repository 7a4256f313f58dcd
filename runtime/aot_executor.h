// The ahead-of-time executor: calls the model's generated entry function (FerryAotEntry,
// kernel_abi.h), which runs the nodes in order over a workspace laid out at compile time.
// Module type key "aot_executor"; functions as documented in executor_node.h.
#ifndef FERRY_RUNTIME_AOT_EXECUTOR_H_
#define FERRY_RUNTIME_AOT_EXECUTOR_H_

#include <memory>

#include "runtime/library_manifest.h"
#include "runtime/module.h"
#include "runtime/params.h"
#include "runtime/shared_library.h"

namespace ferry {

// `packaged_params`: as for CreateGraphExecutor (graph_executor.h). Errors: kInvalidArgument
// when the library lacks the entry symbol or a packaged array does not match its parameter;
// allocation errors.
StatusOr<Module> CreateAotExecutor(ObjectPtr<SharedLibrary> library,
                                   std::shared_ptr<const ModelRecord> record,
                                   const ParamMap& packaged_params);

}  // namespace ferry

#endif  // FERRY_RUNTIME_AOT_EXECUTOR_H_
