// Receiving from and replying through a ZeroMQ ROUTER socket (agent, session worker,
// tracker): a message is the peer's identity frame followed by the message's frames.
#ifndef FERRY_RPC_ROUTER_IO_H_
#define FERRY_RPC_ROUTER_IO_H_

#include <optional>
#include <string>
#include <zmq.hpp>

#include "rpc/frames.h"

namespace ferry::rpc {

struct RoutedMessage {
  std::string identity;  // the sending connection's routing id
  // The peer's CURVE public key (Z85) as its ZAP handler admitted it; empty on a plaintext
  // connection. Unlike the routing id, a peer cannot choose it.
  std::string peer_key;
  // The file descriptor of the connection (ZMQ_SRCFD), as socket monitor events name it; -1
  // when unknown.
  int connection_fd = -1;
  // The peer's IP address as ZeroMQ reports it ("Peer-Address"); empty when unknown.
  std::string peer_address;
  Frames frames;  // the message, without the identity frame
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
