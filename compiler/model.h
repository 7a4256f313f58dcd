// Model: a compiler-side model: an ExecGraph whose nodes carry operator attributes, and its
// parameter values. GraphBuilder produces it; export_library turns models into a library.
#ifndef FERRY_COMPILER_MODEL_H_
#define FERRY_COMPILER_MODEL_H_

#include <string>
#include <vector>

#include "compiler/attrs.h"
#include "runtime/graph.h"
#include "runtime/params.h"

namespace ferry::compiler {

struct Model {
  std::string key;
  // Node func_name fields are assigned by export_library.
  ExecGraph graph;
  std::vector<Attrs> node_attrs;  // parallel to graph.nodes
  ParamMap params;                // one array per graph parameter, CPU
};

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_MODEL_H_
