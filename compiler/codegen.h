// C++ source generation for a model library: one exported operator function per graph node
// (FerryOpFunc, calling its kernel with baked-in attributes), one FerryAotEntry per
// ahead-of-time model (the nodes in order over a static workspace layout), and the manifest
// blob embedded from a file under the symbol kManifestSymbol.
#ifndef FERRY_COMPILER_CODEGEN_H_
#define FERRY_COMPILER_CODEGEN_H_

#include <span>
#include <string>
#include <vector>

#include "compiler/attrs.h"
#include "runtime/graph.h"
#include "runtime/memory_plan.h"

namespace ferry::compiler {

struct CodegenModel {
  std::string key;
  const ExecGraph* graph = nullptr;  // node func_name fields set
  const std::vector<Attrs>* node_attrs = nullptr;
  // Empty for graph-executor models; otherwise the AOT entry symbol and its memory plan.
  std::string aot_entry;
  const MemoryPlan* plan = nullptr;
};

// Errors: those of LowerOp for a node that does not lower.
StatusOr<std::string> GenerateLibrarySource(std::span<const CodegenModel> models,
                                            const std::string& blob_path);

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_CODEGEN_H_
