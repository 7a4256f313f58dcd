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
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rpc/curve_keys.h"
#include "runtime/file_util.h"
#include "runtime/npy.h"
#include "tests/model_test_util.h"
#include "tests/netns_test_util.h"
#include "tests/process_test_util.h"

#if !defined(FERRY_TRACKER_PATH) || !defined(FERRY_AGENT_PATH) || !defined(FERRY_CLI_PATH)
#error "FERRY_TRACKER_PATH, FERRY_AGENT_PATH and FERRY_CLI_PATH must name the binaries"
#endif

namespace ferry {
namespace {

using testing::AwaitEndpointFile;
using testing::CreateNetnsOrSkip;
using testing::NetnsLink;
using testing::NetnsNetwork;
using testing::StopChild;
using testing::WaitExitCode;
using testing::WaitFor;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::TestLibraries;

constexpr const char* kSecret = "multihost-test-secret-0123456789abcdef";
constexpr const char* kKey = "multihost";

class MultiHostTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-multihost-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    // The switch (ns sw) and the four hosts t, a, b, c: addresses .1 to .4.
    CreateNetnsOrSkip({.prefix = "ferry-mh",
                       .subnet = "10.77",
                       .hosts = {"t", "a", "b", "c"},
                       .link = NetnsLink::kBridge,
                       .work_dir = dir_->path()},
                      &net_);
    if (net_ == nullptr) return;
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
    net_.reset();  // kills what still runs in the namespaces (session workers), deletes them
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }
  std::string Address(const std::string& host) const { return net_->Address(host); }

  // Starts `args` inside host `host` with stdout and stderr to `log`. Returns the pid.
  pid_t SpawnIn(const std::string& host, std::vector<std::string> args, const std::string& log) {
    const pid_t pid = net_->Spawn(host, std::move(args), log);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // Waits for `pid` to write `endpoint_file`; fails when it exits first or after 10 s.
  StatusOr<std::string> AwaitEndpoint(pid_t pid, const std::string& endpoint_file,
                                      const std::string& log) {
    StatusOr<std::string> endpoint = AwaitEndpointFile(pid, endpoint_file, log, 10s);
    if (endpoint.status().code() == StatusCode::kUnavailable) std::erase(children_, pid);
    return endpoint;
  }

  // Runs `ferry args...` inside host `host` and waits up to `timeout`. Returns the exit code
  // (-1 for a signal or a timeout, after which the process is killed).
  int FerryIn(const std::string& host, const std::vector<std::string>& args, std::string* out,
              std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> all = {FERRY_CLI_PATH};
    all.insert(all.end(), args.begin(), args.end());
    const std::string log = Path("ferry_" + std::to_string(calls_++) + ".out");
    const pid_t pid = SpawnIn(host, all, log);
    if (pid < 0) return -1;
    const int code = WaitExitCode(pid, timeout);
    std::erase(children_, pid);
    *out = ReadFile(log).value_or("");
    return code;
  }

  std::unique_ptr<compiler::TempDir> dir_;
  std::unique_ptr<NetnsNetwork> net_;
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
      "t",
      Concat({FERRY_TRACKER_PATH, "--listen", "tcp://" + Address("t") + ":*", "--secret-file",
              Path("secret"), "--endpoint-file", Path("tracker.endpoint"), "--heartbeat-ms", "200"},
             flags.tracker),
      tracker_log);
  ASSERT_GT(tracker_pid, 0);
  ASSERT_OK_AND_ASSIGN(std::string tracker,
                       AwaitEndpoint(tracker_pid, Path("tracker.endpoint"), tracker_log));
  ASSERT_EQ(tracker.rfind("tcp://" + Address("t") + ":", 0), 0u) << tracker;

  // An agent in each of ns a and ns b.
  std::vector<std::string> agents, agent_logs;
  std::vector<pid_t> agent_pids;
  for (const char* role : {"a", "b"}) {
    const std::vector<std::string>& security = flags.agent[agent_pids.size()];
    const std::string name = std::string("agent_") + role;
    agent_logs.push_back(Path(name + ".log"));
    const pid_t pid =
        SpawnIn(role,
                Concat({FERRY_AGENT_PATH, "--listen", "tcp://" + Address(role) + ":*", "--tracker",
                        tracker, "--key", kKey, "--secret-file", Path("secret"), "--heartbeat-ms",
                        "200", "--endpoint-file", Path(name + ".endpoint"), "--work-dir",
                        Path(name), "--session-timeout", "20"},
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
        if (FerryIn(
                "c",
                Concat({"status", "--tracker", tracker, "--json", "--timeout", "2"}, flags.client),
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
    ASSERT_EQ(FerryIn("c",
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
    EXPECT_NE(log.find("worker_endpoint=tcp://" + Address(i == 0 ? "a" : "b") + ":"),
              std::string::npos)
        << log;
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
        return FerryIn("c",
                       Concat({"status", "--tracker", tracker, "--json", "--timeout", "2"},
                              flags.client),
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
