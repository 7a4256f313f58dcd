// SealedRouter: the worker's end of a CURVE session's bulk connection (docs/protocol.md,
// "Bulk path"): a ROUTER socket of its own, plain ZMTP (NULL mechanism), over which every
// frame is sealed with AES-256-GCM under a fresh key (frame_sealer.h). The worker hands the
// port and the key to its client inside the CURVE-encrypted Hello reply, so only that client
// can produce messages that open.
//
// The router serves one connection: the first whose message opens binds it, as Hello binds
// the worker connection. Messages that do not open (garbage, a replayed or reordered frame, a
// wrong key) are dropped without a reply and change nothing; once bound, messages from any
// other connection are dropped unopened. One thread owns it, like its socket.
#ifndef FERRY_RPC_SEALED_ROUTER_H_
#define FERRY_RPC_SEALED_ROUTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "rpc/frame_sealer.h"
#include "rpc/frames.h"

namespace ferry::rpc {

// Largest sealed frame the router accepts; a larger one closes its connection (ZeroMQ's
// ZMQ_MAXMSGSIZE). Bulk requests carry chunks of kChunkBytes.
inline constexpr int64_t kMaxSealedFrameBytes = int64_t{16} << 20;

class SealedRouter {
 public:
  // Binds tcp://<host>:* in `context` with a fresh key. Errors: kUnavailable when the socket
  // cannot be bound; kInternal when no key can be made.
  static StatusOr<std::unique_ptr<SealedRouter>> Bind(zmq::context_t& context,
                                                      const std::string& host);

  uint16_t port() const { return port_; }
  const std::string& endpoint() const { return endpoint_; }
  // The 32-byte key, to hand to the client over an authenticated channel only.
  const std::string& key() const { return key_; }
  // For zmq::poll.
  zmq::socket_t& socket() { return socket_; }
  bool bound() const { return bound_; }

  // Takes one queued message without waiting. Returns its opened frames when it came from
  // the bound connection (or binds the router) and opened; nullopt when nothing was queued
  // or the message was dropped, with the reason in `*dropped` in the latter case.
  std::optional<Frames> Receive(std::string* dropped);

  // Seals `frames` and sends them to the bound connection without waiting. Returns false
  // with the reason in `*error` when not bound, when sealing fails, or when ZeroMQ refuses.
  bool Reply(const Frames& frames, std::string* error);

 private:
  SealedRouter(zmq::socket_t socket, std::string key, MessageSealer sealer, MessageOpener opener)
      : socket_(std::move(socket)),
        key_(std::move(key)),
        sealer_(std::move(sealer)),
        opener_(std::move(opener)) {}

  zmq::socket_t socket_;
  std::string key_;
  MessageSealer sealer_;
  MessageOpener opener_;
  std::string endpoint_;
  uint16_t port_ = 0;
  bool bound_ = false;
  std::string identity_;  // the bound connection's routing id
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SEALED_ROUTER_H_
