// TrackerServer: the tracker's socket side around the Scheduler. One ROUTER socket serves
// agents (heartbeats, goodbyes) and clients (device requests, cancellations, lease releases,
// status). A device request is answered when the scheduler grants it — with the agent's
// address, a signed ticket and the agent's public key — or with DEADLINE_EXCEEDED when it
// expires. State is soft: a restarted tracker learns its agents from their next heartbeats.
//
// Who may do what:
//   - every request is refused UNIMPLEMENTED outside the protocol versions this build speaks
//     and DEADLINE_EXCEEDED with deadline_ms = 0; a one-way message (heartbeat, goodbye,
//     release) that is refused is dropped and logged, never answered;
//   - heartbeats and goodbyes must be signed with the shared secret and fresh
//     (AgentReplayGuard); others are dropped and logged;
//   - a lease is released, and a request cancelled, only from the connection (and, under
//     CURVE, the key) that requested it;
//   - under CURVE (config.identity) only peers of config.agent_keys heartbeat and say goodbye
//     (naming their own key), only peers of config.client_keys request, cancel and release,
//     and both may ask for status; a client is named by its public key (Z85). In plaintext a
//     client is named by an opaque digest of its connection's routing id.
#ifndef FERRY_TRACKER_TRACKER_SERVER_H_
#define FERRY_TRACKER_TRACKER_SERVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "rpc/curve_keys.h"
#include "rpc/message.h"
#include "rpc/router_io.h"
#include "rpc/zap_handler.h"
#include "tracker/agent_replay_guard.h"
#include "tracker/scheduler.h"

namespace ferry::tracker {

struct TrackerConfig {
  std::string listen = "tcp://127.0.0.1:9191";
  // Shared with the agents; signs tickets and agents' heartbeats. At least 16 bytes.
  std::string secret;
  SchedulerOptions scheduler;
  // How long a ticket stays valid for opening the session.
  std::chrono::milliseconds ticket_validity{std::chrono::seconds(60)};
  bool insecure = false;  // allow a non-loopback listen address without CURVE
  // How far the clock in an agent's signed message may be from the tracker's.
  std::chrono::milliseconds agent_clock_window{std::chrono::seconds(60)};
  // CURVE: the tracker's key pair. With it the socket admits only agent_keys and
  // client_keys (through a ZAP handler on the server's context) and gives each its role.
  std::optional<rpc::CurveKeyPair> identity;
  rpc::AuthorizedKeys agent_keys;
  rpc::AuthorizedKeys client_keys;
};

class TrackerServer {
 public:
  // Errors: kInvalidArgument (bad endpoint, short secret), kPermissionDenied (non-loopback
  // without CURVE or insecure), kUnavailable (address taken, ZAP handler not started).
  static StatusOr<std::unique_ptr<TrackerServer>> Create(TrackerConfig config);
  ~TrackerServer();

  const std::string& endpoint() const { return endpoint_; }
  bool curve() const { return config_.identity.has_value(); }
  // Serves until `stop` is true (checked at least every 50 ms). A signal interrupting the
  // wait is not an error.
  Status Serve(const std::atomic<bool>& stop);

 private:
  struct Pending {
    std::string identity;  // the connection
    std::string peer_key;  // its CURVE key, "" in plaintext
    uint64_t client_request_id = 0;
  };
  enum class Role { kAgent, kClient, kAnyone };
  explicit TrackerServer(TrackerConfig config);

  void Handle(rpc::RoutedMessage message, TimePoint now);
  // Version, deadline and role checks before a message is served.
  Status Admit(const rpc::ParsedMessage& m, const std::string& peer_key) const;
  Status CheckRole(Role role, rpc::MessageType type, const std::string& peer_key) const;
  // One-way messages: an error means the message was dropped (the caller logs it).
  Status Heartbeat(const rpc::ParsedMessage& m, const std::string& peer_key, TimePoint now);
  Status Goodbye(const rpc::ParsedMessage& m, const std::string& peer_key, TimePoint now);
  Status ReleaseLease(const rpc::RoutedMessage& from, const rpc::ParsedMessage& m, TimePoint now);
  // Queues a request; the reply is sent later by Deliver (or now for bad input).
  Status RequestDevice(const rpc::RoutedMessage& from, const rpc::ParsedMessage& m,
                       TimePoint now);
  StatusOr<rpc::Frames> CancelRequest(const rpc::RoutedMessage& from, const rpc::ParsedMessage& m);
  StatusOr<rpc::Frames> StatusReport(const rpc::ParsedMessage& m, TimePoint now);
  // Sends grants and expiries. A grant whose client is gone is undone at once.
  void Deliver(const SchedulerEvents& events);
  // Returns false when the peer is no longer connected.
  bool Send(const std::string& identity, rpc::Frames frames);
  // How requests, leases and tickets name the client of a connection: its CURVE key, or in
  // plaintext a keyed digest of the routing id (which status must not reveal: a peer may
  // choose its routing id, and could otherwise take over a departed client's).
  std::string ClientIdOf(const rpc::RoutedMessage& from) const;

  TrackerConfig config_;
  Scheduler scheduler_;
  AgentReplayGuard replay_guard_;
  std::string client_id_key_;  // random, keys the plaintext client-id digest
  zmq::context_t context_{1};
  std::unique_ptr<rpc::ZapHandler> zap_;  // under CURVE; stopped before the context closes
  zmq::socket_t socket_;
  std::string endpoint_;
  std::map<uint64_t, Pending> pending_;  // scheduler request id -> who waits
};

}  // namespace ferry::tracker

#endif  // FERRY_TRACKER_TRACKER_SERVER_H_
