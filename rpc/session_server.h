// SessionServer: the serving side of one session. It turns request messages into reply
// messages: it owns the session's handle table (arrays, modules, functions the client refers
// to), loads modules from the session's files, and runs calls on this thread.
//
// It knows nothing of sockets: the session worker feeds it what its ROUTER socket receives,
// tests feed it through an in-memory channel. Not thread-safe; one session per server.
#ifndef FERRY_RPC_SESSION_SERVER_H_
#define FERRY_RPC_SESSION_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "rpc/message.h"
#include "rpc/session_files.h"
#include "runtime/function_registry.h"
#include "runtime/module.h"
#include "runtime/ndarray.h"
#include "runtime/packed_func.h"

namespace ferry::rpc {

struct SessionServerOptions {
  // The client must open with kHello carrying this token; empty accepts any.
  std::string token;
  ProtocolLimits limits;
  // Largest array AllocArray creates and largest upload accepted.
  uint64_t max_array_bytes = uint64_t{16} << 30;
  // Called with a request's deadline (ms from now) just before it is served, so a watchdog
  // can end a call that outlives it. May be empty.
  std::function<void(uint32_t deadline_ms)> on_request_start;
  // A CURVE session's bulk connection (sealed_router.h; docs/protocol.md, "Bulk path"): when
  // bulk_port is not 0, Hello replies [bulk_port, bulk_key] instead of [], handing the client
  // the port of the worker's bulk socket and its 32-byte AES-256-GCM key. Only a worker whose
  // own connection is encrypted may offer it.
  uint16_t bulk_port = 0;
  std::string bulk_key;
};

class SessionServer {
 public:
  // `globals` and `files` must outlive the server; `files` may be null (file requests then
  // fail with kUnimplemented).
  SessionServer(const FunctionRegistry* globals, SessionFiles* files,
                SessionServerOptions options);

  // Handles one request from `connection`, an opaque name of the connection it came on (the
  // routing id, with the peer's CURVE key when there is one; empty for an in-memory channel).
  // A correct Hello binds the session to its connection: requests from any other connection,
  // another Hello included, are refused with kPermissionDenied and change nothing.
  // Returns the reply, or nullopt for one-way messages (ReleaseHandles) and for input too
  // malformed to reply to (no request id). Never throws: a broken invariant becomes a
  // kInternal reply.
  std::optional<Frames> Handle(Frames request, std::string_view connection = {});

  // Whether the client asked to close the session.
  bool close_requested() const { return close_requested_; }
  // Whether a correct Hello has bound the session to a connection.
  bool greeted() const { return greeted_; }
  size_t num_handles() const { return handles_.size(); }

 private:
  using Object = std::variant<NDArray, Module, PackedFunc>;
  using Handler = StatusOr<Frames> (SessionServer::*)(const ParsedMessage&);
  struct HandlerEntry {
    MessageType type;
    Handler handler;
  };
  static const HandlerEntry kHandlers[];

  StatusOr<Frames> Dispatch(const ParsedMessage& request, std::string_view connection);

  uint64_t AddHandle(Object object);
  template <typename T>
  StatusOr<T> Lookup(const msgpack::object& handle, std::string_view what) const;
  // Encodes a call result or any Value (registering handles for arrays, modules, functions).
  // A CPU array of at most `inline_bytes` also carries a copy of its bytes (docs/protocol.md,
  // "Tensors in calls"). Returns the bytes it copied so (0 for other values).
  uint64_t PackValue(MessageWriter& writer, const Value& value, uint64_t inline_bytes = 0);
  StatusOr<Value> ReadValue(const msgpack::object& encoded, const ParsedMessage& message) const;
  StatusOr<SessionFiles*> Files() const;

  StatusOr<Frames> Hello(const ParsedMessage& m, std::string_view connection);
  StatusOr<Frames> CloseSession(const ParsedMessage& m);
  StatusOr<Frames> GetGlobalFunction(const ParsedMessage& m);
  StatusOr<Frames> GetModuleFunction(const ParsedMessage& m);
  // Calls the function of handle `function` with the arguments encoded in `args` (values of
  // message `m`).
  StatusOr<Value> Invoke(const msgpack::object& function, const msgpack::object& args,
                         const ParsedMessage& m);
  StatusOr<Frames> CallFunction(const ParsedMessage& m);
  StatusOr<Frames> CallSequence(const ParsedMessage& m);
  StatusOr<Frames> ReleaseHandles(const ParsedMessage& m);
  StatusOr<Frames> DeviceAttributes(const ParsedMessage& m);
  StatusOr<Frames> AllocArray(const ParsedMessage& m);
  StatusOr<Frames> CopyToRemote(const ParsedMessage& m);
  StatusOr<Frames> CopyFromRemote(const ParsedMessage& m);
  StatusOr<Frames> CopyRemoteToRemote(const ParsedMessage& m);
  StatusOr<Frames> StreamSync(const ParsedMessage& m);
  StatusOr<Frames> UploadBegin(const ParsedMessage& m);
  StatusOr<Frames> UploadChunk(const ParsedMessage& m);
  StatusOr<Frames> UploadEnd(const ParsedMessage& m);
  StatusOr<Frames> Download(const ParsedMessage& m);
  StatusOr<Frames> ListFiles(const ParsedMessage& m);
  StatusOr<Frames> RemoveFile(const ParsedMessage& m);
  StatusOr<Frames> LoadModule(const ParsedMessage& m);
  StatusOr<Frames> TimeEvaluator(const ParsedMessage& m);

  const FunctionRegistry* globals_;
  SessionFiles* files_;
  SessionServerOptions options_;
  bool greeted_ = false;
  std::string connection_;  // the connection Hello bound the session to
  bool close_requested_ = false;
  uint64_t next_handle_ = 1;
  std::map<uint64_t, Object> handles_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SESSION_SERVER_H_
