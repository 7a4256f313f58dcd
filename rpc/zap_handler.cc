#include "rpc/zap_handler.h"

#include <zmq.h>

#include <vector>

namespace ferry::rpc {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr auto kStopCheckInterval = std::chrono::milliseconds(100);

// The Z85 text of a 32-byte CURVE credential; empty when the size is wrong.
std::string Z85OfKey(const zmq::message_t& credential) {
  if (credential.size() != 32) return "";
  char text[kZ85KeyLength + 1];
  if (zmq_z85_encode(text, static_cast<const uint8_t*>(credential.data()), 32) == nullptr) return "";
  return text;
}

}  // namespace

StatusOr<std::unique_ptr<ZapHandler>> ZapHandler::Start(zmq::context_t& context,
                                                        ZapRefusalLog log_refusal) {
  std::unique_ptr<ZapHandler> handler(new ZapHandler(context, std::move(log_refusal)));
  try {
    handler->socket_.set(zmq::sockopt::linger, 0);
    handler->socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return UnavailableError(std::string("cannot start the authentication handler: ") + e.what());
  }
  handler->thread_ = std::thread([h = handler.get()] { h->Serve(); });
  return handler;
}

ZapHandler::ZapHandler(zmq::context_t& context, ZapRefusalLog log_refusal)
    : socket_(context, zmq::socket_type::rep), log_refusal_(std::move(log_refusal)) {}

ZapHandler::~ZapHandler() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::Allow(const std::string& domain, AuthorizedKeys keys) {
  std::lock_guard lock(mutex_);
  allowed_[domain] = std::move(keys);
}

void ZapHandler::AllowKey(const std::string& domain, const std::string& z85_public_key,
                          const std::string& name) {
  std::lock_guard lock(mutex_);
  allowed_[domain][z85_public_key] = name;
}

bool ZapHandler::Decide(const std::string& domain, const std::string& mechanism,
                        const std::string& key) {
  if (mechanism != "CURVE" || key.empty()) return false;
  std::lock_guard lock(mutex_);
  auto list = allowed_.find(domain);
  return list != allowed_.end() && list->second.count(key) != 0;
}

void ZapHandler::Serve() {
  while (!stop_.load()) {
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, kStopCheckInterval);
      if (!(item.revents & ZMQ_POLLIN)) continue;
      // Request: version, request id, domain, address, routing id, mechanism, credentials...
      std::vector<zmq::message_t> request;
      do {
        request.emplace_back();
        if (!socket_.recv(request.back(), zmq::recv_flags::dontwait)) {
          request.pop_back();
          break;
        }
      } while (request.back().more());
      if (request.size() < 6) continue;  // not a ZAP request; REP needs no answer to garbage
      const std::string domain = request[2].to_string();
      const std::string address = request[3].to_string();
      const std::string mechanism = request[5].to_string();
      const std::string key = request.size() >= 7 ? Z85OfKey(request[6]) : "";
      const bool admit = Decide(domain, mechanism, key);
      (admit ? admitted_ : refused_).fetch_add(1);
      if (!admit && log_refusal_) {
        log_refusal_(domain, key.empty() ? mechanism : KeyFingerprint(key), address);
      }
      // Reply: version, request id, status code, status text, user id, metadata.
      const std::string reply[] = {"1.0", request[1].to_string(), admit ? "200" : "400",
                                   admit ? "OK" : "key not authorized", admit ? key : "", ""};
      for (size_t i = 0; i < std::size(reply); ++i) {
        zmq::message_t frame(reply[i].data(), reply[i].size());
        socket_.send(frame, i + 1 < std::size(reply) ? zmq::send_flags::sndmore
                                                     : zmq::send_flags::none);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      // EINTR and the like: look again.
    }
  }
}

void ApplyServerCurve(zmq::socket_t& socket, const std::string& secret_key,
                      const std::string& domain) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, secret_key);
  socket.set(zmq::sockopt::zap_domain, domain);
}

void ApplyClientCurve(zmq::socket_t& socket, const CurveKeyPair& keys,
                      const std::string& server_key) {
  socket.set(zmq::sockopt::curve_serverkey, server_key);
  socket.set(zmq::sockopt::curve_publickey, keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

}  // namespace ferry::rpc
