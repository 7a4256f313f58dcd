// A real ferry-tracker (FERRY_TRACKER_PATH) and real ferry-agents (FERRY_AGENT_PATH) on
// ephemeral loopback ports, heartbeating every 200 ms: a model runs through the tracker and
// equals a local run; a killed agent leaves the summary within three heartbeats; a restarted
// tracker learns its agents again; forged, missing, expired and replayed tickets are refused;
// 50 queued requests over 3 agents are all served; priorities order the queue; a request for
// a key without agents expires; `ferry status` (FERRY_CLI_PATH) shows the agents; SIGTERM and
// SIGINT stop the tracker with exit 0.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstring>
#include <iostream>
#include <thread>

#include "compiler/compiler_config.h"
#include "tests/sanitizer_test_util.h"
#include "tests/tracker_test_fixture.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::Clock;
using testing::StopChild;
using testing::TestLibraries;
using testing::WaitFor;

TEST_F(TrackerTest, ModelRunsThroughTheTrackerBitForBit) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  StartCluster(2);
  if (HasFatalFailure()) return;
  const NDArray input = testing::RandomArray({1, 784}, 7);
  ASSERT_OK_AND_ASSIGN(NDArray expected, testing::RunLibraryModel(path, "mlp", input));

  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, Tracker(10s));
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, tracker.Request("cpu", Within(10s)));
  ASSERT_OK(remote.Upload(path, "mlp.so"));
  ASSERT_OK_AND_ASSIGN(Module lib, remote.LoadModule("mlp.so"));
  ASSERT_OK_AND_ASSIGN(ExecutorModule gmod, ExecutorModule::Create(lib, "mlp", remote.Cpu(0)));
  ASSERT_OK(gmod.SetInput("data", input));
  ASSERT_OK(gmod.Run());
  ASSERT_OK_AND_ASSIGN(NDArray output, gmod.GetOutput(0));
  ASSERT_OK_AND_ASSIGN(NDArray host, output.CopyTo(Device::Cpu()));
  ASSERT_EQ(host.shape(), expected.shape());
  EXPECT_EQ(std::memcmp(host.data(), expected.data(), host.NumBytes()), 0)
      << "max difference " << testing::MaxAbsDiff(host, expected);

  // The summary shows the lease: exactly one agent busy.
  ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, tracker.GetStatus());
  int busy = 0;
  for (const auto& a : status.agents) busy += a.busy;
  EXPECT_EQ(busy, 1);
}

TEST_F(TrackerTest, SigtermAndSigintStopTheTrackerCleanly) {
  // zmq::poll used to throw EINTR out of the serving loop: exit 1, "internal error".
  for (int sig : {SIGTERM, SIGINT, SIGTERM}) {
    const std::string log = Path("tracker" + std::to_string(started_) + ".log");
    ASSERT_OK(StartTracker());
    ASSERT_OK(GetStatus());  // serving, and a client connection came and went
    ASSERT_EQ(kill(tracker_pid_, sig), 0);
    int status = 0;
    ASSERT_TRUE(
        WaitFor([&] { return waitpid(tracker_pid_, &status, WNOHANG) == tracker_pid_; }, 5s))
        << "the tracker did not stop on signal " << sig;
    Forget(tracker_pid_);
    const std::string output = ReadFile(log).value_or("");
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << ":\n" << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_EQ(output.find("error"), std::string::npos) << output;
    EXPECT_NE(output.find("ferry-tracker: stopped"), std::string::npos) << output;
  }
}

