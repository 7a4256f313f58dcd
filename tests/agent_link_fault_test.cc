// Faults on the link between a client and its agent, over the secured path (CURVE on every
// connection, copies and uploads on the worker's sealed bulk path). Two network namespaces
// joined by a veth pair: the tracker and the agent in one, the client in the other; the test
// shapes the client's side of the link with `tc ... tbf` and cuts it with `ip link set down`.
//
//   ns a: eth0 10.79.N.1 (ferry-tracker, ferry-agent)  ──veth──  ns c: eth0 10.79.N.2 (client)
//
//   - the link cut in the middle of a copy: the client gets an error within its deadline, the
//     agent ends the session, the tracker frees the lease; once the link is back a new
//     session works;
//   - a slow link (tbf, 1 Mbit/s) under a 20 MiB upload: the upload completes, though it takes
//     far longer than the call timeout (which bounds each chunk's progress), reporting its
//     progress on the way.
// Needs root (namespaces, tc) and iproute2's `ip` and `tc`; skipped with the reason otherwise.
// Each prints what it observed.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compiler/subprocess.h"
#include "rpc/curve_keys.h"
#include "rpc/tracker_client.h"
#include "tests/model_test_util.h"
#include "tests/netns_test_util.h"
#include "tests/process_test_util.h"

#if !defined(FERRY_TRACKER_PATH) || !defined(FERRY_AGENT_PATH)
#error "FERRY_TRACKER_PATH and FERRY_AGENT_PATH must name the binaries"
#endif

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::Clock;
using testing::AwaitEndpointFile;
using testing::CreateNetnsOrSkip;
using testing::FindProgram;
using testing::NetnsLink;
using testing::NetnsNetwork;
using testing::StopChild;
using testing::WaitFor;

constexpr const char* kKey = "linkfault";

rpc::DeviceRequest Within(std::chrono::milliseconds timeout) {
  rpc::DeviceRequest request;
  request.timeout = timeout;
  return request;
}

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

class AgentLinkFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-link-fault-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    tc_ = FindProgram("tc", "/usr/sbin:/sbin");
    if (tc_.empty()) GTEST_SKIP() << "iproute2's `tc` is not installed";
    CreateNetnsOrSkip({.prefix = "ferry-lf",
                       .subnet = "10.79",
                       .hosts = {"a", "c"},
                       .link = NetnsLink::kVethPair,
                       .work_dir = dir_->path()},
                      &net_);
    if (net_ == nullptr) return;
    WriteKeys();
    if (HasFatalFailure()) return;
    StartTrackerAndAgent();
  }

  void TearDown() override {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) StopChild(*it);
    children_.clear();
    if (HasFailure() && dir_ != nullptr) {
      for (const char* log : {"tracker.log", "agent.log"}) {
        std::cout << "---- " << log << "\n" << ReadFile(Path(log)).value_or("") << "\n";
      }
    }
    net_.reset();
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  // CURVE keys: the tracker's, the agent's (admitted by the tracker as an agent) and the
  // client's (admitted by both).
  void WriteKeys() {
    for (const char* name : {"tracker", "agent", "client"}) {
      ASSERT_OK_AND_ASSIGN(keys_[name], rpc::GenerateCurveKeyPair());
      ASSERT_OK(rpc::WriteCurveKeyPair(Path(name), keys_[name], /*overwrite=*/true));
    }
    ASSERT_OK(WriteFileAtomically(Path("agent_keys"), keys_["agent"].public_key + " agent\n"));
    ASSERT_OK(WriteFileAtomically(Path("client_keys"), keys_["client"].public_key + " client\n"));
    ASSERT_OK(WriteFileAtomically(Path("secret"), "link-fault-test-secret-0123456789abcdef\n"));
  }

  void StartTrackerAndAgent() {
    const std::string listen = "tcp://" + net_->Address("a") + ":*";
    const pid_t tracker = Spawn(
        {FERRY_TRACKER_PATH, "--listen", listen, "--secret-file", Path("secret"), "--endpoint-file",
         Path("tracker.endpoint"), "--heartbeat-ms", "200", "--identity", Path("tracker"),
         "--agent-keys", Path("agent_keys"), "--client-keys", Path("client_keys")},
        Path("tracker.log"));
    ASSERT_OK_AND_ASSIGN(
        tracker_, AwaitEndpointFile(tracker, Path("tracker.endpoint"), Path("tracker.log"), 10s));
    const pid_t agent = Spawn({FERRY_AGENT_PATH,
                               "--listen",
                               listen,
                               "--tracker",
                               tracker_,
                               "--key",
                               kKey,
                               "--secret-file",
                               Path("secret"),
                               "--heartbeat-ms",
                               "200",
                               "--endpoint-file",
                               Path("agent.endpoint"),
                               "--work-dir",
                               Path("agent_work"),
                               "--session-timeout",
                               "60",
                               "--identity",
                               Path("agent"),
                               "--authorized-keys",
                               Path("client_keys"),
                               "--tracker-key",
                               Path("tracker.pub")},
                              Path("agent.log"));
    ASSERT_OK(AwaitEndpointFile(agent, Path("agent.endpoint"), Path("agent.log"), 10s));
    ASSERT_TRUE(WaitFor([&] { return AgentBusy() == 0; }, 10s)) << "the agent did not register";
  }

  pid_t Spawn(std::vector<std::string> args, const std::string& log) {
    const pid_t pid = net_->Spawn("a", std::move(args), log);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // The client's options: CURVE with the client's key, trusting the tracker's.
  rpc::ConnectOptions ClientOptions(std::chrono::milliseconds timeout) {
    rpc::ConnectOptions options;
    options.timeout = timeout;
    options.channel.curve_identity = keys_["client"];
    options.channel.curve_server_key = keys_["tracker"].public_key;
    return options;
  }

  // Asked from inside ns a: 1 when the agent is busy (holds a lease), 0 when free, -1 when
  // the tracker does not list it or does not answer.
  int AgentBusy() {
    const int code = net_->RunIn(
        "a",
        [&]() -> int {
          StatusOr<rpc::TrackerClient> tracker = rpc::ConnectTracker(tracker_, ClientOptions(2s));
          if (!tracker.ok()) return 2;
          StatusOr<rpc::TrackerStatus> status = tracker->GetStatus();
          if (!status.ok() || status->agents.size() != 1) return 2;
          return status->agents[0].busy ? 1 : 0;
        },
        10s);
    return code == 0 || code == 1 ? code : -1;
  }

  // Runs `tc args...` for ns c's eth0 (`tc -n NS ...`); fails the test on an error.
  void Tc(std::vector<std::string> args) {
    args.insert(args.begin(), {tc_, "-n", net_->Name("c")});
    StatusOr<compiler::ProcessResult> run = compiler::RunProcess(args, Path("tc.log"), 10s);
    ASSERT_OK(run);
    ASSERT_EQ(run->exit_code, 0) << run->output;
  }

  // Limits ns c's egress to `rate` with a token bucket (tbf; this kernel has no netem).
  void ShapeClientLink(const std::string& rate, const std::string& latency) {
    Tc({"qdisc", "add", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "32kbit", "latency",
        latency});
  }

  void SetClientLink(bool up) {
    std::string out;
    ASSERT_EQ(net_->Ip({"-n", net_->Name("c"), "link", "set", "eth0", up ? "up" : "down"}, &out), 0)
        << out;
  }

  // In a client process: a session granted by the tracker, whose calls have `call_timeout`,
  // waiting up to `wait` for the agent. Errors are printed to stderr (the test's output).
  StatusOr<rpc::RemoteSession> RequestSession(std::chrono::milliseconds call_timeout,
                                              std::chrono::milliseconds wait) {
    StatusOr<rpc::RemoteSession> session = [&]() -> StatusOr<rpc::RemoteSession> {
      ASSIGN_OR_RETURN(rpc::TrackerClient tracker,
                       rpc::ConnectTracker(tracker_, ClientOptions(call_timeout)));
      return tracker.Request(kKey, Within(wait));
    }();
    if (!session.ok()) std::fprintf(stderr, "client: %s\n", session.status().ToString().c_str());
    return session;
  }

  // From ns c: a session through the tracker that answers ferry.echo. 0 when it works.
  int EchoFromClient() {
    return net_->RunIn(
        "c",
        [&]() -> int {
          StatusOr<rpc::RemoteSession> session = RequestSession(10s, 10s);
          if (!session.ok()) return 3;
          StatusOr<PackedFunc> echo = session->GetFunction("ferry.echo");
          if (!echo.ok() || !echo->Call(std::string("ping")).ok()) return 4;
          return session->Close().ok() ? 0 : 5;
        },
        30s);
  }

  std::string AgentLogLine(const std::string& event) {
    std::istringstream lines(ReadFile(Path("agent.log")).value_or(""));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(" event=" + event + " ") != std::string::npos) return line;
    }
    return "";
  }

  std::unique_ptr<compiler::TempDir> dir_;
  std::unique_ptr<NetnsNetwork> net_;
  std::string tc_;
  std::map<std::string, rpc::CurveKeyPair> keys_;
  std::string tracker_;
  std::vector<pid_t> children_;
};

