// An in-memory Channel pair for tests: what one end sends the other receives, in order.
// Destroying or closing one end makes the other's Receive fail with kUnavailable once its
// queue is drained. Thread-safe: each end may be used from a different thread.
#ifndef FERRY_RPC_IN_MEMORY_CHANNEL_H_
#define FERRY_RPC_IN_MEMORY_CHANNEL_H_

#include <memory>
#include <utility>

#include "rpc/channel.h"

namespace ferry::rpc {

std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>> MakeInMemoryChannelPair();

}  // namespace ferry::rpc

#endif  // FERRY_RPC_IN_MEMORY_CHANNEL_H_