// Found by the ASan suite, where the tracker happened to link OpenBLAS: a library that starts
// a thread before main leaves SIGTERM unblocked there, so the signal took its default action
// and killed the tracker ("killed by signal 15") instead of stopping it. OpenBLAS preloaded
// into the tracker starts such a thread.
TEST_F(TrackerTest, SigtermStopsTheTrackerCleanlyBesideALibrarysEarlyThreads) {
  if (testing::kUnderSanitizer) {
    GTEST_SKIP() << "a sanitizer's runtime must be the first library: nothing can be preloaded";
  }
  const std::string blas =
      std::string(FERRY_BLAS_LIBRARIES).substr(0, std::string(FERRY_BLAS_LIBRARIES).find('|'));
  if (blas.empty() || blas.find(".so") == std::string::npos) {
    GTEST_SKIP() << "no shared BLAS library to preload (" << FERRY_BLAS_LIBRARIES << ")";
  }
  ASSERT_EQ(setenv("LD_PRELOAD", blas.c_str(), 1), 0);
  const Status started = StartTracker().status();
  unsetenv("LD_PRELOAD");
  ASSERT_OK(started);
  const std::string log = Path("tracker" + std::to_string(started_ - 1) + ".log");
  ASSERT_OK(GetStatus());
  ASSERT_EQ(kill(tracker_pid_, SIGTERM), 0);
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(tracker_pid_, &status, WNOHANG) == tracker_pid_; }, 5s));
  Forget(tracker_pid_);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << ":\n"
                                 << ReadFile(log).value_or("");
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(ReadFile(log).value_or("").find("ferry-tracker: stopped"), std::string::npos);
}

TEST_F(TrackerTest, KilledAgentIsGoneWithinThreeHeartbeats) {
  StartCluster(2);
  if (HasFatalFailure()) return;
  Kill(agents_[0].pid);
  const auto killed = Clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto agents = Agents();
        return agents.size() == 1 && agents.count(agents_[1].endpoint) == 1;
      },
      5s))
      << "the killed agent was not dropped";
  const int64_t elapsed = MsSince(killed);
  // Three missed beats (600 ms) after the last beat, plus the tracker's tick and slack.
  EXPECT_LT(elapsed, 1500) << "noticed after " << elapsed << " ms";
  std::cout << "[          ] the killed agent was dropped after " << elapsed << " ms\n";

  // The survivor still serves.
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, Tracker(10s));
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, tracker.Request("cpu", Within(5s)));
  EXPECT_OK(Echo(remote));
}

TEST_F(TrackerTest, RestartedTrackerLearnsItsAgentsAgain) {
  StartCluster(2);
  if (HasFatalFailure()) return;
  std::map<std::string, std::string> ids;  // address -> agent id
  for (const auto& [address, a] : Agents()) ids[address] = a.agent_id;
  ASSERT_EQ(ids.size(), 2u);

  const std::string endpoint = tracker_;
  Kill(tracker_pid_);
  // The same endpoint again; the port may take a moment to be free.
  ASSERT_OK(RestartTrackerAt(endpoint, 5s));
  ASSERT_EQ(tracker_, endpoint);
  const auto restarted = Clock::now();
  ASSERT_TRUE(WaitForAgents({agents_[0].endpoint, agents_[1].endpoint}, 5s))
      << "the agents did not re-register within 5 s";
  const int64_t back = MsSince(restarted);
  EXPECT_LT(back, 5000);
  std::cout << "[          ] both agents back " << back << " ms after the restart\n";
  // The same agent processes, not restarted ones.
  for (const auto& [address, a] : Agents()) EXPECT_EQ(a.agent_id, ids[address]) << address;
  for (const AgentProcess& agent : agents_) EXPECT_EQ(waitpid(agent.pid, nullptr, WNOHANG), 0);

  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, Tracker(10s));
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, tracker.Request("cpu", Within(5s)));
  EXPECT_OK(Echo(remote));
}

