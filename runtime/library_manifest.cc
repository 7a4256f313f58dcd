#include "runtime/library_manifest.h"

#include <set>
#include <span>

#include "runtime/binary_io.h"
#include "runtime/params.h"

namespace ferry {
namespace {

constexpr std::string_view kMagic = "FERRYLIB";
// Written: parameters after the records, aligned, outside the checksum.
constexpr uint32_t kVersion = 2;
// Still read: parameters inline in the records, inside the checksum.
constexpr uint32_t kInlineParamsVersion = 1;
constexpr uint64_t kMaxModels = 1 << 12;
// magic, version, reserved, payload size, crc
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 4;

Status Corrupt(const std::string& why) {
  return InvalidArgumentError("model library manifest: " + why);
}

uint64_t AlignUp(uint64_t n) { return (n + kParamsAlignment - 1) / kParamsAlignment * kParamsAlignment; }

// The records of version 2, with each model's params at `offsets[i]` of the blob.
void WritePayload(const LibraryManifest& manifest, std::span<const uint64_t> offsets,
                  BinaryWriter& payload) {
  payload.WriteU64(manifest.models.size());
  for (size_t i = 0; i < manifest.models.size(); ++i) {
    const ModelRecord& m = manifest.models[i];
    payload.WriteString(m.key);
    payload.WriteU8(static_cast<uint8_t>(m.executor));
    m.graph.Serialize(payload);
    payload.WriteU8(m.params_packaged ? 1 : 0);
    payload.WriteU64(m.params_packaged ? offsets[i] : 0);
    payload.WriteU64(m.params_packaged ? m.packaged_params().size() : 0);
    payload.WriteString(m.aot_entry);
    payload.WriteI64(m.workspace_bytes);
  }
}

// How Parse treats the parameters.
enum class ParamsMode { kCopyAndVerify, kInPlace };

struct BlobLayout {
  std::string_view blob;
  uint32_t version;
  uint64_t payload_end;  // offset of the first byte after the records
};

// The params of one record: inline (version 1) or a (offset, size) reference into the blob
// (version 2). Fills params_bytes or params_in_blob as `mode` says.
Status ReadRecordParams(BinaryReader& reader, const BlobLayout& layout, ParamsMode mode,
                        ModelRecord& m) {
  std::string_view params;
  if (layout.version == kInlineParamsVersion) {
    ASSIGN_OR_RETURN(uint64_t size, reader.ReadU64("params"));
    ASSIGN_OR_RETURN(params, reader.ReadRaw("params", size));
    if (mode == ParamsMode::kCopyAndVerify) {
      // As for version 2: the params' own checksum too, so that what this parse accepts
      // serialises into a manifest that it accepts again.
      if (m.params_packaged) RETURN_IF_ERROR(VerifyParamsChecksum(params));
      m.params_bytes = std::string(params);
    }
  } else {
    ASSIGN_OR_RETURN(uint64_t offset, reader.ReadU64("params offset"));
    ASSIGN_OR_RETURN(uint64_t size, reader.ReadU64("params size"));
    if (!m.params_packaged) {
      if (offset != 0 || size != 0) return InvalidArgumentError("params placed but not packaged");
      return Status::Ok();
    }
    const std::string where = "params at bytes " + std::to_string(offset) + "+" +
                              std::to_string(size);
    if (offset % kParamsAlignment != 0) {
      return InvalidArgumentError(where + " do not start at a multiple of " +
                                  std::to_string(kParamsAlignment));
    }
    if (offset < layout.payload_end) return InvalidArgumentError(where + " overlap the records");
    if (offset > layout.blob.size() || size > layout.blob.size() - offset) {
      return InvalidArgumentError(where + " lie past the end of the " +
                                  std::to_string(layout.blob.size()) + "-byte blob");
    }
    params = layout.blob.substr(offset, size);
    if (mode == ParamsMode::kCopyAndVerify) {
      RETURN_IF_ERROR(VerifyParamsChecksum(params));
      m.params_bytes = std::string(params);
    }
  }
  if (mode == ParamsMode::kInPlace && m.params_packaged) m.params_in_blob = params;
  return Status::Ok();
}

StatusOr<ModelRecord> ReadRecord(BinaryReader& reader, const BlobLayout& layout,
                                 ParamsMode mode) {
  ModelRecord m;
  ASSIGN_OR_RETURN(m.key, reader.ReadString("model key", 1 << 12));
  ASSIGN_OR_RETURN(uint8_t executor, reader.ReadU8("executor kind"));
  if (executor > static_cast<uint8_t>(ExecutorKind::kAot)) {
    return InvalidArgumentError("unknown executor kind " + std::to_string(executor));
  }
  m.executor = static_cast<ExecutorKind>(executor);
  ASSIGN_OR_RETURN(m.graph, ExecGraph::Deserialize(reader));
  ASSIGN_OR_RETURN(uint8_t packaged, reader.ReadU8("params flag"));
  m.params_packaged = packaged != 0;
  RETURN_IF_ERROR(ReadRecordParams(reader, layout, mode, m));
  ASSIGN_OR_RETURN(m.aot_entry, reader.ReadString("aot entry", 1 << 12));
  ASSIGN_OR_RETURN(m.workspace_bytes, reader.ReadI64("workspace size"));
  if (m.workspace_bytes < 0) return InvalidArgumentError("negative workspace size");
  if (m.executor == ExecutorKind::kAot && m.aot_entry.empty()) {
    return InvalidArgumentError("AOT model without an entry symbol");
  }
  return m;
}

StatusOr<LibraryManifest> Parse(std::string_view blob, ParamsMode mode) {
  if (blob.size() < kHeaderBytes || blob.substr(0, kMagic.size()) != kMagic) {
    return Corrupt("bad magic; the library was not written by Ferry's export_library");
  }
  BinaryReader header(blob.substr(kMagic.size(), kHeaderBytes - kMagic.size()));
  ASSIGN_OR_RETURN(uint32_t version, header.ReadU32("version"));
  ASSIGN_OR_RETURN(uint32_t reserved, header.ReadU32("reserved"));
  ASSIGN_OR_RETURN(uint64_t size, header.ReadU64("payload size"));
  ASSIGN_OR_RETURN(uint32_t crc, header.ReadU32("checksum"));
  if (version != kVersion && version != kInlineParamsVersion) {
    return Corrupt("format version " + std::to_string(version) +
                   " is not supported (this build reads versions 1 and 2)");
  }
  if (reserved != 0) return Corrupt("reserved header field is not zero");
  if (size > blob.size() - kHeaderBytes) {
    return Corrupt("payload of " + std::to_string(size) + " bytes exceeds the " +
                   std::to_string(blob.size() - kHeaderBytes) + " bytes present");
  }
  const std::string_view payload = blob.substr(kHeaderBytes, size);
  if (Crc32(payload) != crc) return Corrupt("checksum mismatch (the library is corrupt)");

  const BlobLayout layout{blob, version, kHeaderBytes + size};
  BinaryReader reader(payload);
  LibraryManifest manifest;
  std::set<std::string> keys;
  StatusOr<uint64_t> count = reader.ReadCount("model count", kMaxModels);
  if (!count.ok()) return count.status().WithContext("model library manifest");
  for (uint64_t i = 0; i < *count; ++i) {
    StatusOr<ModelRecord> m = ReadRecord(reader, layout, mode);
    if (!m.ok()) {
      return m.status().WithContext("model library manifest, model " + std::to_string(i));
    }
    if (!keys.insert(m->key).second) return Corrupt("model key '" + m->key + "' appears twice");
    manifest.models.push_back(std::move(*m));
  }
  if (reader.remaining() != 0) return Corrupt("unexpected bytes after the last model");
  return manifest;
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
  // Offsets are fixed-width fields, so the records' size does not depend on their values:
  // measure it, then place each model's params after the records.
  std::vector<uint64_t> offsets(manifest.models.size(), 0);
  BinaryWriter sizing;
  WritePayload(manifest, offsets, sizing);
  uint64_t next = AlignUp(kHeaderBytes + sizing.size());
  for (size_t i = 0; i < manifest.models.size(); ++i) {
    if (!manifest.models[i].params_packaged) continue;
    offsets[i] = next;
    next = AlignUp(next + manifest.models[i].packaged_params().size());
  }
  BinaryWriter payload;
  WritePayload(manifest, offsets, payload);
  BinaryWriter blob;
  blob.WriteRaw(kMagic.data(), kMagic.size());
  blob.WriteU32(kVersion);
  blob.WriteU32(0);
  blob.WriteU64(payload.size());
  blob.WriteU32(Crc32(payload.buffer()));
  blob.WriteRaw(payload.buffer().data(), payload.size());
  for (size_t i = 0; i < manifest.models.size(); ++i) {
    if (!manifest.models[i].params_packaged) continue;
    blob.buffer().resize(offsets[i], '\0');
    const std::string_view params = manifest.models[i].packaged_params();
    blob.WriteRaw(params.data(), params.size());
  }
  return blob.Release();
}

StatusOr<LibraryManifest> ParseManifest(std::string_view blob) {
  return Parse(blob, ParamsMode::kCopyAndVerify);
}

StatusOr<LibraryManifest> ParseManifestInPlace(std::string_view blob) {
  return Parse(blob, ParamsMode::kInPlace);
}

}  // namespace ferry
