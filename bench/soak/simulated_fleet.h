// SimulatedFleet: many agents that exist only as signed heartbeats (rpc/agent_heartbeat.h),
// so that a real tracker's scheduler carries a realistic fleet. One DEALER socket speaks for
// all of them (the tracker knows an agent by the id in its heartbeat, not by its socket), as
// in bench/tracker_bench.cc. Agent i is "sim-NNNN", registered under key KeyOf(i) with one
// CPU device, advertising an address nobody listens on: its grants are meant to be released
// at once (grant -> ReleaseLease), never connected to. It reports no active leases, so the
// tracker ends its leases only on ReleaseLease (or the connect grace).
#ifndef FERRY_BENCH_SOAK_SIMULATED_FLEET_H_
#define FERRY_BENCH_SOAK_SIMULATED_FLEET_H_

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <zmq.hpp>

namespace ferry::soak {

class SimulatedFleet {
 public:
  // `agents` agents spread round-robin over `keys` keys "<key_prefix>0", "<key_prefix>1", ...
  SimulatedFleet(zmq::context_t& context, const std::string& tracker_endpoint, std::string secret,
                 int agents, int keys, std::string key_prefix,
                 std::chrono::milliseconds heartbeat_interval);
  ~SimulatedFleet() { Stop(); }
  SimulatedFleet(const SimulatedFleet&) = delete;
  SimulatedFleet& operator=(const SimulatedFleet&) = delete;

  // Sends every agent's first heartbeat, then re-heartbeats each once per interval (spread
  // evenly over it) on a thread until Stop(). Start at most once.
  void Start();
  // Stops beating (the tracker drops the agents after its missed-beat limit). Idempotent.
  void Stop();

  std::string KeyOf(int agent) const { return key_prefix_ + std::to_string(agent % keys_); }
  static std::string AgentId(int agent);
  int64_t heartbeats_sent() const { return sent_.load(); }

 private:
  void Send(int agent);
  void Beat();

  zmq::socket_t socket_;
  const std::string secret_;
  const int agents_, keys_;
  const std::string key_prefix_;
  const std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> sent_{0};
  std::thread thread_;
};

}  // namespace ferry::soak

#endif  // FERRY_BENCH_SOAK_SIMULATED_FLEET_H_
