#include "runtime/library_manifest.h"

#include <set>

#include "runtime/binary_io.h"

namespace ferry {
namespace {

constexpr std::string_view kMagic = "FERRYLIB";
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxModels = 1 << 12;
// magic, version, reserved, payload size, crc
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 4;

Status Corrupt(const std::string& why) {
  return InvalidArgumentError("model library manifest: " + why);
}

}  // namespace

std::string_view ExecutorKindName(ExecutorKind kind) {
  return kind == ExecutorKind::kAot ? "aot" : "graph";
}

StatusOr<ExecutorKind> ParseExecutorKind(std::string_view name) {
  if (name == "graph") return ExecutorKind::kGraph;
  if (name == "aot") return ExecutorKind::kAot;
  return InvalidArgumentError("unknown executor '" + std::string(name) +
                              "' (expected graph or aot)");
}

std::string SerializeManifest(const LibraryManifest& manifest) {
  BinaryWriter payload;
  payload.WriteU64(manifest.models.size());
  for (const ModelRecord& m : manifest.models) {
    payload.WriteString(m.key);
    payload.WriteU8(static_cast<uint8_t>(m.executor));
    m.graph.Serialize(payload);
    payload.WriteU8(m.params_packaged ? 1 : 0);
    payload.WriteString(m.params_bytes);
    payload.WriteString(m.aot_entry);
    payload.WriteI64(m.workspace_bytes);
  }
  BinaryWriter blob;
  blob.WriteRaw(kMagic.data(), kMagic.size());
  blob.WriteU32(kVersion);
  blob.WriteU32(0);
  blob.WriteU64(payload.size());
  blob.WriteU32(Crc32(payload.buffer()));
  blob.WriteRaw(payload.buffer().data(), payload.size());
  return blob.Release();
}

StatusOr<LibraryManifest> ParseManifest(std::string_view blob) {
  if (blob.size() < kHeaderBytes || blob.substr(0, kMagic.size()) != kMagic) {
    return Corrupt("bad magic; the library was not written by Ferry's export_library");
  }
  BinaryReader header(blob.substr(kMagic.size(), kHeaderBytes - kMagic.size()));
  ASSIGN_OR_RETURN(uint32_t version, header.ReadU32("version"));
  ASSIGN_OR_RETURN(uint32_t reserved, header.ReadU32("reserved"));
  ASSIGN_OR_RETURN(uint64_t size, header.ReadU64("payload size"));
  ASSIGN_OR_RETURN(uint32_t crc, header.ReadU32("checksum"));
  if (version != kVersion) {
    return Corrupt("format version " + std::to_string(version) +
                   " is not supported (this build reads version 1)");
  }
  if (reserved != 0) return Corrupt("reserved header field is not zero");
  if (size > blob.size() - kHeaderBytes) {
    return Corrupt("payload of " + std::to_string(size) + " bytes exceeds the " +
                   std::to_string(blob.size() - kHeaderBytes) + " bytes present");
  }
  const std::string_view payload = blob.substr(kHeaderBytes, size);
  if (Crc32(payload) != crc) return Corrupt("checksum mismatch (the library is corrupt)");

  BinaryReader reader(payload);
  LibraryManifest manifest;
  std::set<std::string> keys;
  StatusOr<uint64_t> count = reader.ReadCount("model count", kMaxModels);
  if (!count.ok()) return count.status().WithContext("model library manifest");
  for (uint64_t i = 0; i < *count; ++i) {
    ModelRecord m;
    Status status = [&]() -> Status {
      ASSIGN_OR_RETURN(m.key, reader.ReadString("model key", 1 << 12));
      ASSIGN_OR_RETURN(uint8_t executor, reader.ReadU8("executor kind"));
      if (executor > static_cast<uint8_t>(ExecutorKind::kAot)) {
        return InvalidArgumentError("unknown executor kind " + std::to_string(executor));
      }
      m.executor = static_cast<ExecutorKind>(executor);
      ASSIGN_OR_RETURN(m.graph, ExecGraph::Deserialize(reader));
      ASSIGN_OR_RETURN(uint8_t packaged, reader.ReadU8("params flag"));
      m.params_packaged = packaged != 0;
      ASSIGN_OR_RETURN(m.params_bytes, reader.ReadString("params", reader.remaining()));
      ASSIGN_OR_RETURN(m.aot_entry, reader.ReadString("aot entry", 1 << 12));
      ASSIGN_OR_RETURN(m.workspace_bytes, reader.ReadI64("workspace size"));
      if (m.workspace_bytes < 0) return InvalidArgumentError("negative workspace size");
      if (m.executor == ExecutorKind::kAot && m.aot_entry.empty()) {
        return InvalidArgumentError("AOT model without an entry symbol");
      }
      return Status::Ok();
    }();
    if (!status.ok()) return status.WithContext("model library manifest, model " + std::to_string(i));
    if (!keys.insert(m.key).second) return Corrupt("model key '" + m.key + "' appears twice");
    manifest.models.push_back(std::move(m));
  }
  if (reader.remaining() != 0) return Corrupt("unexpected bytes after the last model");
  return manifest;
}

}  // namespace ferry
