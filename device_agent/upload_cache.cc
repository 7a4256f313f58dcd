#include "device_agent/upload_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/check.h"

namespace ferry::agent {
namespace {

std::string Errno(int error) { return std::strerror(error); }

// The Status for a failed write: a full disk or quota says back off, anything else is an
// unavailable resource.
Status WriteError(const std::string& path, int error) {
  const std::string message = "cannot write upload file " + path + ": " + Errno(error);
  if (error == ENOSPC || error == EDQUOT) return ResourceExhaustedError(message);
  return UnavailableError(message);
}

// Upload temp files are `<root>/.upload-<pid>-XXXXXX`: the pid says whose they are.
constexpr char kTempPrefix[] = ".upload-";

std::string TempPrefix(pid_t pid) { return kTempPrefix + std::to_string(pid) + "-"; }

// A file the cache's size counts: cached content, or an upload in progress.
struct CacheFile {
  std::string path;
  uint64_t size = 0;
  nlink_t links = 0;
  struct timespec used = {};  // mtime: the last upload or hit
  bool temp = false;
};

// Every cached file of every owner and every upload temp file under `root`. Entries that vanish
// or cannot be read while scanning are skipped.
std::vector<CacheFile> ScanCache(const std::string& root) {
  std::vector<CacheFile> files;
  auto add = [&files](std::string path, bool temp) {
    struct stat info;
    if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return;
    files.push_back(CacheFile{std::move(path), static_cast<uint64_t>(info.st_size), info.st_nlink,
                              info.st_mtim, temp});
  };
  DIR* dir = ::opendir(root.c_str());
  if (dir == nullptr) return files;
  while (const struct dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.rfind(kTempPrefix, 0) == 0) {
      add(root + "/" + name, true);
      continue;
    }
    if (!CheckCacheOwner(name).ok()) continue;
    const std::string owner_dir = root + "/" + name;
    DIR* owned = ::opendir(owner_dir.c_str());  // fails (skipped) unless a directory
    if (owned == nullptr) continue;
    while (const struct dirent* file = ::readdir(owned)) {
      if (IsSha256Hex(file->d_name)) add(owner_dir + "/" + file->d_name, false);
    }
    ::closedir(owned);
  }
  ::closedir(dir);
  return files;
}

// An exclusive flock() on `<root>/.lock`, held while alive. Each Acquire opens its own file
// description, so it excludes other threads of this process as well as other processes.
class CacheLock {
 public:
  static StatusOr<CacheLock> Acquire(const std::string& root) {
    const std::string path = root + "/.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return UnavailableError("cannot open " + path + ": " + Errno(errno));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return UnavailableError("cannot lock " + path + ": " + Errno(error));
    }
    return CacheLock(fd);
  }
  CacheLock(CacheLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  CacheLock& operator=(CacheLock&&) = delete;
  ~CacheLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit CacheLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

Status CheckCacheOwner(std::string_view owner) {
  if (owner.empty()) return InvalidArgumentError("cache owner is empty");
  if (owner.size() > kMaxCacheOwnerBytes) {
    return InvalidArgumentError("cache owner of " + std::to_string(owner.size()) +
                                " bytes is longer than " + std::to_string(kMaxCacheOwnerBytes));
  }
  for (const char c : owner) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) {
      return InvalidArgumentError(
          "cache owner may hold only lowercase letters, digits, '-' and '_'");
    }
  }
  return Status::Ok();
}

PendingUpload::PendingUpload(int fd, std::string temp_path, std::string final_path,
                             std::string expected_digest, uint64_t size)
    : fd_(fd),
      temp_path_(std::move(temp_path)),
      final_path_(std::move(final_path)),
      expected_digest_(std::move(expected_digest)),
      size_(size) {}

PendingUpload::~PendingUpload() {
  if (!done_) Discard();
}

void PendingUpload::Discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  done_ = true;
}

