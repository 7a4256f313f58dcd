// The tracker's scheduler (tracker/scheduler.h) driven by a fake clock: registration and the
// summary, priority and arrival order, tags, cancellation, request expiry, the ways a lease
// ends (release, session end, connect grace, expiry, client loss), agents dying while leased
// or idle and coming back, and a load run.
#include "tracker/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace ferry::tracker {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

AgentInfo MakeAgent(const std::string& id, const std::string& key = "k", Tags tags = {}) {
  AgentInfo info;
  info.agent_id = id;
  info.key = key;
  info.address = "tcp://10.0.0.1:" + std::to_string(5000 + id.size());
  info.devices = {DeviceInfo{"cpu", 1, 1 << 30, "test-cpu"}};
  info.tags = std::move(tags);
  return info;
}

// Agent ids of the grants, in order.
std::vector<std::string> GrantedAgents(const SchedulerEvents& events) {
  std::vector<std::string> ids;
  for (const Grant& g : events.grants) ids.push_back(g.agent.agent_id);
  return ids;
}

// Request ids of the grants, in order.
std::vector<uint64_t> GrantedRequests(const SchedulerEvents& events) {
  std::vector<uint64_t> ids;
  for (const Grant& g : events.grants) ids.push_back(g.request_id);
  return ids;
}

const AgentSummary* FindAgent(const SchedulerSummary& summary, const std::string& id) {
  for (const AgentSummary& a : summary.agents) {
    if (a.info.agent_id == id) return &a;
  }
  return nullptr;
}

class SchedulerTest : public ::testing::Test {
 protected:
  explicit SchedulerTest(SchedulerOptions options = {}) : options_(options), scheduler_(options) {}

  void Advance(milliseconds d) { now_ += d; }

  SchedulerEvents Beat(const AgentInfo& info, const std::vector<uint64_t>& leases = {}) {
    return scheduler_.Heartbeat(info, leases, now_);
  }

  // Submits a request that must be accepted; its grant, if any, goes to `events`.
  uint64_t Submit(const std::string& client, int priority = 0, Tags tags = {},
                  SchedulerEvents* events = nullptr, const std::string& key = "k",
                  milliseconds timeout = minutes(5)) {
    SchedulerEvents local;
    RequestSpec spec{client, key, std::move(tags), priority, now_ + timeout};
    StatusOr<uint64_t> id = scheduler_.Submit(std::move(spec), now_, events ? events : &local);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.value_or(0);
  }

  SchedulerOptions options_;
  Scheduler scheduler_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(100);
};

// ---------------------------------------------------------------------------------------------
// Registration and the summary

TEST_F(SchedulerTest, HeartbeatRegistersAgentAndSummaryShowsIt) {
  AgentInfo info = MakeAgent("a1", "k", {{"gpu", "a100"}});
  info.devices = {DeviceInfo{"cuda", 2, uint64_t{80} << 30, "A100"}, DeviceInfo{"cpu", 1, 0, ""}};
  const TimePoint registered = now_;
  SchedulerEvents events = Beat(info);
  EXPECT_TRUE(events.grants.empty());
  EXPECT_TRUE(events.lost_agents.empty());
  EXPECT_EQ(scheduler_.num_agents(), 1u);

  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.agents.size(), 1u);
  const AgentSummary& a = summary.agents[0];
  EXPECT_EQ(a.info.agent_id, "a1");
  EXPECT_EQ(a.info.key, "k");
  EXPECT_EQ(a.info.address, info.address);
  ASSERT_EQ(a.info.devices.size(), 2u);
  EXPECT_EQ(a.info.devices[0].type, "cuda");
  EXPECT_EQ(a.info.devices[0].count, 2);
  EXPECT_EQ(a.info.devices[0].memory, uint64_t{80} << 30);
  EXPECT_EQ(a.info.devices[0].name, "A100");
  EXPECT_EQ(a.info.tags, (Tags{{"gpu", "a100"}}));
  EXPECT_FALSE(a.busy);
  EXPECT_TRUE(a.client_id.empty());
  EXPECT_EQ(a.lease_id, 0u);
  EXPECT_EQ(a.since, registered);
  EXPECT_EQ(a.last_heartbeat, registered);
  EXPECT_TRUE(summary.queue.empty());

  // A later heartbeat refreshes last_heartbeat and the info, not the registration.
  Advance(seconds(1));
  info.address = "tcp://10.0.0.2:6000";
  Beat(info);
  EXPECT_EQ(scheduler_.num_agents(), 1u);
  summary = scheduler_.Summary();
  ASSERT_EQ(summary.agents.size(), 1u);
  EXPECT_EQ(summary.agents[0].info.address, "tcp://10.0.0.2:6000");
  EXPECT_EQ(summary.agents[0].since, registered);
  EXPECT_EQ(summary.agents[0].last_heartbeat, now_);
}

