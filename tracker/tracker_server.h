// TrackerServer: the tracker's socket side around the Scheduler. One ROUTER socket serves
// agents (heartbeats, goodbyes) and clients (device requests, cancellations, lease releases,
// status). A device request is answered when the scheduler grants it — with the agent's
// address and a signed ticket — or with DEADLINE_EXCEEDED when it expires. State is soft:
// a restarted tracker learns its agents from their next heartbeats.
#ifndef FERRY_TRACKER_TRACKER_SERVER_H_
#define FERRY_TRACKER_TRACKER_SERVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "rpc/message.h"
#include "tracker/scheduler.h"

namespace ferry::tracker {

struct TrackerConfig {
  std::string listen = "tcp://127.0.0.1:9191";
  // Shared with the agents; signs tickets. At least 16 bytes.
  std::string secret;
  SchedulerOptions scheduler;
  // How long a ticket stays valid for opening the session.
  std::chrono::milliseconds ticket_validity{std::chrono::seconds(60)};
  bool insecure = false;  // allow a non-loopback listen address
};

class TrackerServer {
 public:
  // Errors: kInvalidArgument (bad endpoint, short secret), kPermissionDenied (non-loopback
  // without insecure), kUnavailable (address taken).
  static StatusOr<std::unique_ptr<TrackerServer>> Create(TrackerConfig config);

  const std::string& endpoint() const { return endpoint_; }
  // Serves until `stop` is true.
  Status Serve(const std::atomic<bool>& stop);

 private:
  struct Pending {
    std::string identity;
    uint64_t client_request_id = 0;
  };
  explicit TrackerServer(TrackerConfig config);

  void Handle(const std::string& identity, rpc::Frames frames, TimePoint now);
  StatusOr<rpc::Frames> Heartbeat(const rpc::ParsedMessage& m, TimePoint now);
  // Queues a request; the reply is sent later by Deliver (or now for bad input).
  Status RequestDevice(const std::string& identity, const rpc::ParsedMessage& m, TimePoint now);
  StatusOr<rpc::Frames> CancelRequest(const std::string& identity, const rpc::ParsedMessage& m);
  StatusOr<rpc::Frames> StatusReport(const rpc::ParsedMessage& m, TimePoint now);
  // Sends grants and expiries. A grant whose client is gone is undone at once.
  void Deliver(const SchedulerEvents& events);
  // Returns false when the peer is no longer connected.
  bool Send(const std::string& identity, rpc::Frames frames);

  TrackerConfig config_;
  Scheduler scheduler_;
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::string endpoint_;
  std::map<uint64_t, Pending> pending_;  // scheduler request id -> who waits
};

// Hex of a ZeroMQ routing id: how the tracker names a client.
std::string ClientIdOf(const std::string& identity);

}  // namespace ferry::tracker

#endif  // FERRY_TRACKER_TRACKER_SERVER_H_
