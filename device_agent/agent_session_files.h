// AgentSessionFiles: rpc::SessionFiles for a session worker: uploads land in the agent's
// content-addressed UploadCache (shared by all sessions) and appear in the session's own
// directory under their labels.
#ifndef FERRY_DEVICE_AGENT_AGENT_SESSION_FILES_H_
#define FERRY_DEVICE_AGENT_AGENT_SESSION_FILES_H_

#include <map>
#include <memory>
#include <string>

#include "device_agent/session_directory.h"
#include "device_agent/upload_cache.h"
#include "rpc/session_files.h"

namespace ferry::agent {

class AgentSessionFiles final : public rpc::SessionFiles {
 public:
  // Uploads larger than max_upload_bytes are refused with kResourceExhausted.
  AgentSessionFiles(UploadCache cache, SessionDirectory directory, uint64_t max_upload_bytes)
      : cache_(std::move(cache)),
        directory_(std::move(directory)),
        max_upload_bytes_(max_upload_bytes) {}

  StatusOr<bool> BeginUpload(std::string_view label, std::string_view digest,
                             uint64_t size) override;
  Status AppendUpload(std::string_view label, uint64_t offset, std::string_view chunk) override;
  Status FinishUpload(std::string_view label) override;
  StatusOr<std::string> PathOf(std::string_view label) const override;
  StatusOr<std::vector<rpc::FileEntry>> List() const override;
  Status Remove(std::string_view label) override;

 private:
  UploadCache cache_;
  SessionDirectory directory_;
  uint64_t max_upload_bytes_;
  std::map<std::string, std::unique_ptr<PendingUpload>, std::less<>> uploads_;
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_AGENT_SESSION_FILES_H_
