// The tracker's scheduler (tracker/scheduler.h) driven by a fake clock: the ways a lease ends
// (release, session end, connect grace, expiry, client loss), agents dying while leased or idle
// and coming back, a restarted tracker, and load runs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "tests/scheduler_test_util.h"
#include "tracker/scheduler.h"

namespace ferry::tracker {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::FindAgent;
using testing::GrantedAgents;
using testing::GrantedRequests;
using testing::MakeAgent;
using testing::SchedulerTest;

// ---------------------------------------------------------------------------------------------
// How leases end

TEST_F(SchedulerTest, ReleaseLeaseGrantsNextRequestAtOnce) {
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(MakeAgent("a1"), "c1", &grant));
  const uint64_t lease = grant.lease_id;
  uint64_t r2 = Submit("c2");
  EXPECT_EQ(scheduler_.num_queued(), 1u);

  Advance(seconds(2));
  SchedulerEvents events;
  EXPECT_TRUE(Release(lease, &events).ok());
  ASSERT_EQ(events.grants.size(), 1u);
  EXPECT_EQ(events.grants[0].request_id, r2);
  EXPECT_EQ(events.grants[0].agent.agent_id, "a1");
  EXPECT_EQ(events.grants[0].client_id, "c2");
  EXPECT_NE(events.grants[0].lease_id, lease);
  EXPECT_EQ(events.grants[0].lease_expires, now_ + options_.lease_duration);

  events = {};
  EXPECT_FALSE(Release(lease, &events).ok());  // no longer active
  EXPECT_FALSE(Release(424242, &events).ok());
  EXPECT_TRUE(events.grants.empty());
}

TEST_F(SchedulerTest, ReleaseFromAnotherClientOrConnectionIsRefusedAndChangesNothing) {
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(MakeAgent("a1"), "c1", &grant));
  const uint64_t r2 = Submit("c2");
  SchedulerEvents events;
  // Another client on its own connection, another connection of the same client, and another
  // client on the lease's connection.
  const std::pair<std::string, std::string> strangers[] = {
      {"c2", ConnectionOf("c2")}, {"c1", ConnectionOf("c2")}, {"c2", ConnectionOf("c1")}};
  for (const auto& [client, connection] : strangers) {
    const Status status =
        scheduler_.ReleaseLease(grant.lease_id, client, connection, now_, &events);
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << client << " " << connection;
  }
  EXPECT_TRUE(events.grants.empty());  // c2 is not granted the busy agent
  EXPECT_EQ(scheduler_.num_queued(), 1u);
  const SchedulerSummary summary = scheduler_.Summary();
  const AgentSummary* a1 = FindAgent(summary, "a1");
  ASSERT_NE(a1, nullptr);
  EXPECT_TRUE(a1->busy);
  EXPECT_EQ(a1->client_id, "c1");
  EXPECT_EQ(a1->lease_id, grant.lease_id);

  EXPECT_EQ(scheduler_.ReleaseLease(424242, "c1", ConnectionOf("c1"), now_, &events).code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(
      scheduler_.ReleaseLease(grant.lease_id, "c1", ConnectionOf("c1"), now_, &events).ok());
  EXPECT_EQ(GrantedRequests(events), std::vector<uint64_t>{r2});
}

TEST_F(SchedulerTest, LeaseLearntAfterRestartCannotBeReleasedByAClient) {
  Beat(MakeAgent("a1"), {777});
  const SchedulerSummary summary = scheduler_.Summary();
  const AgentSummary* a1 = FindAgent(summary, "a1");
  ASSERT_NE(a1, nullptr);
  ASSERT_TRUE(a1->busy);
  SchedulerEvents events;
  EXPECT_EQ(scheduler_.ReleaseLease(777, a1->client_id, "", now_, &events).code(),
            StatusCode::kPermissionDenied);
  scheduler_.ReleaseConnection("", now_, &events);
  const SchedulerSummary after = scheduler_.Summary();
  ASSERT_NE(FindAgent(after, "a1"), nullptr);
  EXPECT_TRUE(FindAgent(after, "a1")->busy);
}

TEST_F(SchedulerTest, ReleasedAgentIsFreeInSummary) {
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(MakeAgent("a1"), "c1", &grant));
  Advance(seconds(1));
  SchedulerEvents events;
  EXPECT_TRUE(Release(grant.lease_id, &events).ok());
  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.agents.size(), 1u);
  EXPECT_FALSE(summary.agents[0].busy);
  EXPECT_TRUE(summary.agents[0].client_id.empty());
  EXPECT_EQ(summary.agents[0].lease_id, 0u);
  EXPECT_EQ(summary.agents[0].since, now_);
}

