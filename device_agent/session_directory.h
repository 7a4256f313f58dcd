// A session's working directory on the agent: created when the session opens, removed with
// everything in it when the session ends.
//
// Files get into it by label (see file_label.h) from the upload cache, as hard links to the
// cached, read-only file, so a 1 GiB library used by ten sessions is stored once. A cached file
// linked here has a link count above 1, which is what keeps the cache from evicting it.
#ifndef FERRY_DEVICE_AGENT_SESSION_DIRECTORY_H_
#define FERRY_DEVICE_AGENT_SESSION_DIRECTORY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/status.h"

namespace ferry::agent {

// Owns `<root>/<session_id>`. Move-only (calling AddFile, PathOf, LoadPathOf or Remove on a
// moved-from object is a broken precondition); the destructor removes the directory recursively,
// ignoring errors. Not thread-safe: one thread (the session's) uses it.
//
// Only regular files are ever reported or resolved: a symbolic link or directory that the
// session's code created under a label is neither listed nor returned by PathOf, so the agent
// never follows a link planted by uploaded code.
class SessionDirectory {
 public:
  struct FileInfo {
    std::string label;
    uint64_t size = 0;
    friend bool operator==(const FileInfo&, const FileInfo&) = default;
  };

  // Creates `<root>/<session_id>` (mode 0700), creating root when missing.
  // Errors: kInvalidArgument when session_id is not a valid file label (CheckFileLabel) or the
  // directory already exists (another session's, or left over); kUnavailable when it cannot
  // be created.
  static StatusOr<SessionDirectory> Create(const std::string& root, const std::string& session_id);

  SessionDirectory(SessionDirectory&& other) noexcept;
  SessionDirectory& operator=(SessionDirectory&& other) noexcept;
  SessionDirectory(const SessionDirectory&) = delete;
  SessionDirectory& operator=(const SessionDirectory&) = delete;
  ~SessionDirectory();

  // Makes the file at `cache_path` (normally UploadCache::PathFor) available as
  // `<dir>/<label>`, atomically replacing a file already there under that label. It hard-links
  // when it can and copies when the link is impossible (EXDEV: another file system; EPERM or
  // EMLINK: links refused or too many).
  // Errors: kInvalidArgument for a bad label (CheckFileLabel) or when the label names a
  // directory; kNotFound when cache_path does not exist; kUnavailable for other I/O errors.
  Status AddFile(std::string_view label, const std::string& cache_path);

  // `<dir>/<label>`. Errors: kInvalidArgument for a bad label; kNotFound when no regular file
  // has that label.
  StatusOr<std::string> PathOf(std::string_view label) const;

  // A path that names the current content of file `label` and nothing else:
  // `<dir>/.load-<inode>`, a hard link to the labelled file, made on first use. Replacing the
  // label (AddFile) gives it a new inode and so a new load path, while loading the same content
  // again gives the same path. For the dynamic loader, which returns the handle it already has
  // for a path it has loaded: loading a label loads what the label holds now. The link lives
  // until the session ends (a loaded library stays in use), and an inode number is not reused
  // while it exists. Errors: as PathOf; kUnavailable when the link cannot be made.
  StatusOr<std::string> LoadPathOf(std::string_view label);

  // The regular files in the directory, sorted by label, without names starting with '.'
  // (the agent's temp files). Unreadable entries are skipped; empty when the directory is gone.
  std::vector<FileInfo> List() const;

  // Removes the file with this label. Errors: kInvalidArgument for a bad label; kNotFound when
  // there is no file (regular file or link) with that label; kUnavailable when unlink fails.
  Status Remove(std::string_view label);

  // The directory; empty in a moved-from object.
  const std::string& path() const { return path_; }

 private:
  explicit SessionDirectory(std::string path) : path_(std::move(path)) {}

  // Removes the directory tree, ignoring errors, and clears path_.
  void Destroy();

  std::string path_;
  uint64_t next_temp_ = 0;  // suffix of the next temp name in AddFile
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_SESSION_DIRECTORY_H_
