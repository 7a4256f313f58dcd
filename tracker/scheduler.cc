#include "tracker/scheduler.h"

#include <algorithm>

namespace ferry::tracker {

Scheduler::Scheduler(SchedulerOptions options)
    : options_(options), next_lease_id_(options.first_lease_id) {}

bool Scheduler::TagsMatch(const Tags& wanted, const Tags& offered) {
  for (const auto& [name, value] : wanted) {
    auto it = offered.find(name);
    if (it == offered.end() || it->second != value) return false;
  }
  return true;
}

SchedulerEvents Scheduler::Heartbeat(const AgentInfo& info,
                                     const std::vector<uint64_t>& active_leases, TimePoint now) {
  SchedulerEvents events;
  auto [it, inserted] = agents_.try_emplace(info.agent_id);
  Agent& agent = it->second;
  if (inserted) {
    agent.order = next_agent_order_++;
    agent.since = now;
  } else if (agent.info.key != info.key && agent.lease_id == 0) {
    free_agents_[agent.info.key].erase(agent.order);
  }
  agent.info = info;
  agent.last_heartbeat = now;
  if (agent.lease_id != 0) {
    const bool reported = std::find(active_leases.begin(), active_leases.end(), agent.lease_id) !=
                          active_leases.end();
    if (reported) {
      agent.lease_seen = true;
    } else if (agent.lease_seen) {
      EndLease(agent, now);  // the session ended
    }
  } else if (!active_leases.empty() && lease_agent_.count(active_leases.front()) == 0) {
    // The agent serves a lease this scheduler did not grant (the tracker restarted): it
    // stays busy until it stops reporting that lease.
    free_agents_[info.key].erase(agent.order);
    agent.lease_id = active_leases.front();
    agent.client_id = "(granted before a tracker restart)";
    agent.lease_seen = true;
    agent.lease_granted = now;
    agent.lease_expires = now + options_.lease_duration;
    agent.since = now;
    lease_agent_[agent.lease_id] = info.agent_id;
  } else {
    free_agents_[info.key][agent.order] = info.agent_id;
  }
  if (agent.lease_id == 0) ScheduleAgent(agent, now, &events);
  return events;
}

SchedulerEvents Scheduler::RemoveAgent(const std::string& agent_id, TimePoint now) {
  SchedulerEvents events;
  DropAgent(agent_id, now, &events);
  return events;
}

void Scheduler::DropAgent(const std::string& agent_id, TimePoint now, SchedulerEvents* events) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return;
  Agent& agent = it->second;
  if (agent.lease_id != 0) lease_agent_.erase(agent.lease_id);
  auto free_it = free_agents_.find(agent.info.key);
  if (free_it != free_agents_.end()) {
    free_it->second.erase(agent.order);
    if (free_it->second.empty()) free_agents_.erase(free_it);
  }
  events->lost_agents.push_back(agent_id);
  agents_.erase(it);
  (void)now;
}

void Scheduler::EndLease(Agent& agent, TimePoint now) {
  lease_agent_.erase(agent.lease_id);
  agent.lease_id = 0;
  agent.client_id.clear();
  agent.connection.clear();
  agent.lease_seen = false;
  agent.since = now;
  free_agents_[agent.info.key][agent.order] = agent.info.agent_id;
}

StatusOr<uint64_t> Scheduler::Submit(RequestSpec spec, TimePoint now, SchedulerEvents* events) {
  if (spec.key.empty()) return InvalidArgumentError("a request needs a key");
  if (spec.expires <= now) return InvalidArgumentError("the request's timeout has already passed");
  const uint64_t id = next_request_id_++;
  const std::string key = spec.key;
  queues_[key].insert({spec.priority, id});
  requests_.emplace(id, Request{std::move(spec), id, now});
  ScheduleRequest(id, now, events);
  return id;
}

bool Scheduler::Cancel(uint64_t request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return false;
  auto queue = queues_.find(it->second.spec.key);
  queue->second.erase({it->second.spec.priority, request_id});
  if (queue->second.empty()) queues_.erase(queue);
  requests_.erase(it);
  return true;
}

Status Scheduler::ReleaseLease(uint64_t lease_id, const std::string& client_id,
                               const std::string& connection, TimePoint now,
                               SchedulerEvents* events) {
  auto it = lease_agent_.find(lease_id);
  if (it == lease_agent_.end()) {
    return NotFoundError("lease " + std::to_string(lease_id) + " is not active");
  }
  Agent& agent = agents_.at(it->second);
  // A lease learnt from a heartbeat after a restart has no connection: no one may release it.
  if (agent.connection.empty() || agent.client_id != client_id ||
      agent.connection != connection) {
    return PermissionDeniedError("lease " + std::to_string(lease_id) +
                                 " was granted to another client");
  }
  EndLease(agent, now);
  ScheduleAgent(agent, now, events);
  return Status::Ok();
}

