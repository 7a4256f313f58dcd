// The manifest a model library embeds under its exported symbol `__ferry_models_blob`: one
// record per model (its key, executor kind, graph, parameters when packaged, and for the AOT
// executor the entry symbol and workspace size). Layout in docs/library-format.md.
#ifndef FERRY_RUNTIME_LIBRARY_MANIFEST_H_
#define FERRY_RUNTIME_LIBRARY_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/graph.h"
#include "runtime/status.h"

namespace ferry {

// Name of the exported symbol holding the manifest blob.
inline constexpr const char* kManifestSymbol = "__ferry_models_blob";

enum class ExecutorKind : uint8_t { kGraph = 0, kAot = 1 };

// "graph", "aot".
std::string_view ExecutorKindName(ExecutorKind kind);
// Errors: kInvalidArgument listing the valid names.
StatusOr<ExecutorKind> ParseExecutorKind(std::string_view name);

struct ModelRecord {
  std::string key;
  ExecutorKind executor = ExecutorKind::kGraph;
  ExecGraph graph;
  // The params format (params.h) when the parameters are packaged; empty otherwise.
  bool params_packaged = false;
  std::string params_bytes;
  // For ExecutorKind::kAot: the exported FerryAotEntry symbol and its workspace size.
  std::string aot_entry;
  int64_t workspace_bytes = 0;
};

struct LibraryManifest {
  std::vector<ModelRecord> models;
};

// The blob: header (magic, version, payload size, CRC-32) followed by the payload.
std::string SerializeManifest(const LibraryManifest& manifest);
// Parses a blob of exactly `blob.size()` available bytes. Errors: kInvalidArgument
// ("model library manifest: ...") for a wrong magic or version, a size beyond the blob, a
// checksum mismatch, an invalid record, or duplicate keys.
StatusOr<LibraryManifest> ParseManifest(std::string_view blob);

}  // namespace ferry

#endif  // FERRY_RUNTIME_LIBRARY_MANIFEST_H_
