// Agent: the device agent's listener. It answers OpenSession by starting a session worker
// process and handing the client that worker's endpoint and a one-time token; after that
// the client talks to the worker directly. It reaps workers, remembers why each session
// ended (so a client can ask, e.g. "session worker died: SIGSEGV"), removes the session's
// directory, and logs every session.
#ifndef FERRY_DEVICE_AGENT_AGENT_H_
#define FERRY_DEVICE_AGENT_AGENT_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "device_agent/session_worker.h"
#include "rpc/curve_keys.h"
#include "rpc/message.h"
#include "rpc/router_io.h"
#include "rpc/zap_handler.h"

namespace ferry::agent {

struct AgentConfig {
  std::string listen = "tcp://127.0.0.1:9190";
  // Holds cache/ (uploads by SHA-256, shared) and sessions/ (one directory per session).
  std::string work_dir;
  // The executable to run as a session worker (this program).
  std::string worker_executable;
  std::chrono::milliseconds session_timeout{std::chrono::minutes(5)};
  // A session whose client has not said Hello within this ends (and frees its slot).
  std::chrono::milliseconds hello_timeout{std::chrono::seconds(10)};
  // A call running this long past its caller's deadline ends with its worker.
  std::chrono::milliseconds call_grace{std::chrono::seconds(5)};
  int max_sessions = 64;
  // Sessions not yet claimed with Hello that one peer (CURVE key, else IP address) may hold.
  int max_unclaimed_per_peer = 4;
  int64_t max_message_bytes = int64_t{1} << 30;
  uint64_t max_upload_bytes = uint64_t{16} << 30;
  // Upload cache size limit (LRU eviction of content no session uses) and per-session disk
  // quota; 0: unlimited.
  uint64_t cache_max_bytes = 0;
  uint64_t session_quota_bytes = 0;
  // Workers' resource limits (0: unlimited address space).
  uint64_t worker_max_address_space = 0;
  uint64_t worker_max_open_files = 1024;
  // Kernel threads of each session worker (runtime/kernel_threads.h); a session may change
  // its own with "ferry.set_threads". 0: the worker's default (FERRY_NUM_THREADS, else the
  // CPU count).
  int worker_threads = 0;

  // CURVE: with an identity, the listener and every session worker encrypt and admit only
  // `client_keys`; a session's worker admits only the key that opened it.
  std::optional<rpc::CurveKeyPair> identity;
  rpc::AuthorizedKeys client_keys;
  // Allow plaintext on a non-loopback listen address.
  bool insecure = false;

  // Under a tracker (tracker endpoint non-empty): the agent registers under `key` with its
  // devices and `tags`, heartbeats, and refuses sessions without a valid ticket signed with
  // `secret`.
  std::string tracker;
  std::string key;
  std::map<std::string, std::string> tags;
  std::string secret;
  // The tracker's CURVE public key; required with an identity and a tracker.
  std::string tracker_key;
  // Where clients reach this agent (default: the bound endpoint).
  std::string advertise;
  std::chrono::milliseconds heartbeat_interval{1000};
};

class Agent {
 public:
  // Binds the listener. Errors: kInvalidArgument for a bad endpoint or incomplete keys,
  // kPermissionDenied for a non-loopback address without an identity or `insecure`,
  // kUnavailable when the address is taken.
  static StatusOr<std::unique_ptr<Agent>> Create(AgentConfig config);
  ~Agent();

  // The bound endpoint, with the real port when the config asked for port 0 or '*'.
  const std::string& endpoint() const { return endpoint_; }

  // Serves until `stop` becomes true, then ends every session.
  Status Serve(const std::atomic<bool>& stop);

 private:
  struct Session {
    pid_t pid = -1;
    std::string worker_endpoint;
    std::chrono::steady_clock::time_point started;
    uint64_t lease_id = 0;  // under a tracker
    std::string peer;       // who opened it: CURVE key fingerprint, else IP address
    int report_fd = -1;     // the worker's report pipe (closed at EndSession)
    bool claimed = false;   // its client said Hello
  };

  Agent(AgentConfig config, std::string bind_host);
  std::optional<rpc::Frames> HandleRequest(rpc::RoutedMessage request);
  StatusOr<rpc::Frames> OpenSession(const rpc::ParsedMessage& m, const rpc::RoutedMessage& from);
  StatusOr<rpc::Frames> SessionStatus(const rpc::ParsedMessage& m);
  // Reaps exited workers.
  void ReapWorkers();
  // Reads the workers' report pipes: marks sessions whose client said Hello.
  void ReadWorkerReports();
  // Sessions of `peer` not yet claimed with Hello.
  int UnclaimedSessionsOf(const std::string& peer) const;
  void EndSession(const std::string& id, const std::string& reason);
  void StopAllSessions();
  // Checks an OpenSession's ticket when serving under a tracker; returns its lease id.
  // With CURVE, the ticket must name the key of the client that presents it.
  StatusOr<uint64_t> CheckTicket(const rpc::ParsedMessage& m, const std::string& client_key);
  void SendHeartbeat();
  // This agent's CURVE public key (Z85); empty without an identity.
  std::string PublicKey() const { return config_.identity ? config_.identity->public_key : ""; }
  void SendToTracker(rpc::Frames frames);
  // Logs changes of the tracker link's handshake state (up, refused, failed).
  void WatchTrackerLink();

  AgentConfig config_;
  std::string bind_host_;
  zmq::context_t context_{1};
  std::unique_ptr<rpc::ZapHandler> zap_;  // with an identity; before the sockets it serves
  zmq::socket_t listener_;
  std::string endpoint_;
  std::map<std::string, Session> sessions_;
  // Why recent sessions ended, for SessionStatus; bounded.
  std::map<std::string, std::string> ended_;
  std::deque<std::string> ended_order_;

  std::string agent_id_;
  std::optional<zmq::socket_t> tracker_;
  std::optional<zmq::socket_t> tracker_monitor_;  // the link's handshake events
  std::string tracker_link_state_;
  std::chrono::steady_clock::time_point next_heartbeat_;
  // Leases whose tickets were used, with their expiry (wall-clock ms): a ticket opens one
  // session only.
  std::map<uint64_t, int64_t> used_leases_;
};

}  // namespace ferry::agent

#endif  // FERRY_DEVICE_AGENT_AGENT_H_
