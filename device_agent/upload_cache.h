// The agent's upload cache: uploaded files stored by their SHA-256, shared by the sessions of
// one client identity (the *owner*), never across identities.
//
// Layout under the root:
//   <root>/<owner>/<digest>         verified content, read-only (0444); digest is 64 lowercase
//                                   hex characters, owner passes CheckCacheOwner
//   <root>/.upload-<pid>-XXXXXX     an upload in progress, written by process <pid>
//   <root>/.lock                    serialises the space accounting of a size-limited cache
//
// Knowing a digest is not enough to obtain content: a session can only hit content its own
// owner uploaded. Several worker processes may use one root at the same time: each upload
// writes its own temp file and, once its digest is verified, rename()s it into place
// atomically, so a reader sees either no file or the complete, verified one. Two uploads of the
// same content may both finish; the second rename replaces an identical file. Cached files are
// read-only so a session cannot change them through its hard link by accident.
//
// Size limit (StorageLimits::cache_max_bytes, 0 = unlimited). The cache's size is the sum of
// the sizes (st_size) of every cached file of every owner plus the declared size of every
// upload in progress: Begin reserves the declared size at once (the temp file is extended to
// it), so concurrent uploads cannot together overshoot the limit. When a new upload does not
// fit, Begin evicts least-recently-used content first (use = upload or cache hit, recorded as
// the file's mtime) but never content in use: a cached file whose link count is above 1 is
// linked into a live session directory. Copies made across file systems
// (SessionDirectory::AddFile's fallback) are not counted.
#ifndef FERRY_DEVICE_AGENT_UPLOAD_CACHE_H_
#define FERRY_DEVICE_AGENT_UPLOAD_CACHE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "device_agent/sha256.h"
#include "runtime/status.h"

namespace ferry::agent {

// The owner of sessions without a client key (plaintext loopback): they share one namespace.
inline constexpr char kAnonymousOwner[] = "anonymous";

// The longest owner string accepted, in bytes.
inline constexpr size_t kMaxCacheOwnerBytes = 64;

// Returns OK when `owner` can name a cache namespace: 1 to kMaxCacheOwnerBytes characters, each
// a lowercase ASCII letter, a digit, '-' or '_' (a CURVE key fingerprint in lowercase hex, or
// kAnonymousOwner). Such a string can never be a path, "." or "..", or collide with the
// cache's hidden files. Errors: kInvalidArgument naming the problem.
Status CheckCacheOwner(std::string_view owner);

// The storage knobs of the agent, set by its command line.
struct StorageLimits {
  // The largest single upload, in bytes; larger ones are refused with kResourceExhausted.
  uint64_t max_upload_bytes = 0;
  // The most bytes the whole cache may hold (all owners, uploads in progress included); 0 means
  // unlimited. See the header comment for eviction.
  uint64_t cache_max_bytes = 0;
  // The most bytes one session may hold under its labels (AgentSessionFiles); 0 = unlimited.
  uint64_t session_quota_bytes = 0;
};

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
  // The temp file the bytes are written to (under the cache root, named after this process).
  const std::string& temp_path() const { return temp_path_; }

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

  // True when `owner` has a verified file with this digest cached. False for an invalid owner
  // (CheckCacheOwner) or digest (IsSha256Hex).
  bool Contains(std::string_view owner, std::string_view digest) const;

  // `<root>/<owner>/<digest>`, whether or not it exists. Precondition (CheckError otherwise):
  // CheckCacheOwner(owner) is OK and IsSha256Hex(digest), so a client string can never become
  // a path outside the cache.
  std::string PathFor(std::string_view owner, std::string_view digest) const;

  // A cache hit: returns PathFor(owner, digest) when owner has that content cached and it is
  // `size` bytes long, and marks it used (for LRU eviction).
  // Errors: kInvalidArgument for a bad owner or digest, or "declared size S differs from the
  // cached content's size C" (nothing else happens); kNotFound when the content is not cached
  // in owner's namespace (another owner's copy does not count).
  StatusOr<std::string> Lookup(std::string_view owner, std::string_view digest,
                               uint64_t size) const;

  // Starts an upload into owner's namespace of `size` bytes expected to hash to
  // `expected_digest`. It does not look at whether the digest is already cached (call Lookup
  // first to skip the transfer). With limits.cache_max_bytes set, it reserves `size` bytes of
  // the cache, evicting unused content as needed (see the header comment).
  // Errors: kInvalidArgument for a bad owner or a digest that is not 64 lowercase hex
  // characters; kResourceExhausted when size > limits.max_upload_bytes, or "upload cache limit
  // of N bytes ..." when size does not fit in the cache even after evicting every unused file;
  // kUnavailable when the temp file cannot be made.
  StatusOr<std::unique_ptr<PendingUpload>> Begin(std::string_view owner,
                                                 std::string expected_digest, uint64_t size,
                                                 const StorageLimits& limits);

  // The bytes the cache holds now, counted as the size limit counts them (header comment).
  uint64_t UsedBytes() const;

  // Removes the temp files of uploads written by process `pid` (call it once that process is
  // gone: a worker killed mid-upload leaves its temp file behind). Returns how many were
  // removed. Errors: kUnavailable when the root cannot be read.
  StatusOr<size_t> RemoveTempFilesOf(pid_t pid) const;

  // Removes every upload temp file, whoever wrote it (call it at agent start, before any worker
  // runs). Returns how many were removed. Errors: kUnavailable when the root cannot be read.
  StatusOr<size_t> RemoveAllTempFiles() const;

  const std::string& root() const { return root_; }

 private:
  explicit UploadCache(std::string root) : root_(std::move(root)) {}

  // Makes room for `size` more bytes under cache_max_bytes by evicting unused content. Called
  // with the cache lock held.
  Status MakeRoom(uint64_t size, uint64_t cache_max_bytes) const;

  // Removes the temp files whose names start with `prefix`.
  StatusOr<size_t> RemoveTempFiles(const std::string& prefix) const;

  std::string root_;
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_UPLOAD_CACHE_H_
