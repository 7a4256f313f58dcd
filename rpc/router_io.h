// Receiving from and replying through a ZeroMQ ROUTER socket (agent, session worker,
// tracker): a message is the peer's identity frame followed by the message's frames.
#ifndef FERRY_RPC_ROUTER_IO_H_
#define FERRY_RPC_ROUTER_IO_H_

#include <optional>
#include <string>
#include <zmq.hpp>

#include "rpc/protocol.h"

namespace ferry::rpc {

struct RoutedMessage {
  std::string identity;  // the sending peer
  Frames frames;         // the message, without the identity frame
};

// The next queued message, or nullopt when none is queued (never waits).
std::optional<RoutedMessage> ReceiveRouted(zmq::socket_t& router);

// Sends `frames` to the peer `identity` without waiting. Returns false with the reason in
// `*error` when ZeroMQ refuses: the peer is gone (with ZMQ_ROUTER_MANDATORY) or its queue is
// full. Never throws.
bool SendRouted(zmq::socket_t& router, const std::string& identity, Frames frames,
                std::string* error);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_ROUTER_IO_H_
