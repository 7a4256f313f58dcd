// ClientValueCodec: how the client side of a session turns runtime Values into request items
// and reply items back into Values (the wire kinds of value_codec.h): remote objects of the
// session travel as their handles, host arrays inline or streamed ahead, and handles that come
// back become remote objects (remote_objects.h) that keep their session alive.
//
// One codec per session, owned with its endpoint by SessionCore (session_core.h). Thread
// safety: PackArgument may be called from any thread; AllocArray and StageArguments take the
// endpoint's call lock themselves; ReadResult with `accept_inline` and CopyInlineResult are
// called under it (they share the last inline result).
#ifndef FERRY_RPC_CLIENT_VALUE_CODEC_H_
#define FERRY_RPC_CLIENT_VALUE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "rpc/message.h"
#include "rpc/session_endpoint.h"
#include "runtime/device_api.h"
#include "runtime/ndarray.h"
#include "runtime/value.h"

namespace ferry::rpc {

class SessionCore;

class ClientValueCodec {
 public:
  // Remote objects the codec makes hold `session` (which owns the codec, `endpoint` and
  // `device_api`, the DeviceApi of its remote arrays); all three must outlive the codec.
  ClientValueCodec(SessionCore* session, SessionEndpoint& endpoint, DeviceApi* device_api)
      : session_(session), endpoint_(endpoint), device_api_(device_api) {}

  ClientValueCodec(const ClientValueCodec&) = delete;
  ClientValueCodec& operator=(const ClientValueCodec&) = delete;

  // Encodes an argument: remote objects of this session as their handles, CPU arrays
  // inline, plain values as themselves. Errors: kInvalidArgument for objects of another
  // session or local modules and functions.
  Status PackArgument(MessageWriter& writer, const Value& value) const;
  // The arguments of a call as they are sent: each CPU array larger than kInlineArrayBytes is
  // replaced by a new array on the remote CPU holding a copy of it, streamed there in chunks
  // like any host-to-remote copy (so no frame carries more than a chunk and the worker holds
  // it once); everything else is passed as it is. Returns an empty vector when nothing
  // needed replacing. The new arrays' handles are released once the caller drops them.
  // Errors: those of AllocArray and of the copy. Takes the call lock itself.
  StatusOr<std::vector<Value>> StageArguments(std::span<const Value> args);
  // Decodes a result, wrapping handles into remote objects of this session. With
  // `accept_inline` (CallFunction replies, read under the call lock right after Await), an
  // array result that carries its bytes inline (docs/protocol.md, "Inline results") is
  // remembered until the next request, so that copying it to the host costs no round trip.
  StatusOr<Value> ReadResult(const msgpack::object& encoded, const ParsedMessage& message,
                             bool accept_inline = false);

  // A new array on remote device `device` (marked remote; AllocArray). Errors: the remote
  // ones (kResourceExhausted past the session's limit, kInvalidArgument for a bad shape).
  // Takes the call lock.
  StatusOr<NDArray> AllocArray(const std::vector<int64_t>& shape, DataType dtype, Device device);
  // Wraps a remote array handle (as AllocArray returns) into an NDArray.
  NDArray MakeRemoteArray(uint64_t handle, std::vector<int64_t> shape, DataType dtype,
                          Device remote_device) const;

  // When no request has been sent since the reply that carried array `handle`'s bytes inline
  // (a call's, or any of a call sequence's results),
  // copies its first `bytes` bytes to `to` and returns true (no round trip); else false.
  // Under the call lock.
  bool CopyInlineResult(uint64_t handle, void* to, size_t bytes);
  // The largest CPU array result a call asks to receive inline; 0 asks for none.
  uint64_t inline_result_bytes() const { return inline_result_bytes_; }
  void set_inline_result_bytes(uint64_t bytes) { inline_result_bytes_ = bytes; }

 private:
  SessionCore* session_;
  SessionEndpoint& endpoint_;
  DeviceApi* device_api_;
  uint64_t inline_result_bytes_ = kInlineResultBytes;
  // The bytes of the array results that came inline with the last reply (one per result of a
  // call sequence), valid while the endpoint's requests_sent() is still
  // `inline_results_after_`.
  struct InlineResult {
    uint64_t handle = 0;
    zmq::message_t bytes;
  };
  std::vector<InlineResult> inline_results_;
  uint64_t inline_results_after_ = 0;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_CLIENT_VALUE_CODEC_H_
