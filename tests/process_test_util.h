// Helpers for tests that start and stop real Ferry processes: bounded polling, shell quoting,
// starting a child with its output in a log (optionally inside a network namespace), waiting
// for a daemon's endpoint file, and waiting for or stopping a child within a deadline.
#ifndef FERRY_TESTS_PROCESS_TEST_UTIL_H_
#define FERRY_TESTS_PROCESS_TEST_UTIL_H_

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/file_util.h"
#include "runtime/status.h"

namespace ferry::testing {

// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// `s` as one single-quoted shell word.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The first executable `name` in $PATH, then in `more_dirs` (':'-separated), or "".
inline std::string FindProgram(const std::string& name, const std::string& more_dirs = "") {
  const char* env = std::getenv("PATH");
  const std::string dirs = std::string(env != nullptr ? env : "") + ":" + more_dirs;
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Sends SIGTERM, then SIGKILL when the child has not exited after 5 s; reaps it.
inline void StopChild(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (!WaitFor([&] { return waitpid(pid, nullptr, WNOHANG) != 0; }, std::chrono::seconds(5))) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

// Starts `args` (args[0] a path) with stdin from /dev/null and stdout and stderr appended to
// `log_path`, inside the network namespace at `netns_path` when it is non-empty. Returns the
// pid, or -1 when fork failed. The child exits with 126 when it cannot enter the namespace or
// open the log, with 127 when it cannot exec.
inline pid_t SpawnLogged(std::vector<std::string> args, const std::string& log_path,
                         const std::string& netns_path = "") {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const char* log = log_path.c_str();
  const char* ns = netns_path.empty() ? nullptr : netns_path.c_str();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Only async-signal-safe calls between fork and exec.
  if (ns != nullptr) {
    const int fd = open(ns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
  }
  const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int in = open("/dev/null", O_RDONLY);
  if (out < 0 || in < 0) _exit(126);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  execv(argv[0], argv.data());
  _exit(127);
}

// Waits up to `timeout` for child `pid` to write `endpoint_file` and returns what it wrote
// (trailing newlines dropped). Errors, each with the log at `log_path`: kUnavailable when the
// child exits first (it is reaped, its wait status in `*wait_status` when given),
// kDeadlineExceeded when no endpoint came in time (the child keeps running).
inline StatusOr<std::string> AwaitEndpointFile(
    pid_t pid, const std::string& endpoint_file, const std::string& log_path,
    std::chrono::seconds timeout = std::chrono::seconds(10), int* wait_status = nullptr) {
  bool exited = false;
  int status = 0;
  const bool written = WaitFor(
      [&] {
        if (std::filesystem::exists(endpoint_file)) return true;
        exited = waitpid(pid, &status, WNOHANG) == pid;
        return exited;
      },
      timeout);
  if (exited) {
    if (wait_status != nullptr) *wait_status = status;
    return UnavailableError("exited before listening:\n" + ReadFile(log_path).value_or(""));
  }
  if (!written) {
    return DeadlineExceededError("wrote no endpoint in " + std::to_string(timeout.count()) +
                                 " s:\n" + ReadFile(log_path).value_or(""));
  }
  ASSIGN_OR_RETURN(std::string endpoint, ReadFile(endpoint_file));
  while (!endpoint.empty() && endpoint.back() == '\n') endpoint.pop_back();
  return endpoint;
}

// Waits up to `timeout` for child `pid` to exit and returns its exit code: -1 when a signal
// ended it or it ran past `timeout` (it is then killed). The child is reaped either way.
inline int WaitExitCode(pid_t pid, std::chrono::milliseconds timeout) {
  if (pid <= 0) return -1;
  int status = 0;
  if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Reads from `fd` up to the first newline, waiting at most `timeout` for each read; returns
// the line without its newline (what came, maybe "", when EOF or the timeout came first).
inline std::string ReadLineFrom(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  pollfd item{fd, POLLIN, 0};
  while (line.find('\n') == std::string::npos &&
         poll(&item, 1, static_cast<int>(timeout.count())) > 0) {
    char buffer[64];
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    line.append(buffer, static_cast<size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_PROCESS_TEST_UTIL_H_