void Scheduler::ReleaseConnection(const std::string& connection, TimePoint now,
                                  SchedulerEvents* events) {
  if (connection.empty()) return;
  std::vector<uint64_t> cancelled;
  for (const auto& [id, request] : requests_) {
    if (request.spec.connection == connection) cancelled.push_back(id);
  }
  for (uint64_t id : cancelled) Cancel(id);
  // End every lease first, then schedule: agents freed together are served in registration
  // order, not in lease_agent_'s hash order.
  std::vector<Agent*> leased;
  for (const auto& [lease, agent_id] : lease_agent_) {
    Agent& agent = agents_.at(agent_id);
    if (agent.connection == connection) leased.push_back(&agent);
  }
  std::set<std::string> keys;
  for (Agent* agent : leased) {
    EndLease(*agent, now);
    keys.insert(agent->info.key);
  }
  for (const std::string& key : keys) Schedule(key, now, events);
}

void Scheduler::GrantLease(Agent& agent, uint64_t request_id, TimePoint now,
                           SchedulerEvents* events) {
  Request& request = requests_.at(request_id);
  free_agents_[agent.info.key].erase(agent.order);
  if (free_agents_[agent.info.key].empty()) free_agents_.erase(agent.info.key);
  agent.lease_id = next_lease_id_++;
  agent.client_id = request.spec.client_id;
  agent.connection = request.spec.connection;
  agent.lease_expires = now + options_.lease_duration;
  agent.lease_granted = now;
  agent.lease_seen = false;
  agent.since = now;
  lease_agent_[agent.lease_id] = agent.info.agent_id;
  events->grants.push_back(Grant{request.request_id, agent.lease_id, request.spec.client_id,
                                 agent.info, agent.lease_expires});
  Cancel(request_id);
}

void Scheduler::ScheduleRequest(uint64_t request_id, TimePoint now, SchedulerEvents* events) {
  const Request& request = requests_.at(request_id);
  auto free_it = free_agents_.find(request.spec.key);
  if (free_it == free_agents_.end()) return;
  for (const auto& [order, agent_id] : free_it->second) {
    Agent& agent = agents_.at(agent_id);
    if (TagsMatch(request.spec.tags, agent.info.tags)) {
      GrantLease(agent, request_id, now, events);
      return;
    }
  }
}

void Scheduler::ScheduleAgent(Agent& agent, TimePoint now, SchedulerEvents* events) {
  auto queue_it = queues_.find(agent.info.key);
  if (queue_it == queues_.end()) return;
  for (const auto& [priority, request_id] : queue_it->second) {
    if (TagsMatch(requests_.at(request_id).spec.tags, agent.info.tags)) {
      GrantLease(agent, request_id, now, events);
      return;
    }
  }
}

void Scheduler::Schedule(const std::string& key, TimePoint now, SchedulerEvents* events) {
  auto queue_it = queues_.find(key);
  if (queue_it == queues_.end()) return;
  std::vector<uint64_t> in_order;
  for (const auto& [priority, request_id] : queue_it->second) in_order.push_back(request_id);
  for (uint64_t request_id : in_order) {
    if (free_agents_.count(key) == 0) return;
    ScheduleRequest(request_id, now, events);
  }
}

SchedulerEvents Scheduler::Tick(TimePoint now) {
  SchedulerEvents events;
  std::vector<uint64_t> expired;
  for (const auto& [id, request] : requests_) {
    if (request.spec.expires <= now) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    Cancel(id);
    events.expired_requests.push_back(id);
  }
  const auto silence = options_.heartbeat_interval * options_.missed_beats;
  std::vector<std::string> silent;
  std::set<std::string> keys;
  for (auto& [id, agent] : agents_) {
    if (now - agent.last_heartbeat > silence) {
      silent.push_back(id);
      continue;
    }
    if (agent.lease_id != 0 &&
        (agent.lease_expires <= now ||
         (!agent.lease_seen && now - agent.lease_granted > options_.connect_grace))) {
      EndLease(agent, now);
      keys.insert(agent.info.key);
    }
  }
  for (const std::string& id : silent) DropAgent(id, now, &events);
  for (const std::string& key : keys) Schedule(key, now, &events);
  return events;
}

SchedulerSummary Scheduler::Summary() const {
  SchedulerSummary summary;
  for (const auto& [id, agent] : agents_) {
    summary.agents.push_back(AgentSummary{agent.info, agent.lease_id != 0, agent.client_id,
                                          agent.lease_id, agent.since, agent.last_heartbeat});
  }
  std::sort(summary.agents.begin(), summary.agents.end(), [&](const auto& a, const auto& b) {
    if (a.info.key != b.info.key) return a.info.key < b.info.key;
    return agents_.at(a.info.agent_id).order < agents_.at(b.info.agent_id).order;
  });
  for (const auto& [key, queue] : queues_) {
    for (const auto& [priority, id] : queue) {
      const Request& r = requests_.at(id);
      summary.queue.push_back(
          QueuedRequest{id, r.spec.client_id, key, priority, r.submitted, r.spec.expires});
    }
  }
  return summary;
}

}  // namespace ferry::tracker
