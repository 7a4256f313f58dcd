// The fake-clock fixture and small helpers shared by the scheduler tests (scheduler_test.cc,
// scheduler_lease_test.cc).
#ifndef FERRY_TESTS_SCHEDULER_TEST_UTIL_H_
#define FERRY_TESTS_SCHEDULER_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tracker/scheduler.h"

namespace ferry::tracker::testing {

inline AgentInfo MakeAgent(const std::string& id, const std::string& key = "k", Tags tags = {}) {
  AgentInfo info;
  info.agent_id = id;
  info.key = key;
  info.address = "tcp://10.0.0.1:" + std::to_string(5000 + id.size());
  info.devices = {DeviceInfo{"cpu", 1, 1 << 30, "test-cpu"}};
  info.tags = std::move(tags);
  return info;
}

// Agent ids of the grants, in order.
inline std::vector<std::string> GrantedAgents(const SchedulerEvents& events) {
  std::vector<std::string> ids;
  for (const Grant& g : events.grants) ids.push_back(g.agent.agent_id);
  return ids;
}

// Request ids of the grants, in order.
inline std::vector<uint64_t> GrantedRequests(const SchedulerEvents& events) {
  std::vector<uint64_t> ids;
  for (const Grant& g : events.grants) ids.push_back(g.request_id);
  return ids;
}

inline const AgentSummary* FindAgent(const SchedulerSummary& summary, const std::string& id) {
  for (const AgentSummary& a : summary.agents) {
    if (a.info.agent_id == id) return &a;
  }
  return nullptr;
}
// A pointer into a temporary summary would dangle (found by ASan in scheduler_lease_test):
// keep the summary in a variable.
const AgentSummary* FindAgent(SchedulerSummary&& summary, const std::string& id) = delete;

class SchedulerTest : public ::testing::Test {
 protected:
  explicit SchedulerTest(SchedulerOptions options = {}) : options_(options), scheduler_(options) {}

  void Advance(std::chrono::milliseconds d) { now_ += d; }

  SchedulerEvents Beat(const AgentInfo& info, const std::vector<uint64_t>& leases = {}) {
    return scheduler_.Heartbeat(info, leases, now_);
  }

  // Submits a request that must be accepted; its grant, if any, goes to `events`.
  uint64_t Submit(const std::string& client, int priority = 0, Tags tags = {},
                  SchedulerEvents* events = nullptr, const std::string& key = "k",
                  std::chrono::milliseconds timeout = std::chrono::minutes(5)) {
    SchedulerEvents local;
    RequestSpec spec{client, key, std::move(tags), priority, now_ + timeout, ConnectionOf(client)};
    StatusOr<uint64_t> id = scheduler_.Submit(std::move(spec), now_, events ? events : &local);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.value_or(0);
  }

  // The connection Submit's requests of `client` come on.
  static std::string ConnectionOf(const std::string& client) { return "conn-" + client; }

  // Releases `lease` as the client (and its connection) it was granted to, as the summary
  // shows it; a lease no agent holds is released as nobody.
  Status Release(uint64_t lease, SchedulerEvents* events) {
    std::string client;
    for (const AgentSummary& a : scheduler_.Summary().agents) {
      if (a.busy && a.lease_id == lease) client = a.client_id;
    }
    return scheduler_.ReleaseLease(lease, client, ConnectionOf(client), now_, events);
  }

  // Registers `agent` with a heartbeat, submits one default request from `client` and checks
  // that it is granted at once; the grant goes to `*grant`. Wrap calls in
  // ASSERT_NO_FATAL_FAILURE so a failed check stops the test.
  void LeaseOne(const AgentInfo& agent, const std::string& client, Grant* grant) {
    Beat(agent);
    SchedulerEvents events;
    Submit(client, 0, {}, &events);
    ASSERT_EQ(events.grants.size(), 1u);
    *grant = events.grants[0];
  }

  SchedulerOptions options_;
  Scheduler scheduler_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(100);
};

}  // namespace ferry::tracker::testing

#endif  // FERRY_TESTS_SCHEDULER_TEST_UTIL_H_
