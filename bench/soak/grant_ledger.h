// What a soak checks about grants: no lease id is granted twice, and no agent is granted
// while it still holds a lease that was not released.
//
// GrantLedger records the grants the harness sees itself (raw grants of simulated agents,
// released at once). Thread-safe. A client records its release *before* it sends
// ReleaseLease, so a later grant of the same agent is never mistaken for a duplicate.
//
// AuditAgentLog reads a real ferry-agent's event log (util/event_log.h): its `session_open`
// lines (with the lease) and `session_end` lines. One agent under a tracker serves one lease
// at a time, so two open sessions on one agent mean the tracker granted it twice.
#ifndef FERRY_BENCH_SOAK_GRANT_LEDGER_H_
#define FERRY_BENCH_SOAK_GRANT_LEDGER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ferry::soak {

class GrantLedger {
 public:
  // A grant of `lease_id` on `agent_id`. Returns false (and records why in duplicates())
  // when the lease id was seen before or the agent still holds an unreleased lease.
  bool Grant(const std::string& agent_id, uint64_t lease_id);
  // The client is done with the lease (call before sending ReleaseLease).
  void Release(const std::string& agent_id, uint64_t lease_id);
  // A lease seen elsewhere (a real agent's log): counts as a duplicate when seen before.
  bool SeeLease(uint64_t lease_id, const std::string& where);

  int64_t grants() const;
  int64_t leases_seen() const;
  std::vector<std::string> duplicates() const;

 private:
  mutable std::mutex mutex_;
  std::set<uint64_t> leases_;
  std::map<std::string, uint64_t> held_;  // agent -> its unreleased lease
  int64_t grants_ = 0;
  std::vector<std::string> duplicates_;
};

struct AgentLogAudit {
  int64_t sessions_opened = 0;
  int64_t sessions_ended = 0;
  std::vector<std::string> overlaps;       // a session opened while another was open
  std::vector<std::string> still_open;     // opened, never ended
  std::map<std::string, uint64_t> leases;  // session id -> its lease
};

// Audits the text of one agent's log (named `agent` in the messages).
AgentLogAudit AuditAgentLog(const std::string& agent, const std::string& log_text);

// The value of field `name` in an event-log line (`... name=value ...`, maybe quoted), or "".
std::string EventField(const std::string& line, const std::string& name);

}  // namespace ferry::soak

#endif  // FERRY_BENCH_SOAK_GRANT_LEDGER_H_