TEST_F(SchedulerTest, SummaryListsAgentsByKeyThenRegistrationOrder) {
  Beat(MakeAgent("zeta", "beta"));
  Beat(MakeAgent("zulu", "alpha"));
  Beat(MakeAgent("able", "alpha"));
  Beat(MakeAgent("mike", "beta"));
  Beat(MakeAgent("zulu", "alpha"));  // a refresh keeps its place
  SchedulerSummary summary = scheduler_.Summary();
  std::vector<std::string> order;
  for (const AgentSummary& a : summary.agents) order.push_back(a.info.agent_id);
  EXPECT_EQ(order, (std::vector<std::string>{"zulu", "able", "zeta", "mike"}));
}

TEST_F(SchedulerTest, SummaryListsQueueByKeyThenServingOrder) {
  const TimePoint submitted = now_;
  uint64_t b1 = Submit("c", 0, {}, nullptr, "b");
  uint64_t a1 = Submit("c", 0, {}, nullptr, "a");
  uint64_t a2 = Submit("d", 7, {}, nullptr, "a", seconds(30));
  uint64_t b2 = Submit("c", -1, {}, nullptr, "b");
  uint64_t a3 = Submit("c", 0, {}, nullptr, "a");
  EXPECT_EQ(scheduler_.num_queued(), 5u);

  SchedulerSummary summary = scheduler_.Summary();
  std::vector<uint64_t> order;
  for (const QueuedRequest& q : summary.queue) order.push_back(q.request_id);
  EXPECT_EQ(order, (std::vector<uint64_t>{a2, a1, a3, b1, b2}));
  const QueuedRequest& first = summary.queue[0];
  EXPECT_EQ(first.client_id, "d");
  EXPECT_EQ(first.key, "a");
  EXPECT_EQ(first.priority, 7);
  EXPECT_EQ(first.submitted, submitted);
  EXPECT_EQ(first.expires, submitted + seconds(30));
}

