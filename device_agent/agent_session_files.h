// AgentSessionFiles: rpc::SessionFiles for a session worker: uploads land in the agent's
// content-addressed UploadCache, in the namespace of the session's owner (the client identity),
// and appear in the session's own directory under their labels.
#ifndef FERRY_DEVICE_AGENT_AGENT_SESSION_FILES_H_
#define FERRY_DEVICE_AGENT_AGENT_SESSION_FILES_H_

#include <map>
#include <memory>
#include <string>

#include "device_agent/session_directory.h"
#include "device_agent/upload_cache.h"
#include "rpc/session_files.h"

namespace ferry::agent {

// Not thread-safe: the session's one thread uses it.
//
// Limits (StorageLimits): an upload larger than max_upload_bytes, or one that does not fit
// under cache_max_bytes (UploadCache::Begin), is refused with kResourceExhausted. The session
// quota (session_quota_bytes, 0 = unlimited) bounds the bytes the session holds: each label set
// through this object counts with the size of its content (two labels of one content count
// twice), or, while an upload to the label is in progress, with the upload's declared size
// instead. A BeginUpload that would take that sum past the quota is refused with
// kResourceExhausted "session disk quota of N bytes exceeded" and changes nothing; Remove gives
// the label's bytes back. Files the session's own code writes into its directory are not
// counted (the worker's resource limits bound those).
class AgentSessionFiles final : public rpc::SessionFiles {
 public:
  // `owner` names the client identity the session belongs to (a CURVE key fingerprint, or
  // kAnonymousOwner for plaintext loopback sessions); the session sees only that owner's cached
  // content. Precondition (CheckError otherwise): CheckCacheOwner(owner) is OK.
  AgentSessionFiles(UploadCache cache, std::string owner, SessionDirectory directory,
                    StorageLimits limits);

  StatusOr<bool> BeginUpload(std::string_view label, std::string_view digest,
                             uint64_t size) override;
  Status AppendUpload(std::string_view label, uint64_t offset, std::string_view chunk) override;
  Status FinishUpload(std::string_view label) override;
  StatusOr<std::string> PathOf(std::string_view label) const override;
  StatusOr<std::string> LoadPathOf(std::string_view label) override;
  StatusOr<std::vector<rpc::FileEntry>> List() const override;
  Status Remove(std::string_view label) override;

  // The bytes the quota counts now (see the class comment).
  uint64_t held_bytes() const;

  const std::string& owner() const { return owner_; }

 private:
  // The bytes the quota counts for `label`.
  uint64_t Charge(std::string_view label) const;

  UploadCache cache_;
  std::string owner_;
  SessionDirectory directory_;
  StorageLimits limits_;
  std::map<std::string, std::unique_ptr<PendingUpload>, std::less<>> uploads_;
  // The size of each label's content, for the labels set by uploads or cache hits.
  std::map<std::string, uint64_t, std::less<>> label_bytes_;
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_AGENT_SESSION_FILES_H_
