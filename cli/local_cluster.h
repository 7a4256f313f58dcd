// LocalCluster: a tracker and device agents on loopback ports, served by threads of this
// process (their session workers are ferry-agent processes), for `ferry demo`. Everything it
// started stops when it is destroyed, also after a failed step.
//
// It is secured as a real deployment is: every component gets a CURVE identity of its own,
// written under `<work_dir>/keys` (`ferry keygen`'s format); the tracker admits the agents'
// keys as agents and the client's as a client, the agents admit the client's key, and every
// connection (client-tracker, agent-tracker, client-agent, client-worker) is encrypted and
// authenticated. client_options() connects as that client.
#ifndef FERRY_CLI_LOCAL_CLUSTER_H_
#define FERRY_CLI_LOCAL_CLUSTER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "device_agent/agent.h"
#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "tracker/tracker_server.h"

namespace ferry::cli {

class LocalCluster {
 public:
  // Starts a tracker and `num_agents` agents registered under `key`, with state under
  // `work_dir`, session workers run by `agent_executable`. Waits (up to 10 s) until the
  // tracker knows every agent. Errors: those of binding and starting.
  static StatusOr<std::unique_ptr<LocalCluster>> Start(const std::string& work_dir,
                                                       const std::string& agent_executable,
                                                       const std::string& key, int num_agents);
  ~LocalCluster();

  const std::string& tracker_endpoint() const { return tracker_->endpoint(); }
  std::vector<std::string> agent_endpoints() const;
  // Options that connect to the tracker as the cluster's client (CURVE, the tracker's key);
  // sessions opened through it trust the agent keys the tracker's grants carry.
  rpc::ConnectOptions client_options() const;
  const std::string& keys_dir() const { return keys_dir_; }

 private:
  LocalCluster() = default;
  std::atomic<bool> stop_{false};
  std::string keys_dir_;
  rpc::CurveKeyPair client_keys_;
  std::string tracker_public_key_;
  std::unique_ptr<tracker::TrackerServer> tracker_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
  std::vector<std::thread> threads_;  // joined before the servers are destroyed
};

}  // namespace ferry::cli

#endif  // FERRY_CLI_LOCAL_CLUSTER_H_