TEST_F(AgentLinkFaultTest, CutMidCopyFailsInTimeFreesSessionAndLeaseAndHealsAfterwards) {
  constexpr auto kTimeout = 5s;
  constexpr int64_t kArrayBytes = int64_t{32} << 20;
  // 4 Mbit/s, so the 32 MiB copy is still crossing when the link goes down.
  ShapeClientLink("4mbit", "400ms");
  const std::string started_file = Path("copy.started");
  const std::string result_file = Path("copy.result");
  // In ns c, on a thread of the test: the session and the copy, which must fail.
  int client_code = -1;
  std::thread client([&] {
    client_code = net_->RunIn(
        "c",
        [&]() -> int {
          StatusOr<rpc::RemoteSession> session = RequestSession(kTimeout, 10s);
          if (!session.ok()) return 3;
          StatusOr<NDArray> remote =
              session->Empty({kArrayBytes / 4}, DataType::Float32(), session->Cpu());
          if (!remote.ok()) return 4;
          NDArray host = testing::RandomArray({kArrayBytes / 4}, 5);
          (void)WriteFileAtomically(started_file, std::to_string(SteadyNs()));
          const Status copied = remote->CopyFrom(host);
          const std::string result = std::to_string(SteadyNs()) + " " + copied.ToString();
          (void)WriteFileAtomically(result_file, result);
          return copied.ok() ? 1 : 0;
        },
        60s);
  });
  const bool copying = WaitFor([&] { return std::filesystem::exists(started_file); }, 30s);
  if (copying) std::this_thread::sleep_for(1s);
  SetClientLink(false);
  const int64_t cut_ns = SteadyNs();
  client.join();
  ASSERT_TRUE(copying) << "the client never started its copy";
  ASSERT_EQ(client_code, 0) << "1: the copy finished; 2-4: set-up failed";

  ASSERT_OK_AND_ASSIGN(std::string result, ReadFile(result_file));
  const int64_t failed_ns = std::stoll(result.substr(0, result.find(' ')));
  const std::string error = result.substr(result.find(' ') + 1);
  const int64_t detect_ms = (failed_ns - cut_ns) / 1000000;
  EXPECT_LE(detect_ms, std::chrono::milliseconds(kTimeout).count() + 2000)
      << "the client's error came later than its deadline: " << error;

  // The agent ends the session (its worker's heartbeats to the client time out).
  std::string ended;
  EXPECT_TRUE(WaitFor([&] { return !(ended = AgentLogLine("session_end")).empty(); }, 30s))
      << "the agent kept the session of the cut client";
  const int64_t session_freed_ms = (SteadyNs() - cut_ns) / 1000000;
  // The tracker frees the lease once the agent's heartbeats stop listing it.
  EXPECT_TRUE(WaitFor([&] { return AgentBusy() == 0; }, 20s)) << "the lease was not freed";
  const int64_t lease_freed_ms = (SteadyNs() - cut_ns) / 1000000;

  // The link heals: a new session works.
  SetClientLink(true);
  Tc({"qdisc", "del", "dev", "eth0", "root"});
  int echo = -1;
  EXPECT_TRUE(WaitFor([&] { return (echo = EchoFromClient()) == 0; }, 30s))
      << "no session after the link came back (last exit code " << echo << ")";
  std::cout << "[          ] link cut 1 s into a 32 MiB copy at 4 Mbit/s: the client's error "
            << detect_ms << " ms later (" << error << "); agent ended the session after "
            << session_freed_ms << " ms (" << ended.substr(ended.find("event="))
            << "); lease free after " << lease_freed_ms
            << " ms; a new session works once the link is back\n";
}

