// The ahead-of-time executor: calls the model's generated entry function (FerryAotEntry,
// kernel_abi.h), which runs the nodes in order over a workspace laid out at compile time.
// Module type key "aot_executor"; functions as documented in executor_node.h.
#ifndef FERRY_RUNTIME_AOT_EXECUTOR_H_
#define FERRY_RUNTIME_AOT_EXECUTOR_H_

#include <memory>

#include "runtime/library_manifest.h"
#include "runtime/module.h"
#include "runtime/shared_library.h"

namespace ferry {

// Errors: kInvalidArgument when the library lacks the entry symbol; allocation errors;
// errors of the packaged parameters.
StatusOr<Module> CreateAotExecutor(ObjectPtr<SharedLibrary> library,
                                   std::shared_ptr<const ModelRecord> record);

}  // namespace ferry

#endif  // FERRY_RUNTIME_AOT_EXECUTOR_H_
