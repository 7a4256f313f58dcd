// AgentReplayGuard: whether a signed agent message (rpc/agent_heartbeat.h) is fresh. The
// signature proves a holder of the shared secret wrote the message; this proves it is not an
// old one sent again, and that an agent id stays with the key that first used it.
//
// A message from agent A with stamp (sequence, wall_ms) and public key K is accepted when
//   - wall_ms is within `window` of the receiver's clock (either way), so a message captured
//     now cannot be replayed after the receiver forgot A (a restart, or A gone for long);
//   - sequence is above the last accepted sequence of A;
//   - K equals the key of A's earlier accepted messages.
// Agents silent for twice the window are forgotten (their old messages are stale by then), so
// memory is bounded by the agents of the last two windows. Pure logic: the clock is an
// argument. Not thread-safe.
#ifndef FERRY_TRACKER_AGENT_REPLAY_GUARD_H_
#define FERRY_TRACKER_AGENT_REPLAY_GUARD_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "rpc/agent_heartbeat.h"
#include "runtime/status.h"

namespace ferry::tracker {

class AgentReplayGuard {
 public:
  explicit AgentReplayGuard(std::chrono::milliseconds window = std::chrono::seconds(60))
      : window_ms_(window.count()) {}

  // Accepts (and remembers) the message or refuses it, changing nothing. Errors:
  // kPermissionDenied naming the reason: replayed (sequence not above the last), stale or
  // from the future (outside the window), agent id of another key.
  Status Accept(const std::string& agent_id, const std::string& public_key,
                rpc::SignedStamp stamp, int64_t now_ms);

  size_t size() const { return seen_.size(); }

 private:
  struct Seen {
    uint64_t sequence = 0;
    int64_t accepted_ms = 0;  // the receiver's clock when the last message was accepted
    std::string public_key;
  };
  void Prune(int64_t now_ms);

  int64_t window_ms_;
  int64_t next_prune_ms_ = 0;
  std::unordered_map<std::string, Seen> seen_;
};

}  // namespace ferry::tracker

#endif  // FERRY_TRACKER_AGENT_REPLAY_GUARD_H_
