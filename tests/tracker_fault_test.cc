// Faults around a real ferry-tracker and its agents (tests/tracker_test_fixture.h): the
// tracker killed (SIGKILL) and restarted at the same endpoint while 50 clients wait in its
// queue. Every client must be served afterwards (its request is sent again on a new
// connection, rpc/retry.h) and no agent may ever hold two sessions at once (checked from the
// agents' own session_open / session_end log lines).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/tracker_test_fixture.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::Clock;
using testing::WaitFor;

// The most sessions `log` (an agent's event log) shows open at once, and how many it opened.
struct SessionOverlap {
  int most_at_once = 0;
  int opened = 0;
};

SessionOverlap SessionsInLog(const std::string& log) {
  SessionOverlap overlap;
  int open = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" event=session_open ") != std::string::npos) {
      ++overlap.opened;
      overlap.most_at_once = std::max(overlap.most_at_once, ++open);
    } else if (line.find(" event=session_end ") != std::string::npos) {
      --open;
    }
  }
  return overlap;
}

// The number of requests in `status`'s queue, or -1 when the tracker did not answer.
int QueueLength(const StatusOr<rpc::TrackerStatus>& status) {
  return status.ok() ? static_cast<int>(status->queue.size()) : -1;
}

TEST_F(TrackerTest, RestartWithFiftyQueuedClientsServesEveryOneWithoutDoubleSessions) {
  StartCluster(2);
  if (HasFatalFailure()) return;
  // Both agents busy, so that every client below waits in the queue.
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient holder_tracker, Tracker(10s));
  std::vector<rpc::RemoteSession> held;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession s, holder_tracker.Request("cpu", Within(10s)));
    held.push_back(std::move(s));
  }

  constexpr int kClients = 50;
  std::vector<Status> results(kClients, UnavailableError("not run"));
  std::atomic<int> served{0};
  std::vector<std::thread> clients;
  const std::string endpoint = tracker_;  // the threads' copy: the restart reassigns tracker_
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      results[i] = [&]() -> Status {
        ASSIGN_OR_RETURN(rpc::TrackerClient tracker, TrackerAt(endpoint, 20s));
        ASSIGN_OR_RETURN(rpc::RemoteSession remote, tracker.Request("cpu", Within(90s)));
        RETURN_IF_ERROR(Echo(remote).WithContext("echo"));
        RETURN_IF_ERROR(remote.Close().WithContext("close"));
        ++served;
        return Status::Ok();
      }();
    });
  }
  const bool queued = WaitFor([&] { return QueueLength(GetStatus()) == kClients; }, 20s);
  EXPECT_TRUE(queued) << "the clients did not all queue; queue length " << QueueLength(GetStatus());

  Kill(tracker_pid_);
  const auto killed = Clock::now();
  ASSERT_OK(RestartTrackerAt(endpoint, 10s));
  const int64_t restart_ms = MsSince(killed);
  // The clients come back on their own: their requests queue again at the new tracker.
  const bool requeued = WaitFor([&] { return QueueLength(GetStatus()) == kClients; }, 20s);
  const int64_t requeue_ms = MsSince(killed);
  EXPECT_TRUE(requeued) << "queue length after the restart " << QueueLength(GetStatus());
  EXPECT_EQ(served.load(), 0) << "a client was served while both agents were held";

  // The held sessions end; the restarted tracker learnt their leases from the heartbeats, so
  // it granted neither agent while they ran.
  for (rpc::RemoteSession& s : held) EXPECT_OK(s.Close());
  held.clear();
  for (auto& c : clients) c.join();
  const int64_t done_ms = MsSince(killed);
  int ok = 0;
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(results[i].ok()) << "client " << i << ": " << results[i].ToString();
    ok += results[i].ok();
  }
  EXPECT_EQ(ok, kClients);

  int sessions = 0;
  for (const AgentProcess& agent : agents_) {
    const SessionOverlap overlap = SessionsInLog(ReadFile(agent.log).value_or(""));
    EXPECT_EQ(overlap.most_at_once, 1) << agent.endpoint << " held sessions concurrently";
    sessions += overlap.opened;
  }
  EXPECT_EQ(sessions, kClients + 2) << "one session per client and per held session";
  std::cout << "[          ] tracker back " << restart_ms << " ms after SIGKILL; " << kClients
            << " clients queued again after " << requeue_ms << " ms; all " << ok << " served "
            << done_ms << " ms after the kill; " << sessions
            << " sessions, at most one per agent at a time\n";
}

}  // namespace
}  // namespace ferry
