// ExecGraph: the executable form of a model that a model library carries.
//
// A graph is a list of tensor entries (each with a static shape and dtype) and a list of nodes
// in execution order. Every entry is exactly one of: a model input, a parameter, or the
// output of one node. Each node names the operator function (FerryOpFunc, kernel_abi.h)
// exported by the library that computes it; the function receives the node's input entries
// followed by its output entries. Model outputs are entries produced by nodes.
#ifndef FERRY_RUNTIME_GRAPH_H_
#define FERRY_RUNTIME_GRAPH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/binary_io.h"
#include "runtime/data_type.h"
#include "runtime/status.h"

namespace ferry {

struct TensorInfo {
  std::vector<int64_t> shape;
  DataType dtype;

  // "float32[1, 3, 32, 32]".
  std::string ToString() const;
  friend bool operator==(const TensorInfo&, const TensorInfo&) = default;
};

struct NamedEntry {
  std::string name;
  uint32_t entry = 0;
};

struct GraphNode {
  std::string name;       // unique within the graph, e.g. "conv1"
  std::string op;         // operator name, e.g. "conv2d"
  std::string func_name;  // exported symbol of the operator function
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
};

struct ExecGraph {
  std::vector<TensorInfo> entries;
  std::vector<NamedEntry> inputs;
  std::vector<NamedEntry> params;
  std::vector<uint32_t> outputs;
  std::vector<GraphNode> nodes;  // in execution order

  // Checks the invariants stated at the top of this file, plus: names are non-empty, unique
  // among inputs and params, and free of control characters; shapes have non-negative
  // dimensions and at most 8 of them with an element count that fits int64; no node reads an
  // entry before it is produced; model outputs are distinct. Errors: kInvalidArgument.
  Status Validate() const;

  // Appends the binary form (docs/library-format.md) to `writer`.
  void Serialize(BinaryWriter& writer) const;
  // Reads the binary form and validates it. Errors: kInvalidArgument.
  static StatusOr<ExecGraph> Deserialize(BinaryReader& reader);
};

}  // namespace ferry

#endif  // FERRY_RUNTIME_GRAPH_H_
