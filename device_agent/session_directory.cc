#include "device_agent/session_directory.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "device_agent/file_label.h"
#include "runtime/check.h"

namespace ferry::agent {
namespace {

namespace fs = std::filesystem;

std::string Errno(int error) { return std::strerror(error); }

// Copies `from` to the new file `to` (which must not exist).
Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(to, ignored);
    return UnavailableError("cannot copy " + from + " to " + to + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace

StatusOr<SessionDirectory> SessionDirectory::Create(const std::string& root,
                                                    const std::string& session_id) {
  RETURN_IF_ERROR(CheckFileLabel(session_id).WithContext("session id"));
  if (root.empty()) return InvalidArgumentError("session root directory is empty");
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return UnavailableError("cannot create session root " + root + ": " + ec.message());
  std::string path = root + "/" + session_id;
  if (::mkdir(path.c_str(), 0700) != 0) {
    const int error = errno;
    if (error == EEXIST) return InvalidArgumentError("session directory already exists: " + path);
    return UnavailableError("cannot create session directory " + path + ": " + Errno(error));
  }
  return SessionDirectory(std::move(path));
}

SessionDirectory::SessionDirectory(SessionDirectory&& other) noexcept
    : path_(std::exchange(other.path_, std::string())), next_temp_(other.next_temp_) {}

SessionDirectory& SessionDirectory::operator=(SessionDirectory&& other) noexcept {
  if (this != &other) {
    Destroy();
    path_ = std::exchange(other.path_, std::string());
    next_temp_ = other.next_temp_;
  }
  return *this;
}

SessionDirectory::~SessionDirectory() { Destroy(); }

void SessionDirectory::Destroy() {
  if (path_.empty()) return;
  std::error_code ignored;
  fs::remove_all(path_, ignored);  // does not follow symbolic links
  path_.clear();
}

Status SessionDirectory::AddFile(std::string_view label, const std::string& cache_path) {
  FERRY_CHECK(!path_.empty()) << "SessionDirectory used after move";
  RETURN_IF_ERROR(CheckFileLabel(label));
  const std::string target = path_ + "/" + std::string(label);

  // Link (or copy) under a fresh hidden name, then rename over the label: a reader of the
  // label sees the old file or the new one, never a missing or partial one.
  std::string temp;
  for (;;) {
    temp = path_ + "/.add-" + std::to_string(next_temp_++);
    if (::link(cache_path.c_str(), temp.c_str()) == 0) break;
    const int error = errno;
    if (error == EEXIST) continue;
    if (error == ENOENT) {
      struct stat info;
      if (::stat(cache_path.c_str(), &info) != 0) {
        return NotFoundError("no cached file " + cache_path);
      }
      return UnavailableError("session directory " + path_ + " is gone");
    }
    if (error == EXDEV || error == EPERM || error == EMLINK) {
      struct stat info;
      if (::lstat(temp.c_str(), &info) == 0) continue;  // name taken; try the next one
      RETURN_IF_ERROR(CopyFile(cache_path, temp));
      break;
    }
    return UnavailableError("cannot link " + cache_path + " into " + path_ + ": " + Errno(error));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    if (error == EISDIR) {
      return InvalidArgumentError("file label \"" + std::string(label) +
                                  "\" names a directory in the session");
    }
    return UnavailableError("cannot rename " + temp + " to " + target + ": " + Errno(error));
  }
  return Status::Ok();
}

StatusOr<std::string> SessionDirectory::PathOf(std::string_view label) const {
  FERRY_CHECK(!path_.empty()) << "SessionDirectory used after move";
  RETURN_IF_ERROR(CheckFileLabel(label));
  std::string target = path_ + "/" + std::string(label);
  struct stat info;
  if (::lstat(target.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return NotFoundError("no file labelled \"" + std::string(label) + "\" in the session");
  }
  return target;
}

StatusOr<std::string> SessionDirectory::LoadPathOf(std::string_view label) {
  ASSIGN_OR_RETURN(const std::string target, PathOf(label));
  // Link first and name the link after what was linked, so a label replaced meanwhile cannot
  // give one inode's name to another inode.
  std::string temp;
  for (;;) {
    temp = path_ + "/.add-" + std::to_string(next_temp_++);
    if (::link(target.c_str(), temp.c_str()) == 0) break;
    const int error = errno;
    if (error == EEXIST) continue;
    if (error == ENOENT) {
      return NotFoundError("no file labelled \"" + std::string(label) + "\" in the session");
    }
    return UnavailableError("cannot link " + target + " for loading: " + Errno(error));
  }
  struct stat linked;
  if (::lstat(temp.c_str(), &linked) != 0 || !S_ISREG(linked.st_mode)) {
    ::unlink(temp.c_str());
    return NotFoundError("no file labelled \"" + std::string(label) + "\" in the session");
  }
  std::string load_path = path_ + "/.load-" + std::to_string(linked.st_ino);
  struct stat existing;
  if (::lstat(load_path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode) &&
      existing.st_ino == linked.st_ino && existing.st_dev == linked.st_dev) {
    ::unlink(temp.c_str());
    return load_path;
  }
  // Whatever else has that name (left by the session's own code) is replaced.
  if (::rename(temp.c_str(), load_path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return UnavailableError("cannot rename " + temp + " to " + load_path + ": " + Errno(error));
  }
  return load_path;
}

std::vector<SessionDirectory::FileInfo> SessionDirectory::List() const {
  std::vector<FileInfo> files;
  if (path_.empty()) return files;
  std::error_code ec;
  fs::directory_iterator it(path_, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    std::error_code entry_ec;
    if (!fs::is_regular_file(it->symlink_status(entry_ec))) continue;
    const uintmax_t size = it->file_size(entry_ec);
    if (entry_ec) continue;
    files.push_back(FileInfo{std::move(name), static_cast<uint64_t>(size)});
  }
  std::sort(files.begin(), files.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.label < b.label; });
  return files;
}

Status SessionDirectory::Remove(std::string_view label) {
  FERRY_CHECK(!path_.empty()) << "SessionDirectory used after move";
  RETURN_IF_ERROR(CheckFileLabel(label));
  const std::string target = path_ + "/" + std::string(label);
  struct stat info;
  if (::lstat(target.c_str(), &info) != 0 || S_ISDIR(info.st_mode)) {
    return NotFoundError("no file labelled \"" + std::string(label) + "\" in the session");
  }
  if (::unlink(target.c_str()) != 0) {
    const int error = errno;
    if (error == ENOENT) {
      return NotFoundError("no file labelled \"" + std::string(label) + "\" in the session");
    }
    return UnavailableError("cannot remove " + target + ": " + Errno(error));
  }
  return Status::Ok();
}

}  // namespace ferry::agent
