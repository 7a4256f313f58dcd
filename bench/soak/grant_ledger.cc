#include "bench/soak/grant_ledger.h"

#include <sstream>

namespace ferry::soak {

bool GrantLedger::Grant(const std::string& agent_id, uint64_t lease_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++grants_;
  bool ok = true;
  if (!leases_.insert(lease_id).second) {
    duplicates_.push_back("lease " + std::to_string(lease_id) + " granted twice (again on " +
                          agent_id + ")");
    ok = false;
  }
  auto [it, fresh] = held_.emplace(agent_id, lease_id);
  if (!fresh) {
    duplicates_.push_back("agent " + agent_id + " granted lease " + std::to_string(lease_id) +
                          " while it held lease " + std::to_string(it->second));
    it->second = lease_id;
    ok = false;
  }
  return ok;
}

void GrantLedger::Release(const std::string& agent_id, uint64_t lease_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = held_.find(agent_id);
  if (it != held_.end() && it->second == lease_id) held_.erase(it);
}

bool GrantLedger::SeeLease(uint64_t lease_id, const std::string& where) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (leases_.insert(lease_id).second) return true;
  duplicates_.push_back("lease " + std::to_string(lease_id) + " granted twice (again " + where +
                        ")");
  return false;
}

int64_t GrantLedger::grants() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return grants_;
}

int64_t GrantLedger::leases_seen() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(leases_.size());
}

std::vector<std::string> GrantLedger::duplicates() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return duplicates_;
}

std::string EventField(const std::string& line, const std::string& name) {
  const std::string needle = " " + name + "=";
  const size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  size_t i = at + needle.size();
  std::string value;
  if (i < line.size() && line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      value += line[i];
    }
    return value;
  }
  const size_t end = line.find(' ', i);
  return line.substr(i, end == std::string::npos ? std::string::npos : end - i);
}

AgentLogAudit AuditAgentLog(const std::string& agent, const std::string& log_text) {
  AgentLogAudit audit;
  std::set<std::string> open;
  std::istringstream in(log_text);
  for (std::string line; std::getline(in, line);) {
    const std::string event = EventField(" " + line, "event");
    if (event == "session_open") {
      const std::string session = EventField(line, "session");
      ++audit.sessions_opened;
      if (!open.empty()) {
        audit.overlaps.push_back(agent + ": session " + session + " (lease " +
                                 EventField(line, "lease") + ") opened while session " +
                                 *open.begin() + " was open");
      }
      open.insert(session);
      audit.leases[session] = std::strtoull(EventField(line, "lease").c_str(), nullptr, 10);
    } else if (event == "session_end") {
      ++audit.sessions_ended;
      open.erase(EventField(line, "session"));
    }
  }
  for (const std::string& s : open) audit.still_open.push_back(agent + ": session " + s);
  return audit;
}

}  // namespace ferry::soak
