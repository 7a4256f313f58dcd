// SessionFiles: the file storage a session server needs (uploads, downloads, listing), as an
// interface so rpc/ does not depend on the agent that implements it
// (device_agent/agent_session_files.h). Labels are client-supplied names, never paths; an
// implementation validates them.
#ifndef FERRY_RPC_SESSION_FILES_H_
#define FERRY_RPC_SESSION_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/status.h"

namespace ferry::rpc {

struct FileEntry {
  std::string label;
  uint64_t size = 0;
};

class SessionFiles {
 public:
  virtual ~SessionFiles() = default;

  // Starts storing `label` with content of `size` bytes and SHA-256 `digest` (lowercase hex).
  // Returns true when the content is already cached for this session's client identity (never
  // another identity's) with that size: the file is in place and no chunks are needed.
  // Errors: kInvalidArgument (bad label or digest, or a cached copy of another size),
  // kResourceExhausted (too large, over a quota or the cache limit).
  virtual StatusOr<bool> BeginUpload(std::string_view label, std::string_view digest,
                                     uint64_t size) = 0;
  // Appends the chunk at `offset` (== bytes received so far) to the upload of `label`.
  virtual Status AppendUpload(std::string_view label, uint64_t offset, std::string_view chunk) = 0;
  // Verifies size and digest, then makes the file available under `label`. Errors:
  // kInvalidArgument "upload digest mismatch ..." (nothing is stored), kNotFound (no upload).
  virtual Status FinishUpload(std::string_view label) = 0;

  // The local path of file `label`. Errors: kNotFound, kInvalidArgument (bad label).
  virtual StatusOr<std::string> PathOf(std::string_view label) const = 0;
  // The local path to load file `label` from: unique to the label's current content, so that
  // loading a label after it was given new content loads the new content (the dynamic loader
  // returns the library it already has for a path it has loaded), and loading the same content
  // twice gives the same path. Errors: as PathOf; kUnavailable for I/O errors.
  virtual StatusOr<std::string> LoadPathOf(std::string_view label) = 0;
  virtual StatusOr<std::vector<FileEntry>> List() const = 0;
  virtual Status Remove(std::string_view label) = 0;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SESSION_FILES_H_