TEST_F(SchedulerTest, SummaryShowsBusyAgentAndItsClient) {
  Beat(MakeAgent("a1"));
  Advance(seconds(1));
  SchedulerEvents events;
  Submit("client-1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.agents.size(), 1u);
  EXPECT_TRUE(summary.agents[0].busy);
  EXPECT_EQ(summary.agents[0].client_id, "client-1");
  EXPECT_EQ(summary.agents[0].lease_id, events.grants[0].lease_id);
  EXPECT_EQ(summary.agents[0].since, now_);
  EXPECT_TRUE(summary.queue.empty());
}

TEST_F(SchedulerTest, AgentChangingKeyServesOnlyItsNewKey) {
  Beat(MakeAgent("a1", "old"));
  Beat(MakeAgent("a1", "new"));
  SchedulerEvents events;
  Submit("c", 0, {}, &events, "old");
  EXPECT_TRUE(events.grants.empty());
  Submit("c", 0, {}, &events, "new");
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a1"}));
}

// ---------------------------------------------------------------------------------------------
// Serving order

TEST_F(SchedulerTest, GrantCarriesRequestLeaseClientAgentAndExpiry) {
  AgentInfo info = MakeAgent("a1");
  Beat(info);
  SchedulerEvents events;
  uint64_t id = Submit("client-1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const Grant& g = events.grants[0];
  EXPECT_EQ(g.request_id, id);
  EXPECT_NE(g.lease_id, 0u);
  EXPECT_EQ(g.client_id, "client-1");
  EXPECT_EQ(g.agent.agent_id, "a1");
  EXPECT_EQ(g.agent.address, info.address);
  EXPECT_EQ(g.lease_expires, now_ + options_.lease_duration);
  EXPECT_EQ(scheduler_.num_queued(), 0u);
  EXPECT_FALSE(scheduler_.Cancel(id));  // granted, so no longer queued
}

TEST_F(SchedulerTest, RequestsServedByPriorityThenArrival) {
  uint64_t r1 = Submit("c1", 0);
  uint64_t r2 = Submit("c2", 5);
  uint64_t r3 = Submit("c3", 0);
  uint64_t r4 = Submit("c4", 5);
  uint64_t r5 = Submit("c5", -1);
  uint64_t r6 = Submit("c6", 10);
  EXPECT_EQ(scheduler_.num_queued(), 6u);

  std::vector<uint64_t> served;
  for (int i = 0; i < 6; ++i) {
    Advance(milliseconds(100));
    SchedulerEvents events = Beat(MakeAgent("agent-" + std::to_string(i)));
    ASSERT_EQ(events.grants.size(), 1u) << "agent " << i;
    EXPECT_EQ(events.grants[0].agent.agent_id, "agent-" + std::to_string(i));
    served.push_back(events.grants[0].request_id);
  }
  EXPECT_EQ(served, (std::vector<uint64_t>{r6, r2, r4, r1, r3, r5}));
  EXPECT_EQ(scheduler_.num_queued(), 0u);
}

TEST_F(SchedulerTest, FirstFreeAgentInRegistrationOrderServes) {
  Beat(MakeAgent("zz"));
  Beat(MakeAgent("aa"));
  Beat(MakeAgent("mm"));
  SchedulerEvents events;
  Submit("c", 0, {}, &events);
  Submit("c", 0, {}, &events);
  Submit("c", 0, {}, &events);
  Submit("c", 0, {}, &events);  // none left
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"zz", "aa", "mm"}));
  EXPECT_EQ(scheduler_.num_queued(), 1u);
}

TEST_F(SchedulerTest, KeysAreServedSeparately) {
  Beat(MakeAgent("a1", "cpu"));
  SchedulerEvents events;
  uint64_t gpu = Submit("c", 9, {}, &events, "gpu");
  EXPECT_TRUE(events.grants.empty());
  uint64_t cpu = Submit("c", 0, {}, &events, "cpu");
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{cpu}));
  events = Beat(MakeAgent("g1", "gpu"));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{gpu}));
}

// ---------------------------------------------------------------------------------------------
// Tags

TEST_F(SchedulerTest, TaggedRequestMatchesOnlyAgentsWithThoseTags) {
  Beat(MakeAgent("plain"));
  Beat(MakeAgent("h100", "k", {{"gpu", "h100"}}));
  Beat(MakeAgent("a100-arm", "k", {{"gpu", "a100"}, {"arch", "arm"}}));
  Beat(MakeAgent("a100-x86", "k", {{"gpu", "a100"}, {"arch", "x86"}}));

  SchedulerEvents events;
  Submit("c", 0, {{"gpu", "a100"}, {"arch", "x86"}}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a100-x86"}));
  events = {};
  Submit("c", 0, {{"gpu", "a100"}}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a100-arm"}));
  events = {};
  uint64_t waiting = Submit("c", 0, {{"gpu", "a100"}}, &events);
  EXPECT_TRUE(events.grants.empty());
  events = {};
  Submit("c", 0, {{"mem", "80g"}}, &events);
  EXPECT_TRUE(events.grants.empty());
  // An untagged request takes any agent, tagged or not.
  events = {};
  Submit("c", 0, {}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"plain"}));
  events = {};
  Submit("c", 0, {}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"h100"}));

  // A matching agent arriving later serves the waiting request.
  events = Beat(MakeAgent("late", "k", {{"gpu", "a100"}, {"extra", "yes"}}));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{waiting}));
}

