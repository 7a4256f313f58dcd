#include "rpc/zmq_channel.h"

#include <atomic>
#include <cstring>

namespace ferry::rpc {

uint32_t MillisecondsUntil(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(left.count());
}

StatusOr<std::unique_ptr<ZmqChannel>> ZmqChannel::Connect(std::shared_ptr<zmq::context_t> context,
                                                          const std::string& endpoint,
                                                          const ZmqChannelOptions& options) {
  // Each channel's monitor needs its own inproc name within the context.
  static std::atomic<uint64_t> next_monitor_id{0};
  try {
    zmq::socket_t socket(*context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    socket.set(zmq::sockopt::heartbeat_ivl, options.heartbeat_interval_ms);
    socket.set(zmq::sockopt::heartbeat_timeout, options.heartbeat_timeout_ms);
    socket.set(zmq::sockopt::immediate, 1);
    const std::string monitor_endpoint =
        "inproc://ferry-channel-monitor-" + std::to_string(next_monitor_id++);
    if (zmq_socket_monitor(socket.handle(), monitor_endpoint.c_str(),
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0) {
      return InternalError("cannot monitor a ZeroMQ socket: " + std::string(zmq_strerror(zmq_errno())));
    }
    zmq::socket_t monitor(*context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_endpoint);
    socket.connect(endpoint);
    return std::unique_ptr<ZmqChannel>(
        new ZmqChannel(std::move(context), std::move(socket), std::move(monitor), endpoint));
  } catch (const zmq::error_t& e) {
    return InvalidArgumentError("cannot connect to '" + endpoint + "': " + e.what());
  }
}

ZmqChannel::~ZmqChannel() {
  if (socket_.handle() != nullptr) zmq_socket_monitor(socket_.handle(), nullptr, 0);
}

void ZmqChannel::DrainMonitor() {
  while (true) {
    zmq::message_t event;
    zmq::message_t address;
    auto got = monitor_.recv(event, zmq::recv_flags::dontwait);
    if (!got) return;
    if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < 2) continue;
    uint16_t id;
    std::memcpy(&id, event.data(), sizeof(id));
    if (id == ZMQ_EVENT_CONNECTED) {
      connected_ = true;
      disconnected_ = false;
    } else if (id == ZMQ_EVENT_DISCONNECTED && connected_) {
      disconnected_ = true;
    }
  }
}

Status ZmqChannel::Send(Frames frames, Deadline deadline) {
  DrainMonitor();
  if (disconnected_) return UnavailableError("connection to " + endpoint_ + " lost");
  try {
    for (size_t i = 0; i < frames.size(); ++i) {
      const bool more = i + 1 < frames.size();
      // With ZMQ_IMMEDIATE, a send blocks until a connection exists; poll until the deadline.
      while (true) {
        auto sent = socket_.send(frames[i], (more ? zmq::send_flags::sndmore : zmq::send_flags::none) |
                                                zmq::send_flags::dontwait);
        if (sent) break;
        if (Clock::now() >= deadline) {
          return i == 0 ? DeadlineExceededError("cannot reach " + endpoint_ + " before the deadline")
                        : UnavailableError("send to " + endpoint_ + " interrupted");
        }
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLOUT, 0};
        zmq::poll(&item, 1, std::chrono::milliseconds(std::min<uint32_t>(MillisecondsUntil(deadline), 100)));
        DrainMonitor();
        if (disconnected_) return UnavailableError("connection to " + endpoint_ + " lost");
      }
    }
  } catch (const zmq::error_t& e) {
    return UnavailableError("send to " + endpoint_ + " failed: " + e.what());
  }
  return Status::Ok();
}

StatusOr<std::optional<Frames>> ZmqChannel::Receive(Deadline deadline) {
  try {
    while (true) {
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                 {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
      if (items[0].revents == 0) {
        zmq::poll(items, 2, std::chrono::milliseconds(MillisecondsUntil(deadline)));
      }
      if (items[0].revents & ZMQ_POLLIN) {
        Frames frames;
        while (true) {
          zmq::message_t frame;
          if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
          const bool more = frame.more();
          frames.push_back(std::move(frame));
          if (!more) break;
        }
        if (!frames.empty()) return std::optional<Frames>(std::move(frames));
      }
      DrainMonitor();
      if (disconnected_) return UnavailableError("connection to " + endpoint_ + " lost");
      if (Clock::now() >= deadline) return std::optional<Frames>();
    }
  } catch (const zmq::error_t& e) {
    return UnavailableError("receive from " + endpoint_ + " failed: " + e.what());
  }
}

}  // namespace ferry::rpc
