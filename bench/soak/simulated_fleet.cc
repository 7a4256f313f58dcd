#include "bench/soak/simulated_fleet.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>

#include "rpc/agent_heartbeat.h"
#include "rpc/ticket.h"

namespace ferry::soak {

using Clock = std::chrono::steady_clock;

SimulatedFleet::SimulatedFleet(zmq::context_t& context, const std::string& tracker_endpoint,
                               std::string secret, int agents, int keys, std::string key_prefix,
                               std::chrono::milliseconds heartbeat_interval)
    : socket_(context, zmq::socket_type::dealer),
      secret_(std::move(secret)),
      agents_(agents),
      keys_(std::max(1, keys)),
      key_prefix_(std::move(key_prefix)),
      interval_(heartbeat_interval) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::sndhwm, 0);
  socket_.connect(tracker_endpoint);
}

std::string SimulatedFleet::AgentId(int agent) {
  char id[32];
  std::snprintf(id, sizeof(id), "sim-%04d", agent);
  return id;
}

void SimulatedFleet::Send(int agent) {
  rpc::AgentHeartbeat heartbeat;
  heartbeat.agent_id = AgentId(agent);
  heartbeat.key = KeyOf(agent);
  heartbeat.address = "tcp://127.0.0.1:" + std::to_string(1 + agent % 65000);  // never used
  heartbeat.devices = {{"cpu", 1, uint64_t{16} << 30, "simulated"}};
  rpc::Frames frames = rpc::EncodeAgentHeartbeat(
      heartbeat, secret_, {rpc::NextAgentSequence(), rpc::WallClockMs()},
      static_cast<uint32_t>(interval_.count() * 3));
  for (size_t i = 0; i < frames.size(); ++i) {
    // Blocking send: the high-water mark is off and the tracker is local.
    socket_.send(frames[i],
                 i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  ++sent_;
}

void SimulatedFleet::Start() {
  if (agents_ <= 0) return;
  for (int i = 0; i < agents_; ++i) Send(i);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sim-fleet");
    Beat();
  });
}

void SimulatedFleet::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

// Agent (k mod agents) beats at start + k * interval / agents.
void SimulatedFleet::Beat() {
  const Clock::time_point start = Clock::now();
  const auto slot = std::chrono::duration_cast<Clock::duration>(interval_) / agents_;
  int64_t sent = agents_;  // the first round went out in Start()
  while (!stop_) {
    const Clock::time_point due = start + slot * sent;
    std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(5)));
    for (; !stop_ && start + slot * sent <= Clock::now(); ++sent) {
      Send(static_cast<int>(sent % agents_));
    }
  }
}

}  // namespace ferry::soak