TEST_F(SchedulerTest, UnmatchedHeadDoesNotBlockLaterMatchingRequest) {
  uint64_t picky = Submit("c1", 10, {{"gpu", "a100"}});
  uint64_t any = Submit("c2", 0);
  SchedulerEvents events = Beat(MakeAgent("plain"));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{any}));
  EXPECT_EQ(scheduler_.num_queued(), 1u);
  events = Beat(MakeAgent("gpu", "k", {{"gpu", "a100"}}));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{picky}));
}

TEST_F(SchedulerTest, TagChangeInHeartbeatIsHonoured) {
  Beat(MakeAgent("a1"));
  SchedulerEvents events;
  uint64_t id = Submit("c", 0, {{"gpu", "a100"}}, &events);
  EXPECT_TRUE(events.grants.empty());
  events = Beat(MakeAgent("a1", "k", {{"gpu", "a100"}}));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{id}));
}

// ---------------------------------------------------------------------------------------------
// Cancellation and expiry

TEST_F(SchedulerTest, CancelRemovesQueuedRequest) {
  uint64_t r1 = Submit("c1");
  uint64_t r2 = Submit("c2");
  EXPECT_TRUE(scheduler_.Cancel(r1));
  EXPECT_EQ(scheduler_.num_queued(), 1u);
  ASSERT_EQ(scheduler_.Summary().queue.size(), 1u);
  EXPECT_EQ(scheduler_.Summary().queue[0].request_id, r2);
  EXPECT_FALSE(scheduler_.Cancel(r1));  // already cancelled

  SchedulerEvents events = Beat(MakeAgent("a1"));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{r2}));
  EXPECT_FALSE(scheduler_.Cancel(r2));      // granted
  EXPECT_FALSE(scheduler_.Cancel(999999));  // unknown
  EXPECT_FALSE(scheduler_.Cancel(0));
}

TEST_F(SchedulerTest, CancelLastRequestOfKeyThenSubmitAgain) {
  uint64_t r1 = Submit("c");
  EXPECT_TRUE(scheduler_.Cancel(r1));
  EXPECT_TRUE(scheduler_.Summary().queue.empty());
  uint64_t r2 = Submit("c");
  EXPECT_NE(r1, r2);
  SchedulerEvents events = Beat(MakeAgent("a1"));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{r2}));
}

TEST_F(SchedulerTest, RequestExpiresAtItsTimeout) {
  uint64_t short_lived = Submit("c1", 5, {}, nullptr, "k", seconds(5));
  uint64_t long_lived = Submit("c2", 0, {}, nullptr, "k", seconds(60));

  Advance(milliseconds(4999));
  SchedulerEvents events = scheduler_.Tick(now_);
  EXPECT_TRUE(events.expired_requests.empty());
  EXPECT_EQ(scheduler_.num_queued(), 2u);

  Advance(milliseconds(1));
  events = scheduler_.Tick(now_);
  EXPECT_EQ(events.expired_requests, (std::vector<uint64_t>{short_lived}));
  EXPECT_EQ(scheduler_.num_queued(), 1u);
  EXPECT_FALSE(scheduler_.Cancel(short_lived));  // expired

  events = scheduler_.Tick(now_);  // reported once
  EXPECT_TRUE(events.expired_requests.empty());

  // The next agent serves the surviving request, not the expired one.
  events = Beat(MakeAgent("a1"));
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{long_lived}));
}

TEST_F(SchedulerTest, SubmitRejectsEmptyKeyAndPastExpiry) {
  Beat(MakeAgent("a1"));
  SchedulerEvents events;
  struct Case {
    std::string key;
    TimePoint expires;
  };
  for (const Case& c : {Case{"", now_ + seconds(10)}, Case{"k", now_}, Case{"k", now_ - seconds(1)},
                        Case{"", now_ - seconds(1)}}) {
    StatusOr<uint64_t> id =
        scheduler_.Submit(RequestSpec{"c", c.key, {}, 0, c.expires}, now_, &events);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument) << id.status().ToString();
  }
  EXPECT_TRUE(events.grants.empty());
  EXPECT_EQ(scheduler_.num_queued(), 0u);
  EXPECT_FALSE(scheduler_.Summary().agents[0].busy);
}

