// Fuzz target: the value codec (rpc/value_codec.h) on the body items of a parsed message, as a
// session decodes call arguments and replies. Input: frames in the encoding of fuzz_util.h.
// Properties: decoding never crashes; a plain value that decodes packs again, and the packed
// form decodes to an equal value.
#include "rpc/value_codec.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::rpc;

namespace {

void CheckRoundTrip(const Value& value) {
  if (value.kind() == Value::Kind::kNDArray) return;  // host arrays: copies, not compared
  if (value.kind() == Value::Kind::kFloat) return;    // NaN != NaN
  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 1, 1000, 1);
  if (!PackPlainValue(w, value)) fuzz::Fail("PackPlainValue refused a decoded value");
  StatusOr<ParsedMessage> again = ParseMessage(std::move(w).Finish(), ProtocolLimits{});
  if (!again.ok()) fuzz::Fail("re-encoded value does not parse", again.status().ToString());
  StatusOr<std::optional<Value>> back = ReadPlainValue(again->item(0), *again);
  if (!back.ok() || !back->has_value()) fuzz::Fail("re-encoded value does not decode");
  if (!(**back == value)) fuzz::Fail("round trip changed", value.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  StatusOr<ParsedMessage> parsed =
      ParseMessage(fuzz::SplitFrames(fuzz::AsView(data, size)), ProtocolLimits{});
  if (!parsed.ok()) return 0;
  const ParsedMessage& m = *parsed;
  for (size_t i = 0; i < m.body_size(); ++i) {
    const msgpack::object& item = m.item(i);
    // Call arguments arrive as an array of values; try the item itself and its elements.
    const msgpack::object* values = &item;
    size_t count = 1;
    if (item.type == msgpack::type::ARRAY && item.via.array.size > 0 &&
        item.via.array.ptr[0].type == msgpack::type::ARRAY) {
      values = item.via.array.ptr;
      count = item.via.array.size;
    }
    for (size_t j = 0; j < count; ++j) {
      (void)ReadWireKind(values[j]);
      StatusOr<std::optional<Value>> value = ReadPlainValue(values[j], m);
      if (value.ok() && value->has_value()) {
        (void)(*value)->ToString();
        CheckRoundTrip(**value);
      }
    }
  }
  return 0;
}
