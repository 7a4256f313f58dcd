#include "compiler/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace ferry::compiler {

StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const std::string& log_path,
                                   std::chrono::milliseconds timeout) {
  if (argv.empty()) return InvalidArgumentError("RunProcess: empty command");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return UnavailableError("cannot start " + argv[0] + ": " + std::strerror(rc));
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int wait_status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      return InternalError("waitpid failed: " + std::string(std::strerror(errno)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &wait_status, 0);
      return DeadlineExceededError(argv[0] + " did not finish within " +
                                   std::to_string(timeout.count() / 1000) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  ProcessResult result;
  result.signalled = WIFSIGNALED(wait_status);
  result.signal = result.signalled ? WTERMSIG(wait_status) : 0;
  result.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  std::ifstream log(log_path, std::ios::binary);
  std::stringstream text;
  text << log.rdbuf();
  result.output = text.str();
  constexpr size_t kMaxOutput = 64 * 1024;
  if (result.output.size() > kMaxOutput) {
    result.output = result.output.substr(result.output.size() - kMaxOutput);
  }
  return result;
}

StatusOr<TempDir> TempDir::Create(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") + "/" + prefix +
                        "XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return UnavailableError("cannot create a temporary directory " + pattern + ": " +
                            std::strerror(errno));
  }
  return TempDir(pattern);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace ferry::compiler
