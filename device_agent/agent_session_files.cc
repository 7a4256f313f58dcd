#include "device_agent/agent_session_files.h"

#include "device_agent/file_label.h"

namespace ferry::agent {

StatusOr<bool> AgentSessionFiles::BeginUpload(std::string_view label, std::string_view digest,
                                              uint64_t size) {
  RETURN_IF_ERROR(CheckFileLabel(label));
  if (cache_.Contains(digest)) {
    RETURN_IF_ERROR(directory_.AddFile(label, cache_.PathFor(digest)));
    uploads_.erase(std::string(label));
    return true;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PendingUpload> upload,
                   cache_.Begin(std::string(digest), size, max_upload_bytes_));
  uploads_[std::string(label)] = std::move(upload);
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
  return directory_.AddFile(label, cache_path);
}

StatusOr<std::string> AgentSessionFiles::PathOf(std::string_view label) const {
  RETURN_IF_ERROR(CheckFileLabel(label));
  return directory_.PathOf(label);
}

StatusOr<std::vector<rpc::FileEntry>> AgentSessionFiles::List() const {
  std::vector<rpc::FileEntry> entries;
  for (const auto& f : directory_.List()) entries.push_back({f.label, f.size});
  return entries;
}

Status AgentSessionFiles::Remove(std::string_view label) {
  RETURN_IF_ERROR(CheckFileLabel(label));
  return directory_.Remove(label);
}

}  // namespace ferry::agent
