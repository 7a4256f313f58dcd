// The manifest a model library embeds under its exported symbol `__ferry_models_blob`: one
// record per model (its key, executor kind, graph, parameters when packaged, and for the AOT
// executor the entry symbol and workspace size). Layout in docs/library-format.md.
//
// Version 2 (written) keeps the parameters out of the checksummed structure, each model's at a
// 64-byte-aligned offset of the blob, so that a loaded library's parameters can be used where
// the dynamic loader mapped them (ParseManifestInPlace); version 1 is still read.
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
  bool params_packaged = false;
  // The params format (params.h) when the parameters are packaged, owned by the record: what
  // export_library writes, and what ParseManifest copies out of a blob. Empty otherwise, and
  // when the record comes from ParseManifestInPlace.
  std::string params_bytes;
  // For ExecutorKind::kAot: the exported FerryAotEntry symbol and its workspace size.
  std::string aot_entry;
  int64_t workspace_bytes = 0;
  // Set by ParseManifestInPlace instead of params_bytes: the packaged parameters where they
  // lie in the blob (valid while the blob is; for a version 2 blob at a multiple of 64 bytes
  // from its start).
  std::string_view params_in_blob;

  // The packaged parameters: params_in_blob when set, else params_bytes.
  std::string_view packaged_params() const {
    return params_in_blob.data() != nullptr ? params_in_blob : std::string_view(params_bytes);
  }
};

struct LibraryManifest {
  std::vector<ModelRecord> models;
};

// The blob (version 2): header (magic, version, payload size, CRC-32), the payload (records),
// then each packaged model's params bytes at a multiple of 64 bytes from the blob's start
// (each record's packaged_params(), so records of either parse below serialise back).
std::string SerializeManifest(const LibraryManifest& manifest);
// Parses a blob of exactly `blob.size()` available bytes, verifying every checksum (the
// header's, and in version 2 also that of each model's packaged params), and copies the
// parameters into params_bytes: the result does not reference `blob`. For tools and tests.
// Errors: kInvalidArgument ("model library manifest: ...") for a wrong magic or version, a
// size beyond the blob, a checksum mismatch, an invalid record (params placed outside the
// blob or at an unaligned offset), or duplicate keys.
StatusOr<LibraryManifest> ParseManifest(std::string_view blob);
// As ParseManifest, for loading: the records' params_in_blob reference `blob`, which must
// outlive them, and the parameters are neither copied nor checksummed (in version 2 the
// header's checksum covers the records only; in version 1 it covers everything and is
// verified). Errors: those of ParseManifest but a params checksum mismatch.
StatusOr<LibraryManifest> ParseManifestInPlace(std::string_view blob);

}  // namespace ferry

#endif  // FERRY_RUNTIME_LIBRARY_MANIFEST_H_
