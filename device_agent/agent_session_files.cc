#include "device_agent/agent_session_files.h"

#include "device_agent/file_label.h"
#include "device_agent/sha256.h"
#include "runtime/check.h"

namespace ferry::agent {

AgentSessionFiles::AgentSessionFiles(UploadCache cache, std::string owner,
                                     SessionDirectory directory, StorageLimits limits)
    : cache_(std::move(cache)),
      owner_(std::move(owner)),
      directory_(std::move(directory)),
      limits_(limits) {
  const Status owner_ok = CheckCacheOwner(owner_);
  FERRY_CHECK(owner_ok.ok()) << owner_ok.message();
}

uint64_t AgentSessionFiles::Charge(std::string_view label) const {
  if (auto it = uploads_.find(label); it != uploads_.end()) return it->second->size();
  if (auto it = label_bytes_.find(label); it != label_bytes_.end()) return it->second;
  return 0;
}

uint64_t AgentSessionFiles::held_bytes() const {
  uint64_t held = 0;
  for (const auto& [label, bytes] : label_bytes_) {
    if (!uploads_.contains(label)) held += bytes;
  }
  for (const auto& [label, upload] : uploads_) held += upload->size();
  return held;
}

StatusOr<bool> AgentSessionFiles::BeginUpload(std::string_view label, std::string_view digest,
                                              uint64_t size) {
  RETURN_IF_ERROR(CheckFileLabel(label));
  if (!IsSha256Hex(digest)) {
    return InvalidArgumentError("upload digest must be 64 lowercase hex characters (SHA-256)");
  }
  if (const uint64_t quota = limits_.session_quota_bytes; quota != 0) {
    const uint64_t others = held_bytes() - Charge(label);
    if (size > quota || others > quota - size) {
      return ResourceExhaustedError("session disk quota of " + std::to_string(quota) +
                                    " bytes exceeded: the session holds " + std::to_string(others) +
                                    " bytes, the upload is " + std::to_string(size));
    }
  }
  // Only the owner's own content is a hit, and only with the declared size.
  StatusOr<std::string> cached = cache_.Lookup(owner_, digest, size);
  if (cached.ok()) {
    Status added = directory_.AddFile(label, *cached);
    if (added.ok()) {
      if (auto it = uploads_.find(label); it != uploads_.end()) uploads_.erase(it);
      label_bytes_.insert_or_assign(std::string(label), size);
      return true;
    }
    // kNotFound: evicted between the lookup and the link; it is uploaded again below.
    if (added.code() != StatusCode::kNotFound) return added;
  } else if (cached.status().code() != StatusCode::kNotFound) {
    return cached.status();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PendingUpload> upload,
                   cache_.Begin(owner_, std::string(digest), size, limits_));
  uploads_.insert_or_assign(std::string(label), std::move(upload));
  return false;
}

Status AgentSessionFiles::AppendUpload(std::string_view label, uint64_t offset,
                                       std::string_view chunk) {
  auto it = uploads_.find(label);
  if (it == uploads_.end()) {
    return NotFoundError("no upload of '" + std::string(label) + "' is in progress");
  }
  Status status = it->second->Append(offset, chunk);
  if (!status.ok()) uploads_.erase(it);
  return status;
}

Status AgentSessionFiles::FinishUpload(std::string_view label) {
  auto it = uploads_.find(label);
  if (it == uploads_.end()) {
    return NotFoundError("no upload of '" + std::string(label) + "' is in progress");
  }
  std::unique_ptr<PendingUpload> upload = std::move(it->second);
  uploads_.erase(it);
  ASSIGN_OR_RETURN(std::string cache_path, upload->Finish());
  RETURN_IF_ERROR(directory_.AddFile(label, cache_path));
  label_bytes_.insert_or_assign(std::string(label), upload->size());
  return Status::Ok();
}

StatusOr<std::string> AgentSessionFiles::PathOf(std::string_view label) const {
  RETURN_IF_ERROR(CheckFileLabel(label));
  return directory_.PathOf(label);
}

StatusOr<std::string> AgentSessionFiles::LoadPathOf(std::string_view label) {
  RETURN_IF_ERROR(CheckFileLabel(label));
  return directory_.LoadPathOf(label);
}

StatusOr<std::vector<rpc::FileEntry>> AgentSessionFiles::List() const {
  std::vector<rpc::FileEntry> entries;
  for (const auto& f : directory_.List()) entries.push_back({f.label, f.size});
  return entries;
}

Status AgentSessionFiles::Remove(std::string_view label) {
  RETURN_IF_ERROR(CheckFileLabel(label));
  Status removed = directory_.Remove(label);
  if (removed.ok() || removed.code() == StatusCode::kNotFound) {
    if (auto it = label_bytes_.find(label); it != label_bytes_.end()) label_bytes_.erase(it);
  }
  return removed;
}

}  // namespace ferry::agent
