#include "cli/local_cluster.h"

#include <openssl/rand.h>

#include "rpc/tracker_client.h"

namespace ferry::cli {
namespace {

// A new key pair, also written to `<dir>/<name>` and `<dir>/<name>.pub`.
StatusOr<rpc::CurveKeyPair> NewIdentity(const std::string& dir, const std::string& name) {
  ASSIGN_OR_RETURN(rpc::CurveKeyPair keys, rpc::GenerateCurveKeyPair());
  RETURN_IF_ERROR(rpc::WriteCurveKeyPair(dir + "/" + name, keys, /*overwrite=*/true));
  return keys;
}

}  // namespace

StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(const std::string& work_dir,
                                                            const std::string& agent_executable,
                                                            const std::string& key,
                                                            int num_agents) {
  std::unique_ptr<LocalCluster> cluster(new LocalCluster());
  std::string secret(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) != 1) {
    return InternalError("the system random generator failed");
  }
  cluster->keys_dir_ = work_dir + "/keys";
  ASSIGN_OR_RETURN(rpc::CurveKeyPair tracker_keys, NewIdentity(cluster->keys_dir_, "tracker"));
  ASSIGN_OR_RETURN(cluster->client_keys_, NewIdentity(cluster->keys_dir_, "client"));
  cluster->tracker_public_key_ = tracker_keys.public_key;
  std::vector<rpc::CurveKeyPair> agent_keys;
  tracker::TrackerConfig tracker_config;
  for (int i = 0; i < num_agents; ++i) {
    ASSIGN_OR_RETURN(rpc::CurveKeyPair keys,
                     NewIdentity(cluster->keys_dir_, "agent" + std::to_string(i)));
    tracker_config.agent_keys[keys.public_key] = "agent" + std::to_string(i);
    agent_keys.push_back(std::move(keys));
  }
  tracker_config.client_keys[cluster->client_keys_.public_key] = "client";
  tracker_config.identity = tracker_keys;
  tracker_config.listen = "tcp://127.0.0.1:*";
  tracker_config.secret = secret;
  tracker_config.scheduler.heartbeat_interval = std::chrono::milliseconds(500);
  ASSIGN_OR_RETURN(cluster->tracker_, tracker::TrackerServer::Create(tracker_config));
  cluster->threads_.emplace_back([c = cluster.get()] { (void)c->tracker_->Serve(c->stop_); });

  for (int i = 0; i < num_agents; ++i) {
    agent::AgentConfig config;
    config.listen = "tcp://127.0.0.1:*";
    config.work_dir = work_dir + "/agent" + std::to_string(i);
    config.worker_executable = agent_executable;
    config.tracker = cluster->tracker_->endpoint();
    config.key = key;
    config.tags = {{"name", "demo-agent-" + std::to_string(i)}};
    config.secret = secret;
    config.heartbeat_interval = std::chrono::milliseconds(500);
    config.identity = agent_keys[static_cast<size_t>(i)];
    config.client_keys[cluster->client_keys_.public_key] = "client";
    config.tracker_key = tracker_keys.public_key;
    ASSIGN_OR_RETURN(std::unique_ptr<agent::Agent> agent, agent::Agent::Create(config));
    cluster->agents_.push_back(std::move(agent));
    cluster->threads_.emplace_back(
        [c = cluster.get(), a = cluster->agents_.back().get()] { (void)a->Serve(c->stop_); });
  }

  ASSIGN_OR_RETURN(rpc::TrackerClient client,
                   rpc::ConnectTracker(cluster->tracker_endpoint(), cluster->client_options()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    ASSIGN_OR_RETURN(rpc::TrackerStatus status, client.GetStatus());
    if (status.agents.size() == static_cast<size_t>(num_agents)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return DeadlineExceededError("the demo's agents did not register with its tracker in 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cluster;
}

LocalCluster::~LocalCluster() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
}

rpc::ConnectOptions LocalCluster::client_options() const {
  rpc::ConnectOptions options;
  options.channel.curve_identity = client_keys_;
  options.channel.curve_server_key = tracker_public_key_;
  return options;
}

std::vector<std::string> LocalCluster::agent_endpoints() const {
  std::vector<std::string> endpoints;
  for (const auto& a : agents_) endpoints.push_back(a->endpoint());
  return endpoints;
}

}  // namespace ferry::cli