Status PendingUpload::Append(uint64_t offset, std::string_view chunk) {
  if (done_) return FailedPreconditionError("upload of " + expected_digest_ + " is finished");
  if (offset != received_) {
    return InvalidArgumentError("upload chunk at offset " + std::to_string(offset) +
                                ", expected offset " + std::to_string(received_));
  }
  if (chunk.size() > size_ - received_) {
    return InvalidArgumentError("upload chunk of " + std::to_string(chunk.size()) +
                                " bytes at offset " + std::to_string(offset) +
                                " goes past the declared size of " + std::to_string(size_) +
                                " bytes");
  }
  const char* data = chunk.data();
  size_t left = chunk.size();
  while (left > 0) {
    const ssize_t written = ::write(fd_, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      Discard();
      return WriteError(temp_path_, error);
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
  hash_.Update(chunk);
  received_ += chunk.size();
  return Status::Ok();
}

StatusOr<std::string> PendingUpload::Finish() {
  if (done_) return FailedPreconditionError("upload of " + expected_digest_ + " is finished");
  if (received_ != size_) {
    return InvalidArgumentError("upload incomplete: received " + std::to_string(received_) +
                                " of " + std::to_string(size_) + " bytes");
  }
  const std::string actual = hash_.FinishHex();
  if (actual != expected_digest_) {
    Discard();
    return InvalidArgumentError("upload digest mismatch: expected " + expected_digest_ + ", got " +
                                actual);
  }
  // Read-only, so a session cannot modify the shared copy through its hard link; synced before
  // the rename, so a crash never leaves a name pointing at unwritten data.
  if (::fchmod(fd_, 0444) != 0 || ::fsync(fd_) != 0) {
    const int error = errno;
    Discard();
    return WriteError(temp_path_, error);
  }
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int error = errno;
    Discard();
    return WriteError(temp_path_, error);
  }
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    const int error = errno;
    Discard();
    return UnavailableError("cannot move upload " + temp_path_ + " to " + final_path_ + ": " +
                            Errno(error));
  }
  done_ = true;
  return final_path_;
}

StatusOr<UploadCache> UploadCache::Open(std::string root) {
  if (root.empty()) return InvalidArgumentError("upload cache root is empty");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return UnavailableError("cannot create upload cache " + root + ": " + ec.message());
  if (!std::filesystem::is_directory(root, ec)) {
    return InvalidArgumentError("upload cache root is not a directory: " + root);
  }
  return UploadCache(std::move(root));
}

bool UploadCache::Contains(std::string_view owner, std::string_view digest) const {
  if (!CheckCacheOwner(owner).ok() || !IsSha256Hex(digest)) return false;
  struct stat info;
  return ::lstat(PathFor(owner, digest).c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string UploadCache::PathFor(std::string_view owner, std::string_view digest) const {
  FERRY_CHECK(CheckCacheOwner(owner).ok()) << "not a cache owner: " << owner.substr(0, 80);
  FERRY_CHECK(IsSha256Hex(digest)) << "not a SHA-256 digest: " << digest.substr(0, 80);
  std::string path = root_;
  path += '/';
  path += owner;
  path += '/';
  path += digest;
  return path;
}

StatusOr<std::string> UploadCache::Lookup(std::string_view owner, std::string_view digest,
                                          uint64_t size) const {
  RETURN_IF_ERROR(CheckCacheOwner(owner));
  if (!IsSha256Hex(digest)) {
    return InvalidArgumentError("upload digest must be 64 lowercase hex characters (SHA-256)");
  }
  std::string path = PathFor(owner, digest);
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return NotFoundError("content " + std::string(digest) + " is not cached");
  }
  if (static_cast<uint64_t>(info.st_size) != size) {
    return InvalidArgumentError("declared size " + std::to_string(size) +
                                " differs from the cached content's size " +
                                std::to_string(info.st_size) + " for " + std::string(digest));
  }
  // Used now: the least recently used content is evicted first. A failure only skews the order.
  const struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  (void)::utimensat(AT_FDCWD, path.c_str(), now, AT_SYMLINK_NOFOLLOW);
  return path;
}

StatusOr<std::unique_ptr<PendingUpload>> UploadCache::Begin(std::string_view owner,
                                                            std::string expected_digest,
                                                            uint64_t size,
                                                            const StorageLimits& limits) {
  RETURN_IF_ERROR(CheckCacheOwner(owner));
  if (!IsSha256Hex(expected_digest)) {
    return InvalidArgumentError("upload digest must be 64 lowercase hex characters (SHA-256)");
  }
  if (size > limits.max_upload_bytes) {
    return ResourceExhaustedError("upload of " + std::to_string(size) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(limits.max_upload_bytes) + " bytes");
  }
  const std::string owner_dir = root_ + "/" + std::string(owner);
  if (::mkdir(owner_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return UnavailableError("cannot create " + owner_dir + ": " + Errno(errno));
  }

  // Space is reserved and checked under the cache lock, so two processes cannot both take the
  // last free bytes.
  std::optional<CacheLock> lock;
  if (limits.cache_max_bytes != 0) {
    if (size > limits.cache_max_bytes) {
      return ResourceExhaustedError("upload of " + std::to_string(size) +
                                    " bytes exceeds the upload cache limit of " +
                                    std::to_string(limits.cache_max_bytes) + " bytes");
    }
    ASSIGN_OR_RETURN(CacheLock locked, CacheLock::Acquire(root_));
    lock.emplace(std::move(locked));
    RETURN_IF_ERROR(MakeRoom(size, limits.cache_max_bytes));
  }
  std::string temp_path = root_ + "/" + TempPrefix(::getpid()) + "XXXXXX";
  const int fd = ::mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) {
    return UnavailableError("cannot create an upload file in " + root_ + ": " + Errno(errno));
  }
  // The temp file's size is the reservation other uploads see; the bytes overwrite it in order.
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp_path.c_str());
    return WriteError(temp_path, error);
  }
  std::string final_path = PathFor(owner, expected_digest);
  return std::unique_ptr<PendingUpload>(new PendingUpload(
      fd, std::move(temp_path), std::move(final_path), std::move(expected_digest), size));
}

