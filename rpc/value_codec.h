// Wire encoding of runtime Values (docs/protocol.md, "Values"). Each value is a msgpack array
// whose first item is a WireKind:
//   [0] null  [1, bool]  [2, int]  [3, float]  [4, string]  [5, frame]  bytes in a bulk frame
//   [6, device_type, device_id]  [7, code, bits, lanes]
//   [8, handle, shape, dtype, device]  an array living in the session (remote NDArray); a
//                                      sixth item, a frame, holds a copy of a small result
//                                      the call asked for inline
//   [9, shape, dtype, frame]           a host array sent inline, its bytes in a bulk frame
//   [10, handle, type_key]             a module living in the session
//   [11, handle]                       a function living in the session
// Handles are session-scoped unsigned integers allocated by the serving side.
#ifndef FERRY_RPC_VALUE_CODEC_H_
#define FERRY_RPC_VALUE_CODEC_H_

#include <optional>

#include "rpc/message.h"
#include "runtime/value.h"

namespace ferry::rpc {

enum class WireKind : uint8_t {
  kNull = 0,
  kBool = 1,
  kInt = 2,
  kFloat = 3,
  kString = 4,
  kBytes = 5,
  kDevice = 6,
  kDataType = 7,
  kRemoteArray = 8,
  kHostArray = 9,
  kModule = 10,
  kFunction = 11,
};

// Packs a value of a kind that needs no handle (null through DataType, bytes as a frame).
// Returns false, packing nothing, for NDArray, Module and PackedFunc.
bool PackPlainValue(MessageWriter& writer, const Value& value);

// Packs a CPU array inline as [9, shape, dtype, frame] without copying its bytes.
void PackHostArray(MessageWriter& writer, const NDArray& array);

// Reads the wire kind of an encoded value. Errors: kInvalidArgument.
StatusOr<WireKind> ReadWireKind(const msgpack::object& encoded);

// A CPU array over a received frame's bytes, without copying them when they are aligned for
// `dtype` (else a copy, as for an empty frame). The array keeps the bytes alive (ShareFrame)
// and writes to it land in them. `frame.size()` must be the array's size.
NDArray FrameArray(const zmq::message_t& frame, std::vector<int64_t> shape, DataType dtype);

// Decodes the plain kinds (as PackPlainValue) and host arrays (used in place from their frame:
// FrameArray); returns nullopt for handle kinds, which the caller resolves. Errors:
// kInvalidArgument.
StatusOr<std::optional<Value>> ReadPlainValue(const msgpack::object& encoded,
                                              const ParsedMessage& message);

}  // namespace ferry::rpc

#endif  // FERRY_RPC_VALUE_CODEC_H_
