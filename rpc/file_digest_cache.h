// FileDigestCache: the SHA-256 digests of local files a session uploaded, so that uploading
// an unchanged file again (same device, inode, size and modification time) neither reads nor
// hashes it (RemoteSession::Upload).
#ifndef FERRY_RPC_FILE_DIGEST_CACHE_H_
#define FERRY_RPC_FILE_DIGEST_CACHE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace ferry::rpc {

// When a local file last looked like this, its content had a known digest.
struct FileStamp {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// Thread-safe.
class FileDigestCache {
 public:
  // The digest remembered for `path`, when it was remembered with this `stamp`.
  std::optional<std::string> Find(const std::string& path, const FileStamp& stamp) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(path);
    if (it == entries_.end() || !(it->second.first == stamp)) return std::nullopt;
    return it->second.second;
  }
  void Remember(const std::string& path, const FileStamp& stamp, std::string digest) {
    std::lock_guard lock(mutex_);
    entries_[path] = {stamp, std::move(digest)};
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<FileStamp, std::string>> entries_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_FILE_DIGEST_CACHE_H_
