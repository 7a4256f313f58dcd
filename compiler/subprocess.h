// Running a tool (the system C++ compiler) with a deadline.
#ifndef FERRY_COMPILER_SUBPROCESS_H_
#define FERRY_COMPILER_SUBPROCESS_H_

#include <chrono>
#include <string>
#include <vector>

#include "runtime/status.h"

namespace ferry::compiler {

struct ProcessResult {
  int exit_code = 0;   // meaningful when !signalled
  bool signalled = false;
  int signal = 0;
  std::string output;  // stdout and stderr together, at most the last 64 KiB
};

// Runs argv[0] (looked up on PATH) with `argv`, without a shell, stdin closed, and its output
// captured to `log_path`. Errors: kInvalidArgument for an empty argv; kUnavailable when the
// process cannot be started; kDeadlineExceeded when it runs past `timeout` (it is killed).
StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const std::string& log_path,
                                   std::chrono::milliseconds timeout);

// A directory created under $TMPDIR (or /tmp) and removed with its contents on destruction.
class TempDir {
 public:
  // Errors: kUnavailable.
  static StatusOr<TempDir> Create(const std::string& prefix);
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace ferry::compiler

#endif  // FERRY_COMPILER_SUBPROCESS_H_
