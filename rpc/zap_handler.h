// ZapHandler: the ZeroMQ authentication handler (ZAP, RFC 27) of one context. Server sockets
// of that context that enable CURVE (ServerCurveOptions / ApplyServerCurve) ask it about
// every connecting peer; it admits the public keys of its allow lists and refuses the rest,
// logging each refusal with the key's fingerprint and the peer's address.
//
// An admitted connection's messages carry the peer's public key (Z85) as ZeroMQ's "User-Id"
// property (router_io.h's RoutedMessage::peer_key), so a server can give each key its role.
// Lists are per ZAP domain (a socket's ZMQ_ZAP_DOMAIN), so one process may serve different
// sets of keys on different sockets.
//
// The handler owns a thread with a REP socket bound to inproc://zeromq.zap.01; at most one
// per context. Destroying it stops the thread (before the context is closed).
#ifndef FERRY_RPC_ZAP_HANDLER_H_
#define FERRY_RPC_ZAP_HANDLER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "rpc/curve_keys.h"
#include "runtime/status.h"

namespace ferry::rpc {

// How a refusal is reported: (domain, key fingerprint, peer address).
using ZapRefusalLog =
    std::function<void(const std::string&, const std::string&, const std::string&)>;

class ZapHandler {
 public:
  // Starts the handler on `context` (which must outlive it). Errors: kUnavailable when
  // another handler already serves this context.
  static StatusOr<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                     ZapRefusalLog log_refusal = nullptr);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  // Replaces the keys admitted on sockets of ZAP domain `domain`. Thread-safe.
  void Allow(const std::string& domain, AuthorizedKeys keys);
  // Admits one more key on `domain`. Thread-safe.
  void AllowKey(const std::string& domain, const std::string& z85_public_key,
                const std::string& name = "");

  // Requests answered so far, admitted and refused (for tests and logs).
  uint64_t admitted() const { return admitted_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  ZapHandler(zmq::context_t& context, ZapRefusalLog log_refusal);
  void Serve();
  // The ZAP reply frames for one request.
  bool Decide(const std::string& domain, const std::string& mechanism, const std::string& key);

  zmq::socket_t socket_;
  ZapRefusalLog log_refusal_;
  std::mutex mutex_;
  std::map<std::string, AuthorizedKeys> allowed_;  // by domain
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

// Makes `socket` a CURVE server with `secret_key` (Z85) whose peers are checked by the
// context's ZapHandler under `domain`. Call before bind. Throws zmq::error_t like cppzmq.
void ApplyServerCurve(zmq::socket_t& socket, const std::string& secret_key,
                      const std::string& domain);

// Makes `socket` a CURVE client of the server whose public key is `server_key`, presenting
// `keys`. Call before connect. Throws zmq::error_t like cppzmq.
void ApplyClientCurve(zmq::socket_t& socket, const CurveKeyPair& keys,
                      const std::string& server_key);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_ZAP_HANDLER_H_
