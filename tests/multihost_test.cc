// The path a real cluster takes, with no loopback shortcut: network namespaces joined by veth
// pairs on a bridge (in a namespace of its own), the tracker in one, an agent in each of two
// others with their own addresses, and the client (the real `ferry run --tracker` CLI,
// FERRY_CLI_PATH) in a fourth. One run is served by one agent; that agent leaves and a second
// run is served by the other. Outputs must equal a local run bit for bit.
//
//   ns sw:  br0 ── p1 ─ eth0 (ns t: 10.77.N.1, ferry-tracker)
//               ├── p2 ─ eth0 (ns a: 10.77.N.2, ferry-agent)
//               ├── p3 ─ eth0 (ns b: 10.77.N.3, ferry-agent)
//               └── p4 ─ eth0 (ns c: 10.77.N.4, ferry run / ferry status)
//
// Needs iproute2's `ip` and the right to create namespaces (root or CAP_NET_ADMIN); skipped
// with the reason otherwise. Namespace names carry the test's pid, so concurrent runs do not
// clash; the addresses live inside the run's own namespaces, and N varies with the pid too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "rpc/curve_keys.h"
#include "runtime/file_util.h"
#include "runtime/npy.h"
#include "tests/model_test_util.h"
#include "tests/process_test_util.h"

#if !defined(FERRY_TRACKER_PATH) || !defined(FERRY_AGENT_PATH) || !defined(FERRY_CLI_PATH)
#error "FERRY_TRACKER_PATH, FERRY_AGENT_PATH and FERRY_CLI_PATH must name the binaries"
#endif

namespace ferry {
namespace {

using testing::StopChild;
using testing::WaitFor;
using testing::ShellQuote;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::TestLibraries;

constexpr const char* kSecret = "multihost-test-secret-0123456789abcdef";
constexpr const char* kKey = "multihost";

std::string FindIp() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

class MultiHostTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-multihost-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    ip_ = FindIp();
    if (ip_.empty()) GTEST_SKIP() << "iproute2's `ip` is not installed";
    if (geteuid() != 0) {
      GTEST_SKIP() << "creating network namespaces needs root (or CAP_NET_ADMIN); euid "
                   << geteuid();
    }
    const std::string pid = std::to_string(getpid());
    subnet_ = "10.77." + std::to_string(getpid() % 250 + 1) + ".";
    for (const char* role : {"sw", "t", "a", "b", "c"})
      names_[role] = "ferry-mh-" + pid + "-" + role;

    // The switch: a bridge in a namespace of its own. A failure here means no namespaces.
    std::string out;
    Ip({"netns", "del", names_["sw"]}, &out);  // a stale one of a killed run with this pid
    if (Ip({"netns", "add", names_["sw"]}, &out) != 0) {
      GTEST_SKIP() << "cannot create a network namespace (needs root / CAP_NET_ADMIN): " << out;
    }
    created_.push_back(names_["sw"]);
    if (Ip({"-n", names_["sw"], "link", "add", "br0", "type", "bridge"}, &out) != 0) {
      GTEST_SKIP() << "cannot create a bridge in a namespace: " << out;
    }
    ASSERT_EQ(Ip({"-n", names_["sw"], "link", "set", "br0", "up"}, &out), 0) << out;
    ASSERT_EQ(Ip({"-n", names_["sw"], "link", "set", "lo", "up"}, &out), 0) << out;
    int host = 1;
    for (const char* role : {"t", "a", "b", "c"}) {
      const std::string ns = names_[role];
      const std::string port = "p" + std::to_string(host);
      Ip({"netns", "del", ns}, &out);
      ASSERT_EQ(Ip({"netns", "add", ns}, &out), 0) << out;
      created_.push_back(ns);
      ASSERT_EQ(Ip({"-n", ns, "link", "set", "lo", "up"}, &out), 0) << out;
      ASSERT_EQ(Ip({"-n", names_["sw"], "link", "add", port, "type", "veth", "peer", "name", "eth0",
                    "netns", ns},
                   &out),
                0)
          << out;
      ASSERT_EQ(Ip({"-n", names_["sw"], "link", "set", port, "master", "br0"}, &out), 0) << out;
      ASSERT_EQ(Ip({"-n", names_["sw"], "link", "set", port, "up"}, &out), 0) << out;
      ASSERT_EQ(Ip({"-n", ns, "addr", "add", Address(host) + "/24", "dev", "eth0"}, &out), 0)
          << out;
      ASSERT_EQ(Ip({"-n", ns, "link", "set", "eth0", "up"}, &out), 0) << out;
      ++host;
    }
    ASSERT_OK(WriteFileAtomically(Path("secret"), std::string(kSecret) + "\n"));
  }

