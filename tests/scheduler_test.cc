// The tracker's scheduler (tracker/scheduler.h) driven by a fake clock: registration and the
// summary, priority and arrival order, tags, cancellation and request expiry. The ways a lease
// ends, agents dying and coming back, and the load runs are in scheduler_lease_test.cc.
#include "tracker/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/scheduler_test_util.h"

namespace ferry::tracker {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::GrantedAgents;
using testing::GrantedRequests;
using testing::MakeAgent;
using testing::SchedulerTest;

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
        scheduler_.Submit(RequestSpec{"c", c.key, {}, 0, c.expires, "conn-c"}, now_, &events);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument) << id.status().ToString();
  }
  EXPECT_TRUE(events.grants.empty());
  EXPECT_EQ(scheduler_.num_queued(), 0u);
  EXPECT_FALSE(scheduler_.Summary().agents[0].busy);
}

}  // namespace
}  // namespace ferry::tracker
