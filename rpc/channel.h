// Channel: the transport seam under a session: ordered delivery of whole multipart messages
// to one peer. ZmqChannel is the real one; InMemoryChannel pairs are the fake that protocol
// tests run against.
#ifndef FERRY_RPC_CHANNEL_H_
#define FERRY_RPC_CHANNEL_H_

#include <chrono>
#include <optional>

#include "rpc/frames.h"
#include "rpc/protocol.h"
#include "runtime/status.h"

namespace ferry::rpc {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// Milliseconds from now until `deadline`, clamped to [0, UINT32_MAX].
uint32_t MillisecondsUntil(Deadline deadline);

class Channel {
 public:
  virtual ~Channel() = default;

  // Queues one message for the peer. Errors: kUnavailable when the channel is closed or the
  // peer is known to be gone; kDeadlineExceeded when it cannot be queued before `deadline`.
  virtual Status Send(Frames frames, Deadline deadline) = 0;

  // The next message, or nullopt when none arrives before `deadline`. Errors: kUnavailable
  // when the peer has disconnected (after having been connected) or the channel is closed.
  virtual StatusOr<std::optional<Frames>> Receive(Deadline deadline) = 0;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_CHANNEL_H_