  void TearDown() override {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) StopChild(*it);
    children_.clear();
    if (HasFailure() && dir_ != nullptr) {
      // The daemons' logs, to tell what went wrong.
      for (const auto& entry : std::filesystem::directory_iterator(dir_->path())) {
        if (entry.path().extension() != ".log") continue;
        std::cout << "---- " << entry.path().filename().string() << "\n"
                  << ReadFile(entry.path().string()).value_or("") << "\n";
      }
    }
    std::string out;
    for (const std::string& ns : created_) {
      // Whatever still runs in our namespaces was started by this test (session workers).
      if (Ip({"netns", "pids", ns}, &out) == 0) {
        std::istringstream pids(out);
        for (long pid; pids >> pid;) {
          if (pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
        }
      }
      if (Ip({"netns", "del", ns}, &out) != 0)
        ADD_FAILURE() << "cannot delete " << ns << ": " << out;
    }
    created_.clear();
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }
  std::string Address(int host) const { return subnet_ + std::to_string(host); }

  // Runs `ip args...`; returns its exit code and its output in `out`.
  int Ip(const std::vector<std::string>& args, std::string* out) {
    std::vector<std::string> all = {ip_};
    all.insert(all.end(), args.begin(), args.end());
    return Sh(all, out);
  }

  int Sh(const std::vector<std::string>& args, std::string* out) {
    const std::string out_path = Path("cmd_" + std::to_string(calls_++) + ".out");
    std::string command;
    for (const std::string& arg : args) command += ShellQuote(arg) + " ";
    command += "</dev/null >" + ShellQuote(out_path) + " 2>&1";
    const int status = std::system(command.c_str());
    *out = ReadFile(out_path).value_or("");
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Starts `args` inside namespace `ns` with stdout and stderr to `log`. Returns the pid.
  pid_t SpawnIn(const std::string& ns, std::vector<std::string> args, const std::string& log) {
    std::string ns_path = "/run/netns/" + ns;
    if (access(ns_path.c_str(), F_OK) != 0) ns_path = "/var/run/netns/" + ns;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      const int fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
      const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      const int in = open("/dev/null", O_RDONLY);
      if (out < 0 || in < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // Waits for `pid` to write `endpoint_file`; fails when it exits first or after 10 s.
  StatusOr<std::string> AwaitEndpoint(pid_t pid, const std::string& endpoint_file,
                                      const std::string& log) {
    bool exited = false;
    const bool written = WaitFor(
        [&] {
          if (std::filesystem::exists(endpoint_file)) return true;
          exited = waitpid(pid, nullptr, WNOHANG) == pid;
          return exited;
        },
        10s);
    if (exited) {
      std::erase(children_, pid);
      return UnavailableError("exited before listening:\n" + ReadFile(log).value_or(""));
    }
    if (!written)
      return DeadlineExceededError("no endpoint after 10 s:\n" + ReadFile(log).value_or(""));
    ASSIGN_OR_RETURN(std::string endpoint, ReadFile(endpoint_file));
    while (!endpoint.empty() && endpoint.back() == '\n') endpoint.pop_back();
    return endpoint;
  }

  // Runs `ferry args...` in namespace `ns` and waits up to `timeout`. Returns the exit code
  // (-1 for a signal or a timeout, after which the process is killed).
  int FerryIn(const std::string& ns, const std::vector<std::string>& args, std::string* out,
              std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> all = {FERRY_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    const std::string log = Path("ferry_" + std::to_string(calls_++) + ".out");
    const pid_t pid = SpawnIn(ns, all, log);
    if (pid < 0) return -1;
    int status = 0;
    const bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    std::erase(children_, pid);
    *out = ReadFile(log).value_or("");
    return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }


  std::unique_ptr<compiler::TempDir> dir_;
  std::string ip_;
  std::string subnet_;
  std::map<std::string, std::string> names_;  // role -> namespace name
  std::vector<std::string> created_;          // namespaces to delete
  std::vector<pid_t> children_;
  int calls_ = 0;
};

// The security flags of each role: with keys (CURVE on every connection, the tracker admitting
// the agents' and the client's keys in their roles), or plaintext with --insecure.
struct RoleFlags {
  std::vector<std::string> tracker, agent[2], client;
};

StatusOr<RoleFlags> SecurityFlags(bool secure, const std::string& dir) {
  if (!secure) return RoleFlags{{"--insecure"}, {{"--insecure"}, {"--insecure"}}, {}};
  std::filesystem::create_directories(dir);
  std::map<std::string, rpc::CurveKeyPair> keys;
  for (const char* name : {"tracker", "agent_a", "agent_b", "client"}) {
    ASSIGN_OR_RETURN(keys[name], rpc::GenerateCurveKeyPair());
    RETURN_IF_ERROR(rpc::WriteCurveKeyPair(dir + "/" + name, keys[name], /*overwrite=*/true));
  }
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/agent_keys", keys["agent_a"].public_key + " a\n" +
                                                               keys["agent_b"].public_key + " b\n"));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/client_keys", keys["client"].public_key + " client\n"));
  RoleFlags flags;
  flags.tracker = {"--identity", dir + "/tracker", "--agent-keys", dir + "/agent_keys",
                   "--client-keys", dir + "/client_keys"};
  for (int i = 0; i < 2; ++i) {
    flags.agent[i] = {"--identity", dir + (i == 0 ? "/agent_a" : "/agent_b"),
                      "--authorized-keys", dir + "/client_keys", "--tracker-key",
                      dir + "/tracker.pub"};
  }
  flags.client = {"--identity", dir + "/client", "--tracker-key", dir + "/tracker.pub"};
  return flags;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_P(MultiHostTest, ModelRunsAcrossNamespacesThroughTheTracker) {
  const bool secure = GetParam();
  ASSERT_OK_AND_ASSIGN(RoleFlags flags, SecurityFlags(secure, Path("keys")));
  ASSERT_OK_AND_ASSIGN(std::string library, TestLibraries::Get().Library("mlp_graph"));
  const NDArray input = testing::RandomArray({1, 784}, 31);
  ASSERT_OK(SaveNpy(Path("in.npy"), input));
  ASSERT_OK_AND_ASSIGN(NDArray expected, testing::RunLibraryModel(library, "mlp", input));

  // The tracker in ns t, on its own address.
  const std::string tracker_log = Path("tracker.log");
  const pid_t tracker_pid = SpawnIn(
      names_["t"],
      Concat({FERRY_TRACKER_PATH, "--listen", "tcp://" + Address(1) + ":*", "--secret-file",
              Path("secret"), "--endpoint-file", Path("tracker.endpoint"), "--heartbeat-ms", "200"},
             flags.tracker),
      tracker_log);
  ASSERT_GT(tracker_pid, 0);
  ASSERT_OK_AND_ASSIGN(std::string tracker,
                       AwaitEndpoint(tracker_pid, Path("tracker.endpoint"), tracker_log));
  ASSERT_EQ(tracker.rfind("tcp://" + Address(1) + ":", 0), 0u) << tracker;

  // An agent in each of ns a and ns b.
  std::vector<std::string> agents, agent_logs;
  std::vector<pid_t> agent_pids;
  int host = 2;
  for (const char* role : {"a", "b"}) {
    const std::vector<std::string>& security = flags.agent[host - 2];
    const std::string name = std::string("agent_") + role;
    agent_logs.push_back(Path(name + ".log"));
    const pid_t pid =
        SpawnIn(names_[role],
                Concat({FERRY_AGENT_PATH, "--listen", "tcp://" + Address(host++) + ":*",
                        "--tracker", tracker, "--key", kKey, "--secret-file", Path("secret"),
                        "--heartbeat-ms", "200", "--endpoint-file", Path(name + ".endpoint"),
                        "--work-dir", Path(name), "--session-timeout", "20"},
                       security),
                agent_logs.back());
    ASSERT_GT(pid, 0);
    agent_pids.push_back(pid);
    ASSERT_OK_AND_ASSIGN(std::string endpoint,
                         AwaitEndpoint(pid, Path(name + ".endpoint"), agent_logs.back()));
    agents.push_back(endpoint);
  }

  // Both registered, as seen from the client's namespace.
  std::string status;
  const bool registered = WaitFor(
      [&] {
        if (FerryIn(names_["c"], Concat({"status", "--tracker", tracker, "--json", "--timeout", "2"}, flags.client),
                    &status, 5s) != 0) {
          return false;
        }
        for (const std::string& agent : agents) {
          if (status.find("\"" + agent + "\"") == std::string::npos) return false;
        }
        return true;
      },
      10s);
  ASSERT_TRUE(registered) << "ferry status: " << status << "\ntracker log:\n"
                          << ReadFile(tracker_log).value_or("");

  // A client in ns c; then the agent that served it leaves, and a second client must be
  // served by the other one. Both outputs equal the local run.
  auto run_client = [&](int i) {
    std::string out;
    const std::string dir = Path("out" + std::to_string(i));
    ASSERT_EQ(
        FerryIn(names_["c"],
                Concat({"run", library, "--tracker", tracker, "--key", kKey, "--input",
                        "data=" + Path("in.npy"), "--output-dir", dir, "--repeat", "1",
                        "--timeout", "20"},
                       flags.client),
                &out),
        0)
        << out << "\ntracker log:\n"
        << ReadFile(tracker_log).value_or("");
    ASSERT_OK_AND_ASSIGN(NDArray output, LoadNpy(dir + "/output_0.npy"));
    ASSERT_EQ(output.shape(), expected.shape());
    EXPECT_EQ(std::memcmp(output.data(), expected.data(), output.NumBytes()), 0)
        << "max difference " << testing::MaxAbsDiff(output, expected);
  };
  // Which agent served sessions so far, checking each worker listened on its agent's own
  // (non-loopback) address.
  auto served = [&](int i) {
    const std::string log = ReadFile(agent_logs[i]).value_or("");
    if (log.find("event=session_open ") == std::string::npos) return false;
    EXPECT_NE(log.find("worker_endpoint=tcp://" + Address(2 + i) + ":"), std::string::npos) << log;
    return true;
  };
  run_client(0);
  if (HasFatalFailure()) return;
  ASSERT_NE(served(0), served(1)) << "exactly one agent should have served the first client";
  const int first = served(0) ? 0 : 1;
  const int second = 1 - first;
  StopChild(agent_pids[first]);  // it says goodbye to the tracker
  std::erase(children_, agent_pids[first]);
  ASSERT_TRUE(WaitFor(
      [&] {
        return FerryIn(names_["c"], Concat({"status", "--tracker", tracker, "--json", "--timeout", "2"}, flags.client),
                       &status, 5s) == 0 &&
               status.find("\"" + agents[first] + "\"") == std::string::npos &&
               status.find("\"" + agents[second] + "\"") != std::string::npos;
      },
      5s))
      << status;
  run_client(1);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(served(second)) << ReadFile(agent_logs[second]).value_or("");
  if (secure) {
    // Every session was CURVE, with the client's key.
    for (const std::string& log : agent_logs) {
      const std::string text = ReadFile(log).value_or("");
      if (text.find("event=session_open") == std::string::npos) continue;
      EXPECT_NE(text.find("security=\"curve"), std::string::npos) << text;
      EXPECT_NE(text.find("event=session_claimed"), std::string::npos) << text;
      EXPECT_EQ(text.find("key=none"), std::string::npos) << text;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Security, MultiHostTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Curve" : "Plaintext";
                         });

}  // namespace
}  // namespace ferry