// ---------------------------------------------------------------------------------------------
// How leases end

TEST_F(SchedulerTest, ReleaseLeaseGrantsNextRequestAtOnce) {
  Beat(MakeAgent("a1"));
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const uint64_t lease = events.grants[0].lease_id;
  uint64_t r2 = Submit("c2");
  EXPECT_EQ(scheduler_.num_queued(), 1u);

  Advance(seconds(2));
  events = {};
  EXPECT_TRUE(scheduler_.ReleaseLease(lease, now_, &events));
  ASSERT_EQ(events.grants.size(), 1u);
  EXPECT_EQ(events.grants[0].request_id, r2);
  EXPECT_EQ(events.grants[0].agent.agent_id, "a1");
  EXPECT_EQ(events.grants[0].client_id, "c2");
  EXPECT_NE(events.grants[0].lease_id, lease);
  EXPECT_EQ(events.grants[0].lease_expires, now_ + options_.lease_duration);

  events = {};
  EXPECT_FALSE(scheduler_.ReleaseLease(lease, now_, &events));  // no longer active
  EXPECT_FALSE(scheduler_.ReleaseLease(424242, now_, &events));
  EXPECT_TRUE(events.grants.empty());
}

TEST_F(SchedulerTest, ReleasedAgentIsFreeInSummary) {
  Beat(MakeAgent("a1"));
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  Advance(seconds(1));
  EXPECT_TRUE(scheduler_.ReleaseLease(events.grants[0].lease_id, now_, &events));
  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.agents.size(), 1u);
  EXPECT_FALSE(summary.agents[0].busy);
  EXPECT_TRUE(summary.agents[0].client_id.empty());
  EXPECT_EQ(summary.agents[0].lease_id, 0u);
  EXPECT_EQ(summary.agents[0].since, now_);
}

TEST_F(SchedulerTest, LeaseEndsWhenAgentStopsReportingIt) {
  AgentInfo a1 = MakeAgent("a1");
  Beat(a1);
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const uint64_t lease = events.grants[0].lease_id;
  uint64_t r2 = Submit("c2");

  // The agent serves the session for a while, past the connect grace.
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
  EXPECT_FALSE(scheduler_.ReleaseLease(lease, now_, &events));
}

TEST_F(SchedulerTest, SessionEndWithEmptyQueueLeavesAgentFree) {
  AgentInfo a1 = MakeAgent("a1");
  Beat(a1);
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const uint64_t lease = events.grants[0].lease_id;
  Advance(seconds(1));
  Beat(a1, {lease});
  Advance(seconds(1));
  Beat(a1, {7777});  // other, unknown leases do not keep it busy
  EXPECT_FALSE(scheduler_.Summary().agents[0].busy);
  events = {};
  Submit("c2", 0, {}, &events);
  EXPECT_EQ(GrantedAgents(events), (std::vector<std::string>{"a1"}));
}

TEST_F(SchedulerTest, UnreportedLeaseKeptWithinConnectGraceThenReleased) {
  AgentInfo a1 = MakeAgent("a1");
  Beat(a1);
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const uint64_t lease = events.grants[0].lease_id;
  const TimePoint granted = now_;
  uint64_t r2 = Submit("c2");

  // The client has not connected yet: heartbeats without the lease do not end it.
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
  EXPECT_FALSE(scheduler_.ReleaseLease(lease, now_, &events));
}

