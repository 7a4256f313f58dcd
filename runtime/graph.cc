#include "runtime/graph.h"

#include <set>

#include "runtime/ndarray.h"

namespace ferry {
namespace {

constexpr size_t kMaxGraphDims = 8;
constexpr uint64_t kMaxEntries = 1 << 20;
constexpr uint64_t kMaxNodeArity = 1 << 12;
// The fewest bytes each item of the binary form takes, so that a count the remaining input
// cannot hold is refused before anything is allocated for it: an entry id (u32); a named
// entry (name length u64 + entry u32); a tensor (dtype u8 u8 u32 + rank u64); a node (three
// string lengths + two list counts, u64 each).
constexpr size_t kEntryIdBytes = 4;
constexpr size_t kMinNamedEntryBytes = 8 + 4;
constexpr size_t kMinTensorInfoBytes = 1 + 1 + 4 + 8;
constexpr size_t kMinNodeBytes = 5 * 8;
constexpr size_t kMaxNameBytes = 1 << 12;

Status CheckName(std::string_view what, const std::string& name) {
  if (name.empty()) return InvalidArgumentError(std::string(what) + " has an empty name");
  if (name.size() > kMaxNameBytes) {
    return InvalidArgumentError(std::string(what) + " name is longer than 4096 bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgumentError(std::string(what) + " name '" + name +
                                  "' contains a control character");
    }
  }
  return Status::Ok();
}

void WriteEntryList(BinaryWriter& writer, const std::vector<uint32_t>& list) {
  writer.WriteU64(list.size());
  for (uint32_t e : list) writer.WriteU32(e);
}

StatusOr<std::vector<uint32_t>> ReadEntryList(BinaryReader& reader, std::string_view what) {
  ASSIGN_OR_RETURN(uint64_t count, reader.ReadCount(what, kMaxNodeArity, kEntryIdBytes));
  std::vector<uint32_t> list(count);
  for (auto& e : list) {
    ASSIGN_OR_RETURN(e, reader.ReadU32(what));
  }
  return list;
}

void WriteNamed(BinaryWriter& writer, const std::vector<NamedEntry>& list) {
  writer.WriteU64(list.size());
  for (const auto& n : list) {
    writer.WriteString(n.name);
    writer.WriteU32(n.entry);
  }
}

StatusOr<std::vector<NamedEntry>> ReadNamed(BinaryReader& reader, std::string_view what) {
  ASSIGN_OR_RETURN(uint64_t count, reader.ReadCount(what, kMaxEntries, kMinNamedEntryBytes));
  std::vector<NamedEntry> list(count);
  for (auto& n : list) {
    ASSIGN_OR_RETURN(n.name, reader.ReadString(what, kMaxNameBytes));
    ASSIGN_OR_RETURN(n.entry, reader.ReadU32(what));
  }
  return list;
}

}  // namespace

std::string TensorInfo::ToString() const { return dtype.ToString() + ShapeToString(shape); }

Status ExecGraph::Validate() const {
  const size_t n = entries.size();
  for (size_t i = 0; i < n; ++i) {
    const TensorInfo& t = entries[i];
    if (t.shape.size() > kMaxGraphDims) {
      return InvalidArgumentError("graph entry " + std::to_string(i) + " has " +
                                  std::to_string(t.shape.size()) + " dimensions (at most 8)");
    }
    RETURN_IF_ERROR(
        ShapeNumElements(t.shape).status().WithContext("graph entry " + std::to_string(i)));
    if (t.dtype.bits == 0 || t.dtype.lanes == 0 || (t.dtype.bits * t.dtype.lanes) % 8 != 0) {
      return InvalidArgumentError("graph entry " + std::to_string(i) + " has dtype " +
                                  t.dtype.ToString() + " which is not a whole number of bytes");
    }
  }
  // produced[e]: whether entry e already has a value at this point of execution.
  std::vector<bool> produced(n, false);
  std::set<std::string> names;
  auto claim = [&](std::string_view what, const std::string& name, uint32_t entry) -> Status {
    RETURN_IF_ERROR(CheckName(what, name));
    if (!names.insert(name).second) {
      return InvalidArgumentError("graph name '" + name + "' is used twice");
    }
    if (entry >= n) {
      return InvalidArgumentError(std::string(what) + " '" + name + "' refers to entry " +
                                  std::to_string(entry) + " of " + std::to_string(n));
    }
    if (produced[entry]) {
      return InvalidArgumentError("graph entry " + std::to_string(entry) + " has two sources");
    }
    produced[entry] = true;
    return Status::Ok();
  };
  for (const auto& in : inputs) RETURN_IF_ERROR(claim("input", in.name, in.entry));
  for (const auto& p : params) RETURN_IF_ERROR(claim("parameter", p.name, p.entry));
  std::vector<bool> node_output(n, false);
  std::set<std::string> node_names;
  for (const GraphNode& node : nodes) {
    RETURN_IF_ERROR(CheckName("node", node.name));
    if (!node_names.insert(node.name).second) {
      return InvalidArgumentError("node name '" + node.name + "' is used twice");
    }
    RETURN_IF_ERROR(CheckName("node '" + node.name + "' operator", node.op));
    RETURN_IF_ERROR(CheckName("node '" + node.name + "' function", node.func_name));
    for (uint32_t e : node.inputs) {
      if (e >= n || !produced[e]) {
        return InvalidArgumentError("node '" + node.name + "' reads entry " + std::to_string(e) +
                                    " before it is produced");
      }
    }
    if (node.outputs.empty()) {
      return InvalidArgumentError("node '" + node.name + "' has no outputs");
    }
    for (uint32_t e : node.outputs) {
      if (e >= n || produced[e]) {
        return InvalidArgumentError("node '" + node.name + "' writes entry " + std::to_string(e) +
                                    " which is out of range or has a source");
      }
      produced[e] = true;
      node_output[e] = true;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!produced[i]) {
      return InvalidArgumentError("graph entry " + std::to_string(i) + " has no source");
    }
  }
  if (outputs.empty()) return InvalidArgumentError("graph has no outputs");
  std::set<uint32_t> seen_outputs;
  for (uint32_t e : outputs) {
    if (e >= n || !node_output[e]) {
      return InvalidArgumentError("graph output entry " + std::to_string(e) +
                                  " is not produced by a node");
    }
    if (!seen_outputs.insert(e).second) {
      return InvalidArgumentError("graph output entry " + std::to_string(e) + " is listed twice");
    }
  }
  return Status::Ok();
}

