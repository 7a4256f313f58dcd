// LocalCluster: a tracker and device agents on loopback ports, served by threads of this
// process (their session workers are ferry-agent processes), for `ferry demo`. Everything it
// started stops when it is destroyed, also after a failed step.
#ifndef FERRY_CLI_LOCAL_CLUSTER_H_
#define FERRY_CLI_LOCAL_CLUSTER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "device_agent/agent.h"
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

 private:
  LocalCluster() = default;
  std::atomic<bool> stop_{false};
  std::unique_ptr<tracker::TrackerServer> tracker_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
  std::vector<std::thread> threads_;  // joined before the servers are destroyed
};

}  // namespace ferry::cli

#endif  // FERRY_CLI_LOCAL_CLUSTER_H_