uint64_t UploadCache::UsedBytes() const {
  uint64_t used = 0;
  for (const CacheFile& file : ScanCache(root_)) used += file.size;
  return used;
}

Status UploadCache::MakeRoom(uint64_t size, uint64_t cache_max_bytes) const {
  std::vector<CacheFile> files = ScanCache(root_);
  uint64_t used = 0;
  for (const CacheFile& file : files) used += file.size;
  if (used + size <= cache_max_bytes) return Status::Ok();
  // Oldest use first; content linked into a session, and uploads in progress, stay.
  std::vector<const CacheFile*> evictable;
  for (const CacheFile& file : files) {
    if (!file.temp && file.links == 1) evictable.push_back(&file);
  }
  std::sort(evictable.begin(), evictable.end(), [](const CacheFile* a, const CacheFile* b) {
    return std::tie(a->used.tv_sec, a->used.tv_nsec, a->path) <
           std::tie(b->used.tv_sec, b->used.tv_nsec, b->path);
  });
  for (const CacheFile* file : evictable) {
    if (used + size <= cache_max_bytes) break;
    // Look again: a session may have linked it since the scan (hits take no lock).
    struct stat info;
    if (::lstat(file->path.c_str(), &info) != 0) {
      used -= file->size;  // gone already
      continue;
    }
    if (info.st_nlink > 1) continue;
    if (::unlink(file->path.c_str()) == 0 || errno == ENOENT) used -= file->size;
  }
  if (used + size <= cache_max_bytes) return Status::Ok();
  return ResourceExhaustedError("upload cache limit of " + std::to_string(cache_max_bytes) +
                                " bytes: no room for " + std::to_string(size) + " more bytes, " +
                                std::to_string(used) +
                                " bytes are in use by sessions and uploads in progress");
}

StatusOr<size_t> UploadCache::RemoveTempFilesOf(pid_t pid) const {
  return RemoveTempFiles(TempPrefix(pid));
}

StatusOr<size_t> UploadCache::RemoveAllTempFiles() const { return RemoveTempFiles(kTempPrefix); }

StatusOr<size_t> UploadCache::RemoveTempFiles(const std::string& prefix) const {
  DIR* dir = ::opendir(root_.c_str());
  if (dir == nullptr) {
    return UnavailableError("cannot read upload cache " + root_ + ": " + Errno(errno));
  }
  size_t removed = 0;
  while (const struct dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    if (::unlinkat(::dirfd(dir), entry->d_name, 0) == 0) ++removed;
  }
  ::closedir(dir);
  return removed;
}

}  // namespace ferry::agent
