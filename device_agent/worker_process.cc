#include "device_agent/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/kernel_threads.h"

extern char** environ;

namespace ferry::agent {
namespace {

constexpr int kReportFd = 3;
constexpr const char* kTokenVariable = "FERRY_SESSION_TOKEN";
constexpr const char* kSecretKeyVariable = "FERRY_SESSION_SECRET_KEY";

bool IsSecretVariable(const char* entry) {
  for (const char* name : {kTokenVariable, kSecretKeyVariable}) {
    const size_t length = std::strlen(name);
    if (std::strncmp(entry, name, length) == 0 && entry[length] == '=') return true;
  }
  return false;
}

}  // namespace

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(signal);
}

StatusOr<StartedWorker> StartWorkerProcess(const std::string& executable,
                                           const WorkerConfig& config,
                                           std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return UnavailableError(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> args = {
      executable,        "--session-worker", "--session-id",   config.session_id,
      "--sessions-root", config.sessions_root, "--cache-dir",  config.cache_dir,
      "--bind-host",     config.bind_host,
      "--idle-timeout-ms", std::to_string(config.limits.idle_timeout.count()),
      "--hello-timeout-ms", std::to_string(config.limits.hello_timeout.count()),
      "--call-grace-ms", std::to_string(config.limits.call_grace.count()),
      "--max-message-bytes", std::to_string(config.max_message_bytes),
      "--max-upload-bytes", std::to_string(config.max_upload_bytes),
      "--cache-max-bytes", std::to_string(config.cache_max_bytes),
      "--session-quota-bytes", std::to_string(config.session_quota_bytes),
      "--max-address-space", std::to_string(config.max_address_space),
      "--max-open-files", std::to_string(config.max_open_files),
      "--client-key", config.client_key.empty() ? "-" : config.client_key,
      "--report-fd", std::to_string(kReportFd)};
  if (config.kernel_threads > 0) {
    args.insert(args.end(), {"--threads", std::to_string(config.kernel_threads)});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!IsSecretVariable(*e)) env_storage.push_back(*e);
  }
  env_storage.push_back(std::string(kTokenVariable) + "=" + config.token);
  if (!config.secret_key.empty()) {
    env_storage.push_back(std::string(kSecretKeyVariable) + "=" + config.secret_key);
  }
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], kReportFd);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return UnavailableError("cannot start a session worker (" + executable + "): " + std::strerror(rc));
  }

  std::string report;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status failure;
  while (report.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = DeadlineExceededError("the session worker did not start within " +
                                      std::to_string(timeout.count()) + " ms");
      break;
    }
    pollfd item{pipe_fds[0], POLLIN, 0};
    if (::poll(&item, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[512];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n <= 0) {
      failure = UnavailableError("the session worker exited before it was ready");
      break;
    }
    report.append(buffer, static_cast<size_t>(n));
  }
  const std::string prefix = "ENDPOINT ";
  if (failure.ok() && report.rfind(prefix, 0) != 0) {
    failure = InternalError("the session worker sent an unexpected report");
  }
  if (!failure.ok()) {
    ::close(pipe_fds[0]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return failure;
  }
  fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  return StartedWorker{pid, report.substr(prefix.size(), report.find('\n') - prefix.size()),
                       pipe_fds[0]};
}

StatusOr<WorkerConfig> ParseWorkerArgs(int argc, char** argv) {
  WorkerConfig config;
  auto number = [](const std::string& text, const char* flag) -> StatusOr<int64_t> {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || end == text.c_str() || *end != '\0' || v < 0) {
      return InvalidArgumentError(std::string(flag) + " needs a non-negative integer");
    }
    return static_cast<int64_t>(v);
  };
  for (int i = 0; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return InvalidArgumentError("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--session-id") {
      config.session_id = value;
    } else if (flag == "--sessions-root") {
      config.sessions_root = value;
    } else if (flag == "--cache-dir") {
      config.cache_dir = value;
    } else if (flag == "--bind-host") {
      config.bind_host = value;
    } else if (flag == "--idle-timeout-ms") {
      ASSIGN_OR_RETURN(int64_t ms, number(value, "--idle-timeout-ms"));
      config.limits.idle_timeout = std::chrono::milliseconds(ms);
    } else if (flag == "--hello-timeout-ms") {
      ASSIGN_OR_RETURN(int64_t ms, number(value, "--hello-timeout-ms"));
      config.limits.hello_timeout = std::chrono::milliseconds(ms);
    } else if (flag == "--call-grace-ms") {
      ASSIGN_OR_RETURN(int64_t ms, number(value, "--call-grace-ms"));
      config.limits.call_grace = std::chrono::milliseconds(ms);
    } else if (flag == "--cache-max-bytes") {
      ASSIGN_OR_RETURN(int64_t bytes, number(value, "--cache-max-bytes"));
      config.cache_max_bytes = static_cast<uint64_t>(bytes);
    } else if (flag == "--session-quota-bytes") {
      ASSIGN_OR_RETURN(int64_t bytes, number(value, "--session-quota-bytes"));
      config.session_quota_bytes = static_cast<uint64_t>(bytes);
    } else if (flag == "--max-address-space") {
      ASSIGN_OR_RETURN(int64_t bytes, number(value, "--max-address-space"));
      config.max_address_space = static_cast<uint64_t>(bytes);
    } else if (flag == "--max-open-files") {
      ASSIGN_OR_RETURN(int64_t n, number(value, "--max-open-files"));
      config.max_open_files = static_cast<uint64_t>(n);
    } else if (flag == "--client-key") {
      config.client_key = value == "-" ? "" : value;
    } else if (flag == "--max-message-bytes") {
      ASSIGN_OR_RETURN(config.max_message_bytes, number(value, "--max-message-bytes"));
    } else if (flag == "--max-upload-bytes") {
      ASSIGN_OR_RETURN(int64_t bytes, number(value, "--max-upload-bytes"));
      config.max_upload_bytes = static_cast<uint64_t>(bytes);
    } else if (flag == "--threads") {
      ASSIGN_OR_RETURN(config.kernel_threads, ParseKernelThreads(value, "--threads"));
    } else if (flag == "--report-fd") {
      ASSIGN_OR_RETURN(int64_t fd, number(value, "--report-fd"));
      config.report_fd = static_cast<int>(fd);
    } else {
      return InvalidArgumentError("unknown worker option " + flag);
    }
  }
  const char* token = std::getenv(kTokenVariable);
  if (token == nullptr || *token == '\0') return InvalidArgumentError("no session token");
  config.token = token;
  unsetenv(kTokenVariable);
  if (const char* secret = std::getenv(kSecretKeyVariable); secret != nullptr) {
    config.secret_key = secret;
    unsetenv(kSecretKeyVariable);
  }
  if (config.client_key.empty() != config.secret_key.empty()) {
    return InvalidArgumentError("a CURVE worker needs both the client key and the secret key");
  }
  if (config.session_id.empty() || config.sessions_root.empty() || config.cache_dir.empty() ||
      config.report_fd < 0) {
    return InvalidArgumentError("incomplete worker configuration");
  }
  return config;
}

}  // namespace ferry::agent
