// Fuzz target: a protocol message (rpc::ParseMessage), header and bulk frames, as a peer sends
// it. Input: frames in the encoding of fuzz_util.h. Properties: parsing never crashes; a parsed
// message's body is an array whose items and frames can all be read through the typed
// accessors without crashing.
#include "rpc/message.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Frames frames = fuzz::SplitFrames(fuzz::AsView(data, size));
  // Small limits too, so the limit checks themselves are reached.
  ProtocolLimits limits;
  if (size > 0 && (data[0] & 1)) {
    limits.max_header_bytes = 256;
    limits.max_frames = 4;
    limits.max_frame_bytes = 512;
    limits.max_msgpack_depth = 4;
    limits.max_msgpack_elements = 8;
    limits.max_msgpack_string = 32;
  }
  StatusOr<ParsedMessage> parsed = ParseMessage(std::move(frames), limits);
  if (!parsed.ok()) {
    if (parsed.status().code() != StatusCode::kInvalidArgument) {
      fuzz::Fail("ParseMessage error is not kInvalidArgument", parsed.status().ToString());
    }
    return 0;
  }
  const ParsedMessage& m = *parsed;
  if (m.body == nullptr || m.body->type != msgpack::type::ARRAY) fuzz::Fail("body not an array");
  (void)MessageTypeName(m.type);
  (void)CheckRequestHeader(m, "fuzz");
  (void)CheckBodySize(m, 3);
  for (size_t i = 0; i < m.body_size(); ++i) {
    const msgpack::object& o = m.item(i);
    (void)ReadInt(o, "item");
    (void)ReadUint(o, "item");
    (void)ReadFloat(o, "item");
    (void)ReadBool(o, "item");
    (void)ReadString(o, "item");
    (void)ReadIntArray(o, "item");
    (void)ReadArray(o, "item", 2);
    (void)ReadDevice(o);
    (void)ReadDataType(o);
    StatusOr<uint64_t> index = ReadUint(o, "frame");
    if (index.ok()) {
      StatusOr<const zmq::message_t*> frame = m.Frame(*index);
      if (frame.ok() && *index >= m.frames.size())
        fuzz::Fail("Frame accepted an index past the end");
    }
  }
  return 0;
}