TEST_F(TrackerTest, ForgedMissingAndExpiredTicketsAreRefused) {
  StartCluster(2);
  if (HasFatalFailure()) return;
  const auto agents = Agents();
  const std::string target = agents_[0].endpoint;
  const std::string target_id = agents.at(target).agent_id;
  const std::string other_id = agents.at(agents_[1].endpoint).agent_id;
  const int64_t now = rpc::WallClockMs();

  auto connect = [&](const std::string& ticket) {
    rpc::ConnectOptions options;
    options.timeout = 5s;
    options.ticket = ticket;
    return rpc::Connect(target, options).status();
  };
  struct Case {
    const char* what;
    std::string ticket;
  };
  const std::vector<Case> cases = {
      {"no ticket", ""},
      {"wrong secret",
       rpc::SignTicket({target_id, "client", 424242, now + 60000}, "not-the-shared-secret-at-all")
           .value()},
      {"expired", rpc::SignTicket({target_id, "client", 424243, now - 1000}, kSecret).value()},
      {"another agent's",
       rpc::SignTicket({other_id, "client", 424244, now + 60000}, kSecret).value()},
      {"garbage", "not|a|ticket"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Status status = connect(c.ticket);
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << status.ToString();
  }
  // A well-signed, fresh ticket for this agent is accepted (the refusals were the ticket's).
  rpc::ConnectOptions options;
  options.timeout = 5s;
  options.ticket = rpc::SignTicket({target_id, "client", 424245, now + 60000}, kSecret).value();
  StatusOr<rpc::RemoteSession> ok = rpc::Connect(target, options);
  ASSERT_OK(ok);
  EXPECT_OK(Echo(*ok));
}

// Sends a kRequestDevice over a raw channel and returns the grant's
// [address, ticket, lease, agent_id].
struct RawGrant {
  std::string address, ticket, agent_id;
  uint64_t lease = 0;
};
StatusOr<RawGrant> RequestRaw(const std::string& tracker, const std::string& key) {
  auto context = std::make_shared<zmq::context_t>(1);
  ASSIGN_OR_RETURN(std::unique_ptr<rpc::ZmqChannel> channel,
                   rpc::ZmqChannel::Connect(context, tracker));
  const rpc::Deadline deadline = Clock::now() + 10s;
  rpc::MessageWriter w =
      rpc::MessageWriter::Request(rpc::MessageType::kRequestDevice, 77, 10000, 4);
  w.packer().pack(key);
  w.packer().pack_array(0);
  w.packer().pack(0);
  w.packer().pack(uint64_t{5000});
  RETURN_IF_ERROR(channel->Send(std::move(w).Finish(), deadline));
  ASSIGN_OR_RETURN(std::optional<rpc::Frames> frames, channel->Receive(deadline));
  if (!frames) return DeadlineExceededError("no grant");
  ASSIGN_OR_RETURN(rpc::ParsedMessage reply,
                   rpc::ParseMessage(std::move(*frames), rpc::ProtocolLimits{}));
  RETURN_IF_ERROR(reply.status);
  if (reply.request_id != 77) return InternalError("a reply to another request");
  RETURN_IF_ERROR(rpc::CheckBodySize(reply, 4));
  RawGrant grant;
  ASSIGN_OR_RETURN(grant.address, rpc::ReadString(reply.item(0), "address"));
  ASSIGN_OR_RETURN(grant.ticket, rpc::ReadString(reply.item(1), "ticket"));
  ASSIGN_OR_RETURN(grant.lease, rpc::ReadUint(reply.item(2), "lease"));
  ASSIGN_OR_RETURN(grant.agent_id, rpc::ReadString(reply.item(3), "agent id"));
  return grant;
}

TEST_F(TrackerTest, ReplayedTicketIsRefused) {
  StartCluster(1);
  if (HasFatalFailure()) return;
  ASSERT_OK_AND_ASSIGN(RawGrant grant, RequestRaw(tracker_, "cpu"));
  EXPECT_EQ(grant.address, agents_[0].endpoint);
  ASSERT_OK_AND_ASSIGN(rpc::Ticket ticket,
                       rpc::VerifyTicket(grant.ticket, kSecret, rpc::WallClockMs()));
  EXPECT_EQ(ticket.agent_id, grant.agent_id);
  EXPECT_EQ(ticket.lease_id, grant.lease);

  rpc::ConnectOptions options;
  options.timeout = 5s;
  options.ticket = grant.ticket;
  {
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession first, rpc::Connect(grant.address, options));
    EXPECT_OK(Echo(first));
    // Replayed while the first session is open.
    const Status replay = rpc::Connect(grant.address, options).status();
    EXPECT_EQ(replay.code(), StatusCode::kPermissionDenied) << replay.ToString();
    EXPECT_NE(replay.message().find("already used"), std::string::npos) << replay.ToString();
    ASSERT_OK(first.Close());
  }
  // And after it ended.
  const Status replay = rpc::Connect(grant.address, options).status();
  EXPECT_EQ(replay.code(), StatusCode::kPermissionDenied) << replay.ToString();
  EXPECT_NE(replay.message().find("already used"), std::string::npos) << replay.ToString();
}

