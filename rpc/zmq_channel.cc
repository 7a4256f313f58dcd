#include "rpc/zmq_channel.h"

#include "rpc/zap_handler.h"

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
    if (options.curve_identity) {
      if (!IsZ85Key(options.curve_server_key)) {
        return InvalidArgumentError("a CURVE connection to " + endpoint +
                                    " needs the server's public key");
      }
      ApplyClientCurve(socket, *options.curve_identity, options.curve_server_key);
    }
    const std::string monitor_endpoint =
        "inproc://ferry-channel-monitor-" + std::to_string(next_monitor_id++);
    if (zmq_socket_monitor(socket.handle(), monitor_endpoint.c_str(),
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      return InternalError("cannot monitor a ZeroMQ socket: " + std::string(zmq_strerror(zmq_errno())));
    }
    zmq::socket_t monitor(*context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_endpoint);
    socket.connect(endpoint);
    std::unique_ptr<ZmqChannel> channel(
        new ZmqChannel(std::move(context), std::move(socket), std::move(monitor), endpoint));
    channel->curve_ = options.curve_identity.has_value();
    return channel;
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
    uint32_t value = 0;
    if (event.size() >= 6) std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
    if (id == ZMQ_EVENT_CONNECTED) {
      connected_ = true;
      disconnected_ = false;
    } else if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      handshake_succeeded_ = true;
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      handshake_failure_ = "the server refused this client's key (ZAP status " +
                           std::to_string(value) + "); ask its operator to authorize it";
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      handshake_failure_ = curve_ ? "the CURVE handshake failed: the server does not speak CURVE "
                                    "or its key is not the one given"
                                  : "the security handshake failed: the server requires CURVE "
                                    "keys (pass --identity and the server's key)";
    } else if (id == ZMQ_EVENT_DISCONNECTED && connected_) {
      if (curve_ && !handshake_succeeded_ && handshake_failure_.empty()) {
        // A CURVE server that cannot open our HELLO (wrong server key) or whose handler
        // refuses us without saying so just closes the connection.
        handshake_failure_ =
            "the server closed the connection during the CURVE handshake: this client's key is "
            "not authorized there, or the server's key is not the one given";
      }
      disconnected_ = true;
    }
  }
}

Status ZmqChannel::ConnectionError() const {
  if (!handshake_failure_.empty()) {
    return PermissionDeniedError("connecting to " + endpoint_ + ": " + handshake_failure_);
  }
  if (disconnected_) return UnavailableError("connection to " + endpoint_ + " lost");
  return Status::Ok();
}

Status ZmqChannel::Send(Frames frames, Deadline deadline) {
  DrainMonitor();
  RETURN_IF_ERROR(ConnectionError());
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
        RETURN_IF_ERROR(ConnectionError());
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
      RETURN_IF_ERROR(ConnectionError());
      if (Clock::now() >= deadline) return std::optional<Frames>();
    }
  } catch (const zmq::error_t& e) {
    return UnavailableError("receive from " + endpoint_ + " failed: " + e.what());
  }
}

}  // namespace ferry::rpc
