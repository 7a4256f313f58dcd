// Scheduler: the tracker's decisions, with no sockets and no clock of its own (every call
// takes `now`), so it is tested directly and driven by the tracker server.
//
// Agents register under a key with devices and tags and heartbeat; an agent silent for
// `missed_beats` heartbeat intervals is dropped (its lease, if any, ends). Clients submit
// requests for a key (optionally tags) with a priority and an expiry. Requests of one key
// are served by priority (higher first), then in arrival order, each by the first free agent
// of that key whose tags include the requested ones (agents in registration order). A grant
// is a lease on the agent, which stays busy until the lease is released (session ended,
// client lost) or expires. A lease belongs to the client and the connection that requested
// it: only they may release it. Not thread-safe.
#ifndef FERRY_TRACKER_SCHEDULER_H_
#define FERRY_TRACKER_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/status.h"

namespace ferry::tracker {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Tags = std::map<std::string, std::string>;

struct DeviceInfo {
  std::string type;  // "cpu", "cuda"
  int count = 0;
  uint64_t memory = 0;
  std::string name;
};

struct AgentInfo {
  std::string agent_id;  // unique, chosen by the agent
  std::string key;
  std::string address;   // where clients connect, tcp://HOST:PORT
  std::vector<DeviceInfo> devices;
  Tags tags;
  std::string public_key;  // the agent's CURVE public key (Z85), "" when unknown
};

struct RequestSpec {
  std::string client_id;  // who asks: a CURVE key, or a name for a plaintext connection
  std::string key;
  Tags tags;
  int priority = 0;
  TimePoint expires;
  // The connection the request came on (a ZeroMQ routing id); its lease can be released
  // only from the same client and connection.
  std::string connection;
};

struct Grant {
  uint64_t request_id = 0;
  uint64_t lease_id = 0;
  std::string client_id;
  AgentInfo agent;
  TimePoint lease_expires;
};

struct SchedulerOptions {
  std::chrono::milliseconds heartbeat_interval{1000};
  int missed_beats = 3;
  std::chrono::milliseconds lease_duration{std::chrono::minutes(10)};
  // A lease the agent never reports serving (the client did not connect) ends after this.
  std::chrono::milliseconds connect_grace{std::chrono::seconds(10)};
  // Lease ids count up from here. A tracker starts from its start time (in microseconds) so
  // ids never repeat across restarts: an agent may still report a lease of the previous run.
  uint64_t first_lease_id = 1;
};

// What changed as time passed or state moved: grants to deliver, requests that expired.
struct SchedulerEvents {
  std::vector<Grant> grants;
  std::vector<uint64_t> expired_requests;
  std::vector<std::string> lost_agents;
};

struct AgentSummary {
  AgentInfo info;
  bool busy = false;
  std::string client_id;  // when busy
  uint64_t lease_id = 0;
  TimePoint since;        // busy since, or free since
  TimePoint last_heartbeat;
};

struct QueuedRequest {
  uint64_t request_id = 0;
  std::string client_id;
  std::string key;
  int priority = 0;
  TimePoint submitted;
  TimePoint expires;
};

struct SchedulerSummary {
  std::vector<AgentSummary> agents;     // by key, then registration order
  std::vector<QueuedRequest> queue;     // by key, then serving order
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options = {});

  // Registers a new agent or refreshes a known one (its info may change). `active_leases`
  // are the leases the agent reports serving: a lease the tracker granted that the agent no
  // longer reports, after having reported it once, has ended and is released. A free agent
  // reporting a lease unknown here (granted before a tracker restart) is busy with it until
  // it stops reporting it. Returns the grants this makes possible.
  SchedulerEvents Heartbeat(const AgentInfo& info, const std::vector<uint64_t>& active_leases,
                            TimePoint now);
  // Removes an agent at once (it said goodbye). Its lease ends.
  SchedulerEvents RemoveAgent(const std::string& agent_id, TimePoint now);

  // Queues a request; the returned events may already contain its grant. Errors:
  // kInvalidArgument for an empty key or an expiry not after `now`.
  StatusOr<uint64_t> Submit(RequestSpec spec, TimePoint now, SchedulerEvents* events);
  // Removes a queued request. Returns false when it is not queued (granted, expired, unknown).
  bool Cancel(uint64_t request_id);
  // Ends a lease (the client is done) when `client_id` and `connection` are those of the
  // request it was granted to. Errors: kNotFound when the lease is not active,
  // kPermissionDenied when it was granted to another client or connection (nothing changes).
  Status ReleaseLease(uint64_t lease_id, const std::string& client_id,
                      const std::string& connection, TimePoint now, SchedulerEvents* events);
  // Ends every lease and queued request that came on `connection` (it disconnected).
  void ReleaseConnection(const std::string& connection, TimePoint now, SchedulerEvents* events);

  // Expires requests and leases, drops silent agents, and grants what became possible.
  SchedulerEvents Tick(TimePoint now);

  SchedulerSummary Summary() const;
  size_t num_agents() const { return agents_.size(); }
  size_t num_queued() const { return requests_.size(); }

 private:
  struct Agent {
    AgentInfo info;
    uint64_t order = 0;  // registration order
    TimePoint last_heartbeat;
    TimePoint since;
    uint64_t lease_id = 0;  // 0 when free
    std::string client_id;
    std::string connection;  // of the lease's request
    TimePoint lease_expires;
    TimePoint lease_granted;
    bool lease_seen = false;  // the agent has reported the lease at least once
  };
  struct Request {
    RequestSpec spec;
    uint64_t request_id = 0;
    TimePoint submitted;
  };
  // Serving order within a key: higher priority first, then lower request id (arrival).
  struct QueueOrder {
    bool operator()(const std::pair<int, uint64_t>& a, const std::pair<int, uint64_t>& b) const {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    }
  };
  using KeyQueue = std::set<std::pair<int, uint64_t>, QueueOrder>;

  void EndLease(Agent& agent, TimePoint now);
  void DropAgent(const std::string& agent_id, TimePoint now, SchedulerEvents* events);
  // Scheduling keeps one invariant after every public call: no queued request matches a
  // free agent. So a new request is checked against the free agents of its key only, and a
  // newly free agent against the queue of its key only; Schedule(key) rechecks everything
  // when several agents free at once (Tick, ReleaseConnection).
  void Schedule(const std::string& key, TimePoint now, SchedulerEvents* events);
  void ScheduleRequest(uint64_t request_id, TimePoint now, SchedulerEvents* events);
  void ScheduleAgent(Agent& agent, TimePoint now, SchedulerEvents* events);
  // Leases `agent` (free) to queued request `request_id` and removes the request.
  void GrantLease(Agent& agent, uint64_t request_id, TimePoint now, SchedulerEvents* events);
  static bool TagsMatch(const Tags& wanted, const Tags& offered);

  SchedulerOptions options_;
  uint64_t next_request_id_ = 1;
  uint64_t next_lease_id_ = 1;
  uint64_t next_agent_order_ = 1;
  std::unordered_map<std::string, Agent> agents_;
  // Free agents per key, in registration order.
  std::map<std::string, std::map<uint64_t, std::string>> free_agents_;
  std::unordered_map<uint64_t, std::string> lease_agent_;  // lease -> agent id
  std::unordered_map<uint64_t, Request> requests_;
  std::map<std::string, KeyQueue> queues_;
};

}  // namespace ferry::tracker

#endif  // FERRY_TRACKER_SCHEDULER_H_