TEST_F(SchedulerTest, LeaseEndsWhenAgentStopsReportingIt) {
  AgentInfo a1 = MakeAgent("a1");
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(a1, "c1", &grant));
  const uint64_t lease = grant.lease_id;
  uint64_t r2 = Submit("c2");

  // The agent serves the session for a while, past the connect grace.
  SchedulerEvents events;
  for (int i = 0; i < 20; ++i) {
    Advance(seconds(1));
    events = Beat(a1, {lease});
    EXPECT_TRUE(events.grants.empty());
    events = scheduler_.Tick(now_);
    EXPECT_TRUE(events.grants.empty());
  }
  EXPECT_TRUE(scheduler_.Summary().agents[0].busy);

  // The session ended: the next heartbeat does not list it, and the next request is served.
  Advance(seconds(1));
  events = Beat(a1, {});
  ASSERT_EQ(events.grants.size(), 1u);
  EXPECT_EQ(events.grants[0].request_id, r2);
  EXPECT_EQ(events.grants[0].agent.agent_id, "a1");
  EXPECT_FALSE(Release(lease, &events).ok());
}

TEST_F(SchedulerTest, SessionEndWithEmptyQueueLeavesAgentFree) {
  AgentInfo a1 = MakeAgent("a1");
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(a1, "c1", &grant));
  Advance(seconds(1));
  Beat(a1, {grant.lease_id});
  Advance(seconds(1));
  Beat(a1, {7777});  // other, unknown leases do not keep it busy
  EXPECT_FALSE(scheduler_.Summary().agents[0].busy);
  SchedulerEvents events;
  Submit("c2", 0, {}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a1"}));
}

TEST_F(SchedulerTest, UnreportedLeaseKeptWithinConnectGraceThenReleased) {
  AgentInfo a1 = MakeAgent("a1");
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(a1, "c1", &grant));
  const uint64_t lease = grant.lease_id;
  const TimePoint granted = now_;
  uint64_t r2 = Submit("c2");

  // The client has not connected yet: heartbeats without the lease do not end it.
  SchedulerEvents events;
  while (now_ + seconds(1) < granted + options_.connect_grace) {
    Advance(seconds(1));
    events = Beat(a1, {});
    EXPECT_TRUE(events.grants.empty());
    events = scheduler_.Tick(now_);
    EXPECT_TRUE(events.grants.empty());
  }
  now_ = granted + options_.connect_grace - milliseconds(1);
  Beat(a1, {});
  events = scheduler_.Tick(now_);
  EXPECT_TRUE(events.grants.empty());
  EXPECT_TRUE(scheduler_.Summary().agents[0].busy);

  // Past the grace, the never-reported lease ends and the next request is served.
  now_ = granted + options_.connect_grace + milliseconds(1);
  events = scheduler_.Tick(now_);
  ASSERT_EQ(events.grants.size(), 1u);
  EXPECT_EQ(events.grants[0].request_id, r2);
  EXPECT_EQ(events.grants[0].agent.agent_id, "a1");
  EXPECT_TRUE(events.lost_agents.empty());
  EXPECT_FALSE(Release(lease, &events).ok());
}

TEST_F(SchedulerTest, ReportedLeaseOutlivesConnectGrace) {
  AgentInfo a1 = MakeAgent("a1");
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(a1, "c1", &grant));
  const uint64_t lease = grant.lease_id;
  Advance(seconds(1));
  Beat(a1, {lease});
  for (int i = 0; i < 30; ++i) {
    Advance(seconds(1));
    Beat(a1, {lease});
    scheduler_.Tick(now_);
  }
  SchedulerSummary summary = scheduler_.Summary();
  EXPECT_TRUE(summary.agents[0].busy);
  EXPECT_EQ(summary.agents[0].lease_id, lease);
}

class ShortLeaseSchedulerTest : public SchedulerTest {
 protected:
  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.lease_duration = seconds(30);
    return options;
  }
  ShortLeaseSchedulerTest() : SchedulerTest(Options()) {}
};