TEST_F(SchedulerTest, ReportedLeaseOutlivesConnectGrace) {
  AgentInfo a1 = MakeAgent("a1");
  Beat(a1);
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const uint64_t lease = events.grants[0].lease_id;
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
  Beat(a1);
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const Grant first = events.grants[0];
  EXPECT_EQ(first.lease_expires, now_ + seconds(30));
  uint64_t r2 = Submit("c2", 0, {}, nullptr, "k", minutes(5));

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
  EXPECT_FALSE(scheduler_.ReleaseLease(first.lease_id, now_, &events));

  // The agent still listing the expired lease does not disturb the new one.
  const uint64_t second = events.grants[0].lease_id;
  Advance(seconds(1));
  Beat(a1, {first.lease_id, second});
  SchedulerSummary summary = scheduler_.Summary();
  EXPECT_TRUE(summary.agents[0].busy);
  EXPECT_EQ(summary.agents[0].lease_id, second);
  EXPECT_EQ(summary.agents[0].client_id, "c2");
}

TEST_F(SchedulerTest, ReleaseClientCancelsItsRequestsAndReleasesItsLeases) {
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
  scheduler_.ReleaseClient("gone", now_, &events);
  ASSERT_EQ(events.grants.size(), 2u);
  EXPECT_EQ(GrantedRequests(events), (std::vector<uint64_t>{other1, other2}));
  for (const Grant& g : events.grants) EXPECT_EQ(g.client_id, "other");
  EXPECT_FALSE(scheduler_.Cancel(gone_queued));
  EXPECT_FALSE(scheduler_.ReleaseLease(lease1, now_, &events));
  EXPECT_FALSE(scheduler_.ReleaseLease(lease2, now_, &events));
  SchedulerSummary summary = scheduler_.Summary();
  ASSERT_EQ(summary.queue.size(), 1u);
  EXPECT_EQ(summary.queue[0].request_id, other3);
  for (const AgentSummary& a : summary.agents) EXPECT_EQ(a.client_id, "other");

  // An unknown client is a no-op.
  events = {};
  scheduler_.ReleaseClient("nobody", now_, &events);
  EXPECT_TRUE(events.grants.empty());
  EXPECT_EQ(scheduler_.num_queued(), 1u);
}

// Agents freed together are handed out in registration order, as the header promises, not in
// the order the client's leases happen to be stored.
TEST_F(SchedulerTest, ReleaseClientServesFreedAgentsInRegistrationOrder) {
  for (const char* id : {"a1", "a2", "a3", "a4"}) Beat(MakeAgent(id));
  SchedulerEvents events;
  for (int i = 0; i < 4; ++i) Submit("gone", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 4u);
  uint64_t r1 = Submit("other");
  uint64_t r2 = Submit("other");
  uint64_t r3 = Submit("other");
  uint64_t r4 = Submit("other");
  events = {};
  scheduler_.ReleaseClient("gone", now_, &events);
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
  EXPECT_EQ(FindAgent(scheduler_.Summary(), "a1"), nullptr);
  EXPECT_FALSE(scheduler_.ReleaseLease(lease, now_, &events));

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
  Beat(MakeAgent("a1"));
  SchedulerEvents events;
  Submit("c1", 0, {}, &events);
  ASSERT_EQ(events.grants.size(), 1u);
  const uint64_t lease = events.grants[0].lease_id;
  events = scheduler_.RemoveAgent("a1", now_);
  EXPECT_EQ(events.lost_agents, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(scheduler_.num_agents(), 0u);
  EXPECT_FALSE(scheduler_.ReleaseLease(lease, now_, &events));
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
  RequestSpec spec{"c", "y", {{"gpu", "a100"}}, 0, now_ + seconds(10)};
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
    ASSERT_TRUE(scheduler_.ReleaseLease(done.lease_id, now_, &events));
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
      ASSERT_TRUE(scheduler_.ReleaseLease(leases.front(), now_, &events));
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
    scheduler_.ReleaseLease(leases.front(), now_, &events);
    leases.pop_front();
    take(events);
  }
  EXPECT_EQ(grants, kCycles);
  EXPECT_EQ(scheduler_.num_queued(), 0u);
  EXPECT_EQ(scheduler_.num_agents(), static_cast<size_t>(kAgents));
}

}  // namespace
}  // namespace ferry::tracker
