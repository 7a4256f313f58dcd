#include "bench/soak/soak_cluster.h"

#include <signal.h>
#include <sys/wait.h>

#include <iterator>

#include "runtime/file_util.h"
#include "tests/process_test_util.h"

namespace ferry::soak {

StatusOr<ClusterProcess> SoakCluster::Spawn(const std::string& name,
                                            std::vector<std::string> args) {
  ClusterProcess p;
  p.name = name;
  p.log = options_.dir + "/" + name + ".log";
  const std::string endpoint_file = options_.dir + "/" + name + ".endpoint";
  args.push_back("--endpoint-file");
  args.push_back(endpoint_file);
  p.pid = testing::SpawnLogged(std::move(args), p.log);
  if (p.pid < 0) return InternalError("fork failed for " + name);
  StatusOr<std::string> endpoint =
      testing::AwaitEndpointFile(p.pid, endpoint_file, p.log, std::chrono::seconds(10));
  if (!endpoint.ok()) {
    testing::StopChild(p.pid);
    return endpoint.status().WithContext(name);
  }
  p.endpoint = *endpoint;
  return p;
}

namespace {

std::vector<std::string> Wrapped(const std::vector<std::string>& wrapper,
                                 std::vector<std::string> command) {
  std::vector<std::string> args = wrapper;
  args.insert(args.end(), std::make_move_iterator(command.begin()),
              std::make_move_iterator(command.end()));
  return args;
}

}  // namespace

StatusOr<std::unique_ptr<SoakCluster>> SoakCluster::Start(const ClusterOptions& options) {
  auto cluster = std::unique_ptr<SoakCluster>(new SoakCluster(options));
  const std::string secret_file = options.dir + "/secret";
  RETURN_IF_ERROR(WriteFileAtomically(secret_file, options.secret + "\n"));
  const std::string heartbeat = std::to_string(options.heartbeat.count());
  ASSIGN_OR_RETURN(cluster->tracker_,
                   cluster->Spawn("tracker", Wrapped(options.tracker_wrapper,
                                                    {options.tracker_path, "--listen",
                                                     "tcp://127.0.0.1:*", "--secret-file",
                                                     secret_file, "--heartbeat-ms", heartbeat})));
  for (int i = 0; i < options.agents; ++i) {
    const std::string name = "agent" + std::to_string(i);
    ASSIGN_OR_RETURN(
        ClusterProcess agent,
        cluster->Spawn(name, Wrapped(options.agent_wrapper,
                                     {options.agent_path, "--listen", "tcp://127.0.0.1:*",
                                      "--work-dir", options.dir + "/" + name,
                                      "--session-timeout", std::to_string(options.session_timeout_s),
                                      "--tracker", cluster->tracker_.endpoint, "--key", options.key,
                                      "--secret-file", secret_file, "--heartbeat-ms",
                                      heartbeat})));
    cluster->agents_.push_back(std::move(agent));
  }
  return cluster;
}

std::vector<std::string> SoakCluster::ExitedProcesses() const {
  std::vector<std::string> exited;
  auto check = [&](const ClusterProcess& p) {
    // Looks without reaping: an exited child stays a zombie until Stop() reaps it.
    siginfo_t info{};
    if (p.pid > 0 &&
        waitid(P_PID, static_cast<id_t>(p.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == p.pid) {
      exited.push_back(p.name);
    }
  };
  for (const ClusterProcess& a : agents_) check(a);
  check(tracker_);
  return exited;
}

void SoakCluster::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Agents first (they end their sessions and say goodbye), then the tracker.
  for (auto it = agents_.rbegin(); it != agents_.rend(); ++it) testing::StopChild(it->pid);
  testing::StopChild(tracker_.pid);
}

}  // namespace ferry::soak