TEST_F(ShortLeaseSchedulerTest, LeaseEndsAtItsExpiry) {
  AgentInfo a1 = MakeAgent("a1");
  Grant first;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(a1, "c1", &first));
  EXPECT_EQ(first.lease_expires, now_ + seconds(30));
  uint64_t r2 = Submit("c2", 0, {}, nullptr, "k", minutes(5));

  SchedulerEvents events;
  while (now_ + seconds(1) < first.lease_expires) {
    Advance(seconds(1));
    Beat(a1, {first.lease_id});
    events = scheduler_.Tick(now_);
    EXPECT_TRUE(events.grants.empty());
  }
  now_ = first.lease_expires;
  Beat(a1, {first.lease_id});
  events = scheduler_.Tick(now_);
  ASSERT_EQ(events.grants.size(), 1u);
  EXPECT_EQ(events.grants[0].request_id, r2);
  EXPECT_EQ(events.grants[0].agent.agent_id, "a1");
  EXPECT_FALSE(Release(first.lease_id, &events).ok());

  // The agent still listing the expired lease does not disturb the new one.
  const uint64_t second = events.grants[0].lease_id;
  Advance(seconds(1));
  Beat(a1, {first.lease_id, second});
  SchedulerSummary summary = scheduler_.Summary();
  EXPECT_TRUE(summary.agents[0].busy);
  EXPECT_EQ(summary.agents[0].lease_id, second);
  EXPECT_EQ(summary.agents[0].client_id, "c2");
}

TEST_F(SchedulerTest, ReleaseConnectionCancelsItsRequestsAndReleasesItsLeases) {
  Beat(MakeAgent("a1"));
  Beat(MakeAgent("a2"));
  SchedulerEvents events;
  Submit("gone", 0, {}, &events);
  Submit("gone", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 2u);
  const uint64_t lease1 = events.grants[0].lease_id;
  const uint64_t lease2 = events.grants[1].lease_id;
  uint64_t gone_queued = Submit("gone", 9);
  uint64_t other1 = Submit("other");
  uint64_t other2 = Submit("other");
  uint64_t other3 = Submit("other");
  EXPECT_EQ(scheduler_.num_queued(), 4u);

  Advance(seconds(1));
  events = {};
  scheduler_.ReleaseConnection(ConnectionOf("gone"), now_, &events);
  ASSERT_EQ(events.grants.size(), 2u);
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{other1, other2}));
  for (const Grant& g : events.grants) EXPECT_EQ(g.client_id, "other");
  EXPECT_FALSE(scheduler_.Cancel(gone_queued));
  EXPECT_FALSE(Release(lease1, &events).ok());
  EXPECT_FALSE(Release(lease2, &events).ok());
  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.queue.size(), 1u);
  EXPECT_EQ(summary.queue[0].request_id, other3);
  for (const AgentSummary& a : summary.agents) EXPECT_EQ(a.client_id, "other");

  // An unknown client is a no-op.
  events = {};
  scheduler_.ReleaseConnection(ConnectionOf("nobody"), now_, &events);
  EXPECT_TRUE(events.grants.empty());
  EXPECT_EQ(scheduler_.num_queued(), 1u);
}

// Agents freed together are handed out in registration order, as the header promises, not in
// the order the client's leases happen to be stored.
TEST_F(SchedulerTest, ReleaseConnectionServesFreedAgentsInRegistrationOrder) {
  for (const char* id : {"a1", "a2", "a3", "a4"}) Beat(MakeAgent(id));
  SchedulerEvents events;
  for (int i = 0; i < 4; ++i) Submit("gone", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 4u);
  uint64_t r1 = Submit("other");
  uint64_t r2 = Submit("other");
  uint64_t r3 = Submit("other");
  uint64_t r4 = Submit("other");
  events = {};
  scheduler_.ReleaseConnection(ConnectionOf("gone"), now_, &events);
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{r1, r2, r3, r4}));
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a1", "a2", "a3", "a4"}));
}

// ---------------------------------------------------------------------------------------------
// Agents dying and coming back

