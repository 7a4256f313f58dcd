#include "tracker/agent_replay_guard.h"

#include <vector>

namespace ferry::tracker {

Status AgentReplayGuard::Accept(const std::string& agent_id, const std::string& public_key,
                                rpc::SignedStamp stamp, int64_t now_ms) {
  Prune(now_ms);
  if (stamp.wall_ms < now_ms - window_ms_ || stamp.wall_ms > now_ms + window_ms_) {
    return PermissionDeniedError("stale or future message: its clock is " +
                                 std::to_string(stamp.wall_ms - now_ms) +
                                 " ms from the tracker's (at most " +
                                 std::to_string(window_ms_) + " ms allowed)");
  }
  auto it = seen_.find(agent_id);
  if (it != seen_.end()) {
    if (it->second.public_key != public_key) {
      return PermissionDeniedError("agent id " + agent_id + " belongs to another key");
    }
    if (stamp.sequence <= it->second.sequence) {
      return PermissionDeniedError("replayed message: sequence " + std::to_string(stamp.sequence) +
                                   " is not above " + std::to_string(it->second.sequence));
    }
  }
  seen_[agent_id] = Seen{stamp.sequence, now_ms, public_key};
  return Status::Ok();
}

void AgentReplayGuard::Prune(int64_t now_ms) {
  if (now_ms < next_prune_ms_) return;
  next_prune_ms_ = now_ms + window_ms_ / 4;
  // A message accepted at t carried a clock of at most t + window; once now is past
  // t + 2 * window, that message (or an older one) is outside the window.
  std::vector<std::string> forgotten;
  for (const auto& [id, seen] : seen_) {
    if (seen.accepted_ms + 2 * window_ms_ < now_ms) forgotten.push_back(id);
  }
  for (const std::string& id : forgotten) seen_.erase(id);
}

}  // namespace ferry::tracker
