// TrackerTest: the fixture of the tests that run a real ferry-tracker (FERRY_TRACKER_PATH) and
// real ferry-agents (FERRY_AGENT_PATH) on ephemeral loopback ports, heartbeating every 200 ms,
// with the ferry CLI (FERRY_CLI_PATH) beside them. Each test gets a temporary directory for
// the shared secret, endpoint files and logs; TearDown stops every child it started.
#ifndef FERRY_TESTS_TRACKER_TEST_FIXTURE_H_
#define FERRY_TESTS_TRACKER_TEST_FIXTURE_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "rpc/client_session.h"
#include "rpc/ticket.h"
#include "rpc/tracker_client.h"
#include "runtime/file_util.h"
#include "runtime/npy.h"
#include "tests/model_test_util.h"
#include "tests/process_test_util.h"

#if !defined(FERRY_TRACKER_PATH) || !defined(FERRY_AGENT_PATH) || !defined(FERRY_CLI_PATH)
#error "FERRY_TRACKER_PATH, FERRY_AGENT_PATH and FERRY_CLI_PATH must name the binaries"
#endif

extern char** environ;

namespace ferry {

using testing::ShellQuote;
using testing::StopChild;
using testing::WaitFor;

using namespace std::chrono_literals;
using rpc::Clock;
using testing::TestLibraries;

inline constexpr auto kHeartbeat = 200ms;
inline constexpr const char* kSecret = "tracker-integration-test-secret-0123456789";

// A device request with `timeout` and `priority`.
inline rpc::DeviceRequest Within(std::chrono::milliseconds timeout, int priority = 0) {
  rpc::DeviceRequest request;
  request.timeout = timeout;
  request.priority = priority;
  return request;
}

inline int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// A started agent: its process, its bound endpoint (also its advertised address) and its log.
struct AgentProcess {
  pid_t pid = -1;
  std::string endpoint;
  std::string log;
};

class TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-tracker-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    secret_file_ = Path("secret");
    ASSERT_OK(WriteFileAtomically(secret_file_, std::string(kSecret) + "\n"));
  }

  void TearDown() override {
    // Agents first (they end their sessions and say goodbye), then the tracker.
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) StopChild(*it);
    children_.clear();
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  // Starts `args` with stdout and stderr appended to `log`. Returns the pid.
  StatusOr<pid_t> Spawn(std::vector<std::string> args, const std::string& log) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return InternalError(std::string("posix_spawn: ") + std::strerror(rc));
    children_.push_back(pid);
    return pid;
  }

  // Waits for `pid` to write `endpoint_file`; fails when it exits first or after 10 s.
  StatusOr<std::string> AwaitEndpoint(pid_t pid, const std::string& endpoint_file,
                                      const std::string& log) {
    bool exited = false;
    const bool written = WaitFor(
        [&] {
          if (std::filesystem::exists(endpoint_file)) return true;
          int status = 0;
          exited = waitpid(pid, &status, WNOHANG) == pid;
          return exited;
        },
        10s);
    if (exited) {
      Forget(pid);
      return UnavailableError("the process exited before listening:\n" +
                              ReadFile(log).value_or(""));
    }
    if (!written)
      return DeadlineExceededError("no endpoint after 10 s:\n" + ReadFile(log).value_or(""));
    ASSIGN_OR_RETURN(std::string endpoint, ReadFile(endpoint_file));
    while (!endpoint.empty() && endpoint.back() == '\n') endpoint.pop_back();
    return endpoint;
  }

  // Starts a tracker listening on `listen`; returns its endpoint and sets tracker_pid_.
  StatusOr<std::string> StartTracker(const std::string& listen = "tcp://127.0.0.1:*") {
    const std::string name = "tracker" + std::to_string(started_++);
    const std::string endpoint_file = Path(name + ".endpoint");
    const std::string log = Path(name + ".log");
    ASSIGN_OR_RETURN(tracker_pid_, Spawn({FERRY_TRACKER_PATH, "--listen", listen, "--secret-file",
                                          secret_file_, "--endpoint-file", endpoint_file,
                                          "--heartbeat-ms", std::to_string(kHeartbeat.count())},
                                         log));
    ASSIGN_OR_RETURN(tracker_, AwaitEndpoint(tracker_pid_, endpoint_file, log));
    return tracker_;
  }

  // Starts a tracker again on `endpoint` (after the last one was killed), retrying while the
  // port is not yet free, for up to `timeout`. Returns the last attempt's status.
  Status RestartTrackerAt(const std::string& endpoint, std::chrono::milliseconds timeout) {
    Status started = UnavailableError("not started");
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      started = StartTracker(endpoint).status();
      if (started.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return started;
  }

  // Starts an agent of `key` under the tracker at tracker_.
  StatusOr<AgentProcess> StartAgent(const std::string& key,
                                    const std::vector<std::string>& extra = {}) {
    const std::string name = "agent" + std::to_string(started_++);
    const std::string endpoint_file = Path(name + ".endpoint");
    AgentProcess agent;
    agent.log = Path(name + ".log");
    std::vector<std::string> args = {FERRY_AGENT_PATH,
                                     "--listen",
                                     "tcp://127.0.0.1:*",
                                     "--endpoint-file",
                                     endpoint_file,
                                     "--work-dir",
                                     Path(name),
                                     "--session-timeout",
                                     "20",
                                     "--tracker",
                                     tracker_,
                                     "--key",
                                     key,
                                     "--secret-file",
                                     secret_file_,
                                     "--heartbeat-ms",
                                     std::to_string(kHeartbeat.count())};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSIGN_OR_RETURN(agent.pid, Spawn(args, agent.log));
    ASSIGN_OR_RETURN(agent.endpoint, AwaitEndpoint(agent.pid, endpoint_file, agent.log));
    return agent;
  }

  void Kill(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Forget(pid);
  }

  void Forget(pid_t pid) { std::erase(children_, pid); }

  StatusOr<rpc::TrackerClient> Tracker(std::chrono::milliseconds timeout = 2s) {
    return TrackerAt(tracker_, timeout);
  }
  // For client threads: tracker_ changes when a test restarts the tracker, so threads are
  // given a copy of the endpoint made before they start.
  static StatusOr<rpc::TrackerClient> TrackerAt(const std::string& endpoint,
                                                std::chrono::milliseconds timeout) {
    rpc::ConnectOptions options;
    options.timeout = timeout;
    return rpc::ConnectTracker(endpoint, options);
  }

  // The tracker's summary, or an error (not reachable yet, restarting).
  StatusOr<rpc::TrackerStatus> GetStatus() {
    ASSIGN_OR_RETURN(rpc::TrackerClient client, Tracker(1s));
    return client.GetStatus();
  }

  // The registered agents' addresses, or an empty map when the tracker does not answer.
  std::map<std::string, rpc::TrackerAgentStatus> Agents() {
    std::map<std::string, rpc::TrackerAgentStatus> out;
    StatusOr<rpc::TrackerStatus> status = GetStatus();
    if (!status.ok()) return out;
    for (auto& a : status->agents) out[a.address] = a;
    return out;
  }

  // Waits until exactly the agents of `endpoints` are registered.
  bool WaitForAgents(const std::vector<std::string>& endpoints, std::chrono::milliseconds timeout) {
    return WaitFor(
        [&] {
          const auto agents = Agents();
          if (agents.size() != endpoints.size()) return false;
          for (const auto& e : endpoints) {
            if (agents.count(e) == 0) return false;
          }
          return true;
        },
        timeout);
  }

  // Starts a tracker and `n` agents of `key`, and waits until all are registered.
  void StartCluster(int n, const std::string& key = "cpu") {
    ASSERT_OK(StartTracker());
    std::vector<std::string> endpoints;
    for (int i = 0; i < n; ++i) {
      ASSERT_OK_AND_ASSIGN(AgentProcess agent, StartAgent(key));
      agents_.push_back(agent);
      endpoints.push_back(agent.endpoint);
    }
    ASSERT_TRUE(WaitForAgents(endpoints, 10s)) << "the agents did not register";
  }

  // Checks a granted session works: a call through ferry.echo.
  static Status Echo(rpc::RemoteSession& remote) {
    ASSIGN_OR_RETURN(PackedFunc echo, remote.GetFunction("ferry.echo"));
    ASSIGN_OR_RETURN(Value back, echo.Call(std::string("ping")));
    ASSIGN_OR_RETURN(std::string text, back.As<std::string>());
    if (text != "ping") return InternalError("echo returned '" + text + "'");
    return Status::Ok();
  }

  // Runs `ferry args...`; returns the exit code and fills `out` with stdout (+ stderr).
  int Ferry(const std::vector<std::string>& args, std::string* out) {
    const std::string out_path = Path("ferry_" + std::to_string(started_++) + ".out");
    std::string command = ShellQuote(FERRY_CLI_PATH);
    for (const std::string& arg : args) {
      command += ' ';
      command += ShellQuote(arg);
    }
    command += " </dev/null >" + ShellQuote(out_path) + " 2>&1";
    const int status = std::system(command.c_str());
    *out = ReadFile(out_path).value_or("");
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::unique_ptr<compiler::TempDir> dir_;
  std::string secret_file_;
  std::vector<pid_t> children_;
  int started_ = 0;
  pid_t tracker_pid_ = -1;
  std::string tracker_;
  std::vector<AgentProcess> agents_;
};

}  // namespace ferry

#endif  // FERRY_TESTS_TRACKER_TEST_FIXTURE_H_