TEST_F(SchedulerTest, AgentDyingWhileLeasedIsDroppedWithItsLease) {
  AgentInfo a1 = MakeAgent("a1");
  AgentInfo a2 = MakeAgent("a2");
  Beat(a1);
  Beat(a2);
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(GrantedAgents(events), (std::vector<std::string>{"a1"}));
  const uint64_t lease = events.grants[0].lease_id;
  Beat(a1, {lease});
  const TimePoint last_beat = now_;
  const auto silence = options_.heartbeat_interval * options_.missed_beats;

  // a1 goes silent; a2 keeps beating.
  while (now_ + seconds(1) < last_beat + silence) {
    Advance(seconds(1));
    Beat(a2);
    events = scheduler_.Tick(now_);
    EXPECT_TRUE(events.lost_agents.empty());
  }
  EXPECT_EQ(scheduler_.num_agents(), 2u);
  now_ = last_beat + silence + milliseconds(1);
  Beat(a2);
  events = scheduler_.Tick(now_);
  EXPECT_EQ(events.lost_agents, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(scheduler_.num_agents(), 1u);
  const SchedulerSummary summary = scheduler_.Summary();
  EXPECT_EQ(FindAgent(summary, "a1"), nullptr);
  EXPECT_FALSE(Release(lease, &events).ok());

  // New requests go to a2, then wait; a1 is never granted again.
  events = {};
  Submit("c2", 0, {}, &events);
  Submit("c3", 0, {}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a2"}));
  EXPECT_EQ(scheduler_.num_queued(), 1u);
  events = scheduler_.Tick(now_);
  EXPECT_TRUE(events.lost_agents.empty());  // reported once
  EXPECT_TRUE(events.grants.empty());
}

TEST_F(SchedulerTest, AgentDyingWhileIdleIsDropped) {
  AgentInfo a1 = MakeAgent("a1");
  Beat(a1);
  Advance(options_.heartbeat_interval * options_.missed_beats - milliseconds(1));
  SchedulerEvents events = scheduler_.Tick(now_);
  EXPECT_TRUE(events.lost_agents.empty());
  Advance(milliseconds(2));
  events = scheduler_.Tick(now_);
  EXPECT_EQ(events.lost_agents, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(scheduler_.num_agents(), 0u);
  EXPECT_TRUE(scheduler_.Summary().agents.empty());

  events = {};
  Submit("c", 0, {}, &events);
  EXPECT_TRUE(events.grants.empty());
  EXPECT_EQ(scheduler_.num_queued(), 1u);
}

TEST_F(SchedulerTest, RemoveAgentEndsItsLease) {
  Grant grant;
  ASSERT_NO_FATAL_FAILURE(LeaseOne(MakeAgent("a1"), "c1", &grant));
  const uint64_t lease = grant.lease_id;
  SchedulerEvents events = scheduler_.RemoveAgent("a1", now_);
  EXPECT_EQ(events.lost_agents, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(scheduler_.num_agents(), 0u);
  EXPECT_FALSE(Release(lease, &events).ok());
  events = scheduler_.RemoveAgent("a1", now_);
  EXPECT_TRUE(events.lost_agents.empty());
}

TEST_F(SchedulerTest, DroppedAgentReRegistersOnNextHeartbeat) {
  AgentInfo a1 = MakeAgent("a1");
  AgentInfo a2 = MakeAgent("a2");
  Beat(a1);
  Beat(a2);
  Advance(seconds(4));
  Beat(a2);
  SchedulerEvents events = scheduler_.Tick(now_);
  ASSERT_EQ(events.lost_agents, (std::vector<std::string>{"a1"}));
  uint64_t r1 = Submit("c1", 0, {}, &events);
  uint64_t r2 = Submit("c2", 0, {}, &events);
  ASSERT_EQ(GrantedRequests(events), (std::vector<uint64_t>{r1}));

  // a1 comes back (it was only partitioned): registered again, free, and serves the queue.
  Advance(seconds(1));
  events = Beat(a1);
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{r2}));
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a1"}));
  EXPECT_EQ(scheduler_.num_agents(), 2u);
  // Registered anew, so it now comes after a2.
  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.agents.size(), 2u);
  EXPECT_EQ(summary.agents[0].info.agent_id, "a2");
  EXPECT_EQ(summary.agents[1].info.agent_id, "a1");
  EXPECT_EQ(summary.agents[1].since, now_);
}

TEST_F(SchedulerTest, RestartedTrackerLearnsAgentsFromHeartbeats) {
  std::vector<AgentInfo> agents = {MakeAgent("a1", "x"), MakeAgent("a2", "x"),
                                   MakeAgent("b1", "y", {{"gpu", "a100"}})};
  for (const AgentInfo& a : agents) Beat(a);
  ASSERT_EQ(scheduler_.num_agents(), 3u);

  // The tracker restarts: a fresh scheduler knows nothing until the agents' next beats.
  Scheduler restarted(options_);
  EXPECT_EQ(restarted.num_agents(), 0u);
  Advance(milliseconds(500));
  for (const AgentInfo& a : agents) restarted.Heartbeat(a, {}, now_);
  SchedulerSummary summary = restarted.Summary();
  ASSERT_EQ(summary.agents.size(), 3u);
  EXPECT_EQ(summary.agents[0].info.agent_id, "a1");
  EXPECT_EQ(summary.agents[1].info.agent_id, "a2");
  EXPECT_EQ(summary.agents[2].info.agent_id, "b1");
  EXPECT_EQ(summary.agents[2].info.tags, (Tags{{"gpu", "a100"}}));
  for (const AgentSummary& a : summary.agents) EXPECT_FALSE(a.busy);

  SchedulerEvents events;
  RequestSpec spec{"c", "y", {{"gpu", "a100"}}, 0, now_ + seconds(10), "conn-c"};
  ASSERT_TRUE(restarted.Submit(spec, now_, &events).ok());
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"b1"}));
}