TEST_F(TrackerTest, FiftyQueuedRequestsOverThreeAgentsAreAllServed) {
  StartCluster(3);
  if (HasFatalFailure()) return;
  constexpr int kRequests = 50;
  std::vector<Status> results(kRequests, UnavailableError("not run"));
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      results[i] = [&]() -> Status {
        ASSIGN_OR_RETURN(rpc::TrackerClient tracker, Tracker(10s));
        ASSIGN_OR_RETURN(rpc::RemoteSession remote, tracker.Request("cpu", Within(40s)));
        RETURN_IF_ERROR(Echo(remote).WithContext("echo"));
        return remote.Close().WithContext("close");
      }();
    });
  }
  for (auto& c : clients) c.join();
  const int64_t elapsed = MsSince(start);
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_TRUE(results[i].ok()) << "request " << i << ": " << results[i].ToString();
    ok += results[i].ok();
  }
  EXPECT_EQ(ok, kRequests);
  EXPECT_LT(elapsed, 30000);
  // Every agent served some; together exactly one session per request.
  int sessions = 0;
  for (const AgentProcess& agent : agents_) {
    const std::string log = ReadFile(agent.log).value_or("");
    int opened = 0;
    for (size_t at = 0; (at = log.find("event=session_open ", at)) != std::string::npos; ++at)
      ++opened;
    EXPECT_GT(opened, 0) << agent.endpoint;
    sessions += opened;
  }
  EXPECT_EQ(sessions, kRequests);
  // Every lease was released: all agents free, nothing queued.
  EXPECT_TRUE(WaitFor(
      [&] {
        StatusOr<rpc::TrackerStatus> status = GetStatus();
        if (!status.ok() || status->agents.size() != 3 || !status->queue.empty()) return false;
        for (const auto& a : status->agents) {
          if (a.busy) return false;
        }
        return true;
      },
      3s));
  std::cout << "[          ] 50 requests over 3 agents served in " << elapsed << " ms\n";
}

TEST_F(TrackerTest, HigherPriorityIsGrantedFirst) {
  StartCluster(1);
  if (HasFatalFailure()) return;
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient holder, Tracker(10s));
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession held, holder.Request("cpu", Within(5s)));

  std::atomic<int> grants{0};
  int low_order = 0, high_order = 0;
  Status low_status, high_status;
  auto request = [&](int priority, int* order, Status* result) {
    *result = [&]() -> Status {
      ASSIGN_OR_RETURN(rpc::TrackerClient tracker, Tracker(10s));
      ASSIGN_OR_RETURN(rpc::RemoteSession remote, tracker.Request("cpu", Within(20s, priority)));
      *order = ++grants;
      RETURN_IF_ERROR(Echo(remote));
      std::this_thread::sleep_for(300ms);  // holds the agent a while
      return remote.Close();
    }();
  };
  auto queued = [&](size_t n) {
    return WaitFor(
        [&] {
          StatusOr<rpc::TrackerStatus> status = GetStatus();
          return status.ok() && status->queue.size() == n;
        },
        5s);
  };
  std::thread low(request, 0, &low_order, &low_status);
  const bool low_queued = queued(1);
  std::thread high(request, 5, &high_order, &high_status);
  const bool high_queued = queued(2);
  StatusOr<rpc::TrackerStatus> status = GetStatus();
  EXPECT_OK(held.Close());
  low.join();
  high.join();
  ASSERT_TRUE(low_queued && high_queued);
  ASSERT_OK(status);
  ASSERT_EQ(status->queue.size(), 2u);
  EXPECT_EQ(status->queue[0].priority, 5);  // serving order
  EXPECT_EQ(status->queue[1].priority, 0);
  EXPECT_OK(low_status);
  EXPECT_OK(high_status);
  EXPECT_EQ(high_order, 1);
  EXPECT_EQ(low_order, 2);
}