TEST_F(AgentLinkFaultTest, SlowLinkUploadCompletesPastTheCallTimeoutWithProgress) {
  constexpr auto kTimeout = 60s;
  constexpr size_t kBytes = size_t{20} << 20;
  ShapeClientLink("1mbit", "500ms");
  const std::string progress_file = Path("upload.progress");
  const auto start = Clock::now();
  const int code = net_->RunIn(
      "c",
      [&]() -> int {
        StatusOr<rpc::RemoteSession> session = RequestSession(kTimeout, 30s);
        if (!session.ok()) return 3;
        const auto begun = Clock::now();
        std::string progress;
        session->set_upload_progress([&](uint64_t done, uint64_t total) {
          progress += std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         Clock::now() - begun)
                                         .count()) +
                      " " + std::to_string(done) + " " + std::to_string(total) + "\n";
        });
        const std::string data(kBytes, 'u');
        const Status uploaded = session->UploadBytes(data, "slow.bin");
        (void)WriteFileAtomically(progress_file, progress + uploaded.ToString() + "\n");
        if (!uploaded.ok()) return 4;
        StatusOr<std::vector<rpc::FileEntry>> files = session->ListFiles();
        return files.ok() && files->size() == 1 && (*files)[0].size == kBytes ? 0 : 5;
      },
      280s);
  const int64_t total_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  const std::string progress = ReadFile(progress_file).value_or("");
  ASSERT_EQ(code, 0) << "exit code " << code << "; progress and result:\n" << progress;
  std::istringstream lines(progress);
  int reports = 0;
  uint64_t last_done = 0;
  int64_t next_shown_ms = 0;
  std::string shown;  // about one report per 20 s
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    int64_t ms = 0;
    uint64_t done = 0;
    if (!(fields >> ms >> done)) continue;
    EXPECT_GT(done, last_done);
    last_done = done;
    ++reports;
    if (ms >= next_shown_ms || done == kBytes) {
      shown += "[          ]   " + std::to_string(ms / 1000) + " s: " + std::to_string(done >> 10) +
               " KiB\n";
      next_shown_ms = ms + 20000;
    }
  }
  EXPECT_EQ(last_done, kBytes);
  EXPECT_GE(reports, 5);
  EXPECT_GT(total_ms, std::chrono::milliseconds(kTimeout).count())
      << "the upload was not slower than one call timeout: is the link shaped?";
  std::cout << "[          ] 20 MiB at 1 Mbit/s (tbf) with a " << kTimeout.count()
            << " s call timeout: done in " << total_ms << " ms, " << reports
            << " progress reports (one per chunk), among them:\n"
            << shown;
}

}  // namespace
}  // namespace ferry