// ---------------------------------------------------------------------------------------------
// Larger runs

TEST_F(SchedulerTest, FiftyRequestsOverThreeAgentsAllServedInOrder) {
  std::vector<uint64_t> submitted;
  for (int i = 0; i < 50; ++i) submitted.push_back(Submit("client-" + std::to_string(i)));
  std::vector<AgentInfo> agents = {MakeAgent("a1"), MakeAgent("a2"), MakeAgent("a3")};

  std::deque<Grant> active;
  std::vector<uint64_t> served;
  std::map<std::string, int> per_agent;
  auto take = [&](const SchedulerEvents& events) {
    for (const Grant& g : events.grants) {
      active.push_back(g);
      served.push_back(g.request_id);
      ++per_agent[g.agent.agent_id];
    }
  };
  for (const AgentInfo& a : agents) take(Beat(a));
  ASSERT_EQ(active.size(), 3u);
  while (!active.empty()) {
    EXPECT_LE(active.size(), 3u);
    Advance(milliseconds(200));
    Grant done = active.front();
    active.pop_front();
    SchedulerEvents events;
    ASSERT_TRUE(Release(done.lease_id, &events).ok());
    take(events);
    for (const AgentInfo& a : agents) {  // keep the agents alive, reporting their sessions
      std::vector<uint64_t> leases;
      for (const Grant& g : active) {
        if (g.agent.agent_id == a.agent_id) leases.push_back(g.lease_id);
      }
      take(Beat(a, leases));
    }
    take(scheduler_.Tick(now_));
  }
  EXPECT_EQ(served, submitted);
  EXPECT_EQ(scheduler_.num_queued(), 0u);
  EXPECT_EQ(per_agent.size(), 3u);
  for (const auto& [agent, count] : per_agent) EXPECT_GE(count, 16) << agent;
}

TEST_F(SchedulerTest, ThousandAgentsTenThousandCycles) {
  constexpr int kAgents = 1000;
  constexpr int kCycles = 10000;
  std::vector<AgentInfo> agents;
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(
        MakeAgent("agent-" + std::to_string(i), "k", {{"rack", std::to_string(i % 10)}}));
    Beat(agents.back());
  }
  ASSERT_EQ(scheduler_.num_agents(), static_cast<size_t>(kAgents));

  std::deque<uint64_t> leases;
  std::map<std::string, uint64_t> lease_of;  // agent -> its current lease
  int grants = 0;
  auto take = [&](const SchedulerEvents& events) {
    for (const Grant& g : events.grants) {
      leases.push_back(g.lease_id);
      lease_of[g.agent.agent_id] = g.lease_id;
      ++grants;
    }
    EXPECT_TRUE(events.lost_agents.empty());
    EXPECT_TRUE(events.expired_requests.empty());
  };
  for (int i = 0; i < kCycles; ++i) {
    Advance(milliseconds(1));
    SchedulerEvents events;
    Tags tags;
    if (i % 7 == 0) tags["rack"] = std::to_string(i % 10);
    Submit("client-" + std::to_string(i % 50), i % 3, tags, &events);
    take(events);
    // Keep most agents busy: release the oldest lease once 950 are out.
    if (leases.size() > 950) {
      events = {};
      ASSERT_TRUE(Release(leases.front(), &events).ok());
      leases.pop_front();
      take(events);
    }
    if (i % 1000 == 999) {  // a heartbeat round each simulated second
      for (const AgentInfo& a : agents) {
        auto it = lease_of.find(a.agent_id);
        std::vector<uint64_t> reported;
        if (it != lease_of.end()) reported.push_back(it->second);
        Beat(a, reported);
      }
      take(scheduler_.Tick(now_));
    }
  }
  while (!leases.empty()) {
    SchedulerEvents events;
    (void)Release(leases.front(), &events);
    leases.pop_front();
    take(events);
  }
  EXPECT_EQ(grants, kCycles);
  EXPECT_EQ(scheduler_.num_queued(), 0u);
  EXPECT_EQ(scheduler_.num_agents(), static_cast<size_t>(kAgents));
}

}  // namespace
}  // namespace ferry::tracker
