// TrackerClient: asks a tracker for a device agent by key and opens a session on it.
//
//   auto tracker = ferry::rpc::ConnectTracker("tcp://127.0.0.1:9191").value();
//   ferry::rpc::RemoteSession remote = tracker.Request("cpu-x86", {.priority = 1}).value();
//
// Request waits (up to its timeout) until an agent of that key is free, then connects with
// the grant's ticket. The lease ends when the session ends.
#ifndef FERRY_RPC_TRACKER_CLIENT_H_
#define FERRY_RPC_TRACKER_CLIENT_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rpc/client_session.h"

namespace ferry::rpc {

struct DeviceRequest {
  int priority = 0;  // higher is served first
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  std::map<std::string, std::string> tags;  // the agent must carry all of them
};

struct TrackerAgentStatus {
  std::string agent_id, key, address;
  struct Device {
    std::string type;
    int count = 0;
    uint64_t memory = 0;
    std::string name;
  };
  std::vector<Device> devices;
  std::map<std::string, std::string> tags;
  bool busy = false;
  std::string client_id;
  uint64_t lease_id = 0;
  int64_t since_ms = 0;           // busy (or free) for this long
  int64_t last_heartbeat_ms = 0;  // this long ago
};

struct TrackerQueueEntry {
  uint64_t request_id = 0;
  std::string client_id, key;
  int priority = 0;
  int64_t waited_ms = 0;
  int64_t expires_in_ms = 0;
};

struct TrackerStatus {
  std::vector<TrackerAgentStatus> agents;
  std::vector<TrackerQueueEntry> queue;
};

class TrackerClient {
 public:
  // Asks for an agent of `key` and opens a session on it. With a CURVE identity in the
  // options (options.channel.curve_identity), the session is opened with CURVE to the public
  // key the grant names for the agent (the tracker vouches for it). Errors:
  // kDeadlineExceeded when no agent became free within request.timeout (the request is
  // cancelled); kUnavailable when the tracker does not answer; kPermissionDenied when the
  // client uses CURVE and the grant names no key for the agent; errors of opening the
  // session. The lease is released when the session cannot be opened. When the connection
  // to the tracker is lost (it died or restarted: its queue went with it), the request is
  // sent again on a new connection under options.retry, within request.timeout.
  StatusOr<RemoteSession> Request(const std::string& key, const DeviceRequest& request);

  // Runs `fn` on a granted session; when the session is lost (kUnavailable: its agent or
  // worker died), requests another agent and runs `fn` again, up to `max_attempts` times.
  Status RequestAndRun(const std::string& key, const DeviceRequest& request,
                       const std::function<Status(RemoteSession&)>& fn, int max_attempts = 3);

  // Agents and queued requests (retried like Request when the connection is lost). Errors:
  // kUnavailable / kDeadlineExceeded.
  StatusOr<TrackerStatus> GetStatus();

  const std::string& endpoint() const { return endpoint_; }

  // Called on the waiting thread about every 100 ms while a call waits for the tracker (a
  // language binding checks for Ctrl-C there). When it returns false the call stops waiting
  // with kDeadlineExceeded ("interrupted"), and a queued device request is cancelled at the
  // tracker. Unset (the default): calls wait until their deadline.
  void set_keep_waiting(std::function<bool()> keep_waiting) {
    keep_waiting_ = std::move(keep_waiting);
  }

 private:
  friend StatusOr<TrackerClient> ConnectTracker(const std::string&, const ConnectOptions&);
  // Makes a new connection to the tracker (the first, and each after one is lost).
  using ChannelFactory = std::function<StatusOr<std::unique_ptr<Channel>>()>;
  TrackerClient(std::unique_ptr<Channel> channel, ChannelFactory connect, std::string endpoint,
                ConnectOptions options)
      : channel_(std::move(channel)),
        connect_(std::move(connect)),
        endpoint_(std::move(endpoint)),
        options_(std::move(options)) {}
  // Sends a request and waits for the reply with its id until `deadline`.
  StatusOr<ParsedMessage> Call(MessageWriter request, uint64_t id, Deadline deadline);
  // Call for a request that may be asked twice: on kUnavailable (the connection was lost) it
  // reconnects and sends `make(new id)` again under options_.retry, until `deadline`.
  // `*id` is the id of the last attempt's request.
  StatusOr<ParsedMessage> CallIdempotent(const std::function<MessageWriter(uint64_t id)>& make,
                                         Deadline deadline, uint64_t* id);

  std::unique_ptr<Channel> channel_;
  ChannelFactory connect_;
  std::string endpoint_;
  ConnectOptions options_;
  uint64_t next_request_id_ = 1;
  std::function<bool()> keep_waiting_;
  bool interrupted_ = false;  // the last Call stopped because keep_waiting_ said so
};

// Connects to the tracker at `endpoint` (asynchronously; errors come with the first call).
// The tracker connection uses `options.channel` as given (under CURVE, curve_server_key is
// the tracker's key). `options` also serve the sessions opened through it, each with the
// granted agent's key as curve_server_key.
StatusOr<TrackerClient> ConnectTracker(const std::string& endpoint,
                                       const ConnectOptions& options = {});

}  // namespace ferry::rpc

#endif  // FERRY_RPC_TRACKER_CLIENT_H_
