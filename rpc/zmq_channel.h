// ZmqChannel: a Channel over a ZeroMQ DEALER socket connected to one ROUTER endpoint.
//
// A socket monitor watches the connection: once connected, a disconnect makes Receive (and
// Send) fail with kUnavailable, so a dead peer is noticed at once rather than at the
// deadline. TCP keepalive-style ZMTP heartbeats detect peers that vanish without closing.
//
// With a CURVE identity the connection is encrypted and both ends authenticated. ZeroMQ
// itself only retries a refused handshake in silence; the channel watches for the failure
// and makes Send and Receive fail with kPermissionDenied at once, naming the likely cause
// (our key is not authorized there, or the server's key is not the one we expect).
// The channel owns its socket; use it from one thread at a time.
#ifndef FERRY_RPC_ZMQ_CHANNEL_H_
#define FERRY_RPC_ZMQ_CHANNEL_H_

#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "rpc/channel.h"
#include "rpc/curve_keys.h"

namespace ferry::rpc {

struct ZmqChannelOptions {
  // Messages larger than this are dropped by ZeroMQ (and the connection closed).
  int64_t max_message_bytes = int64_t{1} << 30;
  int heartbeat_interval_ms = 1000;
  int heartbeat_timeout_ms = 5000;
  // CURVE: this side's key pair and the server's public key (Z85). Without an identity the
  // connection is plaintext (NULL mechanism); with one, curve_server_key is required.
  std::optional<CurveKeyPair> curve_identity;
  std::string curve_server_key;
};

class ZmqChannel final : public Channel {
 public:
  // Connects to `endpoint` (e.g. "tcp://127.0.0.1:9000"). Connection is asynchronous: this
  // only fails for a malformed endpoint or an identity without a server key
  // (kInvalidArgument).
  // The channel keeps `context` alive.
  static StatusOr<std::unique_ptr<ZmqChannel>> Connect(std::shared_ptr<zmq::context_t> context,
                                                       const std::string& endpoint,
                                                       const ZmqChannelOptions& options = {});
  ~ZmqChannel() override;

  Status Send(Frames frames, Deadline deadline) override;
  StatusOr<std::optional<Frames>> Receive(Deadline deadline) override;

  const std::string& endpoint() const { return endpoint_; }

 private:
  ZmqChannel(std::shared_ptr<zmq::context_t> context, zmq::socket_t socket, zmq::socket_t monitor,
             std::string endpoint)
      : context_(std::move(context)),
        socket_(std::move(socket)),
        monitor_(std::move(monitor)),
        endpoint_(std::move(endpoint)) {}
  // Reads pending monitor events; records connect/disconnect and handshake outcomes.
  void DrainMonitor();
  // The error Send/Receive report once the connection is lost or refused; OK while usable.
  Status ConnectionError() const;

  std::shared_ptr<zmq::context_t> context_;  // outlives the sockets
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  std::string endpoint_;
  bool connected_ = false;
  bool disconnected_ = false;
  bool curve_ = false;
  bool handshake_succeeded_ = false;
  // Why the security handshake failed; empty while it has not.
  std::string handshake_failure_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_ZMQ_CHANNEL_H_