void ExecGraph::Serialize(BinaryWriter& writer) const {
  writer.WriteU64(entries.size());
  for (const TensorInfo& t : entries) {
    writer.WriteU8(t.dtype.code);
    writer.WriteU8(t.dtype.bits);
    writer.WriteU32(t.dtype.lanes);
    writer.WriteU64(t.shape.size());
    for (int64_t d : t.shape) writer.WriteI64(d);
  }
  WriteNamed(writer, inputs);
  WriteNamed(writer, params);
  WriteEntryList(writer, outputs);
  writer.WriteU64(nodes.size());
  for (const GraphNode& node : nodes) {
    writer.WriteString(node.name);
    writer.WriteString(node.op);
    writer.WriteString(node.func_name);
    WriteEntryList(writer, node.inputs);
    WriteEntryList(writer, node.outputs);
  }
}

StatusOr<ExecGraph> ExecGraph::Deserialize(BinaryReader& reader) {
  ExecGraph graph;
  ASSIGN_OR_RETURN(uint64_t num_entries,
                   reader.ReadCount("graph entry count", kMaxEntries, kMinTensorInfoBytes));
  graph.entries.resize(num_entries);
  for (TensorInfo& t : graph.entries) {
    ASSIGN_OR_RETURN(t.dtype.code, reader.ReadU8("entry dtype"));
    ASSIGN_OR_RETURN(t.dtype.bits, reader.ReadU8("entry dtype"));
    ASSIGN_OR_RETURN(uint32_t lanes, reader.ReadU32("entry dtype"));
    if (lanes > UINT16_MAX) return InvalidArgumentError("entry dtype lanes out of range");
    t.dtype.lanes = static_cast<uint16_t>(lanes);
    ASSIGN_OR_RETURN(uint64_t ndim, reader.ReadCount("entry rank", kMaxGraphDims, sizeof(int64_t)));
    t.shape.resize(ndim);
    for (int64_t& d : t.shape) {
      ASSIGN_OR_RETURN(d, reader.ReadI64("entry shape"));
    }
  }
  ASSIGN_OR_RETURN(graph.inputs, ReadNamed(reader, "graph inputs"));
  ASSIGN_OR_RETURN(graph.params, ReadNamed(reader, "graph parameters"));
  ASSIGN_OR_RETURN(graph.outputs, ReadEntryList(reader, "graph outputs"));
  ASSIGN_OR_RETURN(uint64_t num_nodes,
                   reader.ReadCount("graph node count", kMaxEntries, kMinNodeBytes));
  graph.nodes.resize(num_nodes);
  for (GraphNode& node : graph.nodes) {
    ASSIGN_OR_RETURN(node.name, reader.ReadString("node name", kMaxNameBytes));
    ASSIGN_OR_RETURN(node.op, reader.ReadString("node operator", kMaxNameBytes));
    ASSIGN_OR_RETURN(node.func_name, reader.ReadString("node function", kMaxNameBytes));
    ASSIGN_OR_RETURN(node.inputs, ReadEntryList(reader, "node inputs"));
    ASSIGN_OR_RETURN(node.outputs, ReadEntryList(reader, "node outputs"));
  }
  RETURN_IF_ERROR(graph.Validate());
  return graph;
}

}  // namespace ferry
