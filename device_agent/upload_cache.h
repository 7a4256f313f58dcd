// The agent's upload cache: uploaded files stored by their SHA-256, shared by all sessions.
//
// Files live at `<root>/<digest>` where digest is 64 lowercase hex characters. Several
// worker processes may use one root at the same time: each upload writes its own hidden temp
// file (`<root>/.upload-XXXXXX`) and, once its digest is verified, rename()s it into place
// atomically, so a reader sees either no file or the complete, verified one. Two uploads of
// the same content may both finish; the second rename replaces an identical file. Cached
// files are made read-only (0444) so a session cannot change them through a hard link.
#ifndef FERRY_DEVICE_AGENT_UPLOAD_CACHE_H_
#define FERRY_DEVICE_AGENT_UPLOAD_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "device_agent/sha256.h"
#include "runtime/status.h"

namespace ferry::agent {

// One upload in progress, created by UploadCache::Begin. The bytes arrive in order through
// Append() and are hashed as they are written to the temp file; Finish() verifies the size
// and SHA-256 and moves the file into the cache. Destroying an upload that did not finish
// removes its temp file. Not thread-safe: one thread drives one upload (different uploads are
// independent). Once Finish() has succeeded, or any call has discarded the upload, further
// Append/Finish calls return kFailedPrecondition.
class PendingUpload {
 public:
  ~PendingUpload();
  PendingUpload(const PendingUpload&) = delete;
  PendingUpload& operator=(const PendingUpload&) = delete;

  // Writes `chunk`, which must start at byte `offset` of the file.
  // Errors (the upload stays open and unchanged): kInvalidArgument when offset is not
  // received() (chunks must arrive in order, without gaps or overlap) or when the chunk would
  // take the total past the declared size. Errors that discard the upload (temp file removed):
  // kResourceExhausted when the disk or quota is full, kUnavailable for other I/O errors.
  Status Append(uint64_t offset, std::string_view chunk);

  // Completes the upload and returns the path of the cached file (UploadCache::PathFor).
  // Errors: kInvalidArgument "upload incomplete: ..." when fewer than the declared bytes were
  // received (the upload stays open; more may be appended); kInvalidArgument "upload digest
  // mismatch: expected X, got Y" when the SHA-256 of the bytes differs from the expected
  // digest (the upload is discarded, nothing is cached); kUnavailable when the file cannot be
  // synced or renamed into place (discarded).
  StatusOr<std::string> Finish();

  // Bytes accepted so far; the offset the next Append must use.
  uint64_t received() const { return received_; }
  // The size declared at Begin.
  uint64_t size() const { return size_; }
  const std::string& expected_digest() const { return expected_digest_; }

 private:
  friend class UploadCache;
  PendingUpload(int fd, std::string temp_path, std::string final_path, std::string expected_digest,
                uint64_t size);

  // Closes and removes the temp file; the upload is finished for good.
  void Discard();

  int fd_;  // the open temp file; -1 once closed
  std::string temp_path_;
  std::string final_path_;
  std::string expected_digest_;
  uint64_t size_;
  uint64_t received_ = 0;
  bool done_ = false;
  Sha256 hash_;
};

// A handle on a cache directory. Cheap to copy; all methods are safe to call from several
// threads and processes at once (the file system is the only shared state).
class UploadCache {
 public:
  // Opens the cache at `root`, creating it (and its parents) when missing.
  // Errors: kInvalidArgument for an empty root or one that is not a directory, kUnavailable
  // when it cannot be created.
  static StatusOr<UploadCache> Open(std::string root);

  // True when a verified file with this digest is cached. False for anything that is not a
  // valid digest (IsSha256Hex).
  bool Contains(std::string_view digest) const;

  // `<root>/<digest>`, whether or not it exists. Precondition (CheckError otherwise):
  // IsSha256Hex(digest), so a client string can never become a path outside the cache.
  std::string PathFor(std::string_view digest) const;

  // Starts an upload of `size` bytes expected to hash to `expected_digest`. It does not look
  // at whether the digest is already cached (call Contains first to skip the transfer).
  // Errors: kInvalidArgument when expected_digest is not 64 lowercase hex characters,
  // kResourceExhausted when size > max_size, kUnavailable when the temp file cannot be made.
  StatusOr<std::unique_ptr<PendingUpload>> Begin(std::string expected_digest, uint64_t size,
                                                 uint64_t max_size);

  const std::string& root() const { return root_; }

 private:
  explicit UploadCache(std::string root) : root_(std::move(root)) {}

  std::string root_;
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_UPLOAD_CACHE_H_