TEST_F(TrackerTest, RequestForKeyWithoutAgentsTimesOut) {
  StartCluster(1);
  if (HasFatalFailure()) return;
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, Tracker(10s));
  const auto start = Clock::now();
  StatusOr<rpc::RemoteSession> remote = tracker.Request("no-such-key", Within(500ms));
  const int64_t elapsed = MsSince(start);
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), StatusCode::kDeadlineExceeded) << remote.status().ToString();
  EXPECT_NE(remote.status().message().find("no-such-key"), std::string::npos)
      << remote.status().ToString();
  EXPECT_GE(elapsed, 450);
  EXPECT_LT(elapsed, 1500);
  // Nothing stays queued, and the client still works.
  ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, tracker.GetStatus());
  EXPECT_TRUE(status.queue.empty());
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession ok, tracker.Request("cpu", Within(5s)));
  EXPECT_OK(Echo(ok));
}

// A caller that stops waiting (Ctrl-C in Python) gets its answer at once, and its request
// does not stay queued at the tracker.
TEST_F(TrackerTest, RequestStopsWhenTheCallerStopsWaiting) {
  StartCluster(1);
  if (HasFatalFailure()) return;
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, Tracker(10s));
  const auto start = Clock::now();
  int asked = 0;
  tracker.set_keep_waiting([&] {
    ++asked;
    return Clock::now() - start < 300ms;
  });
  StatusOr<rpc::RemoteSession> remote = tracker.Request("no-such-key", Within(30s));
  const int64_t elapsed = MsSince(start);
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), StatusCode::kDeadlineExceeded) << remote.status().ToString();
  EXPECT_NE(remote.status().message().find("interrupted"), std::string::npos)
      << remote.status().ToString();
  EXPECT_GE(asked, 2);
  EXPECT_GE(elapsed, 250);
  EXPECT_LT(elapsed, 1500);
  tracker.set_keep_waiting(nullptr);
  ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, tracker.GetStatus());
  EXPECT_TRUE(status.queue.empty());
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession ok, tracker.Request("cpu", Within(5s)));
  EXPECT_OK(Echo(ok));
}

TEST_F(TrackerTest, FerryStatusShowsTheAgents) {
  StartCluster(2);
  if (HasFatalFailure()) return;
  std::string out;
  ASSERT_EQ(Ferry({"status", "--tracker", tracker_}, &out), 0) << out;
  EXPECT_NE(out.find("key cpu: 2 agent(s)"), std::string::npos) << out;
  for (const AgentProcess& agent : agents_)
    EXPECT_NE(out.find(agent.endpoint), std::string::npos) << out;

  ASSERT_EQ(Ferry({"status", "--tracker", tracker_, "--json"}, &out), 0) << out;
  EXPECT_NE(out.find("\"agents\""), std::string::npos) << out;
  for (const AgentProcess& agent : agents_) {
    EXPECT_NE(out.find("\"" + agent.endpoint + "\""), std::string::npos) << out;
  }
}

TEST_F(TrackerTest, FerryRunThroughTheTracker) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  StartCluster(1);
  if (HasFatalFailure()) return;
  const NDArray input = testing::RandomArray({1, 784}, 9);
  ASSERT_OK(SaveNpy(Path("in.npy"), input));
  ASSERT_OK_AND_ASSIGN(NDArray expected, testing::RunLibraryModel(path, "mlp", input));
  std::string out;
  ASSERT_EQ(Ferry({"run", path, "--tracker", tracker_, "--key", "cpu", "--input",
                   "data=" + Path("in.npy"), "--output-dir", Path("out"), "--repeat", "1",
                   "--timeout", "10"},
                  &out),
            0)
      << out;
  ASSERT_OK_AND_ASSIGN(NDArray output, LoadNpy(Path("out/output_0.npy")));
  ASSERT_EQ(output.shape(), expected.shape());
  EXPECT_EQ(std::memcmp(output.data(), expected.data(), output.NumBytes()), 0)
      << "max difference " << testing::MaxAbsDiff(output, expected);
}

}  // namespace
}  // namespace ferry
