#include "device_agent/upload_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

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

}  // namespace

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

bool UploadCache::Contains(std::string_view digest) const {
  if (!IsSha256Hex(digest)) return false;
  struct stat info;
  return ::stat(PathFor(digest).c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string UploadCache::PathFor(std::string_view digest) const {
  FERRY_CHECK(IsSha256Hex(digest)) << "not a SHA-256 digest: " << digest.substr(0, 80);
  std::string path = root_;
  path += '/';
  path += digest;
  return path;
}

StatusOr<std::unique_ptr<PendingUpload>> UploadCache::Begin(std::string expected_digest,
                                                            uint64_t size, uint64_t max_size) {
  if (!IsSha256Hex(expected_digest)) {
    return InvalidArgumentError("upload digest must be 64 lowercase hex characters (SHA-256)");
  }
  if (size > max_size) {
    return ResourceExhaustedError("upload of " + std::to_string(size) +
                                  " bytes exceeds the limit of " + std::to_string(max_size) +
                                  " bytes");
  }
  std::string temp_path = root_ + "/.upload-XXXXXX";
  const int fd = ::mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) {
    return UnavailableError("cannot create an upload file in " + root_ + ": " + Errno(errno));
  }
  std::string final_path = PathFor(expected_digest);
  return std::unique_ptr<PendingUpload>(new PendingUpload(
      fd, std::move(temp_path), std::move(final_path), std::move(expected_digest), size));
}

}  // namespace ferry::agent
