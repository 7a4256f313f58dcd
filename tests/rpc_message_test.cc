// The wire format (rpc/message.h, rpc/value_codec.h): round trips of requests, replies and
// values, and malformed input, which must always be a kInvalidArgument error and never a
// crash or an unbounded allocation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "rpc/message.h"
#include "rpc/value_codec.h"
#include "runtime/value.h"

// ASSERT_OK_AND_ASSIGN_MSG(auto x, MakeX()); fails the test on an error.
#define RPC_TEST_CONCAT_INNER(a, b) a##b
#define RPC_TEST_CONCAT(a, b) RPC_TEST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN_MSG(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_MSG_IMPL(RPC_TEST_CONCAT(rpc_test_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_MSG_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();   \
  lhs = std::move(tmp).value()

namespace ferry::rpc {
namespace {

// Frames holding copies of `parts`; the first is the header.
Frames MakeFrames(const std::vector<std::string>& parts) {
  Frames frames;
  for (const std::string& p : parts) frames.push_back(CopyFrame(p));
  return frames;
}

// The header frame of a request with body [42, "x"] and one bulk frame.
std::string ValidRequestHeader() {
  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 7, 1500, 2);
  w.packer().pack(42);
  w.packer().pack(std::string("x"));
  w.AddFrame(CopyFrame("bulk"));
  Frames frames = std::move(w).Finish();
  return frames[0].to_string();
}

// Packs `object` with msgpack into a string.
template <typename T>
std::string Pack(const T& object) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, object);
  return std::string(buffer.data(), buffer.size());
}

void ExpectMalformed(Frames frames, const ProtocolLimits& limits = {}) {
  StatusOr<ParsedMessage> parsed = ParseMessage(std::move(frames), limits);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << parsed.status().ToString();
}

void ExpectMalformedHeader(const std::string& header, const ProtocolLimits& limits = {}) {
  SCOPED_TRACE("header of " + std::to_string(header.size()) + " bytes");
  ExpectMalformed(MakeFrames({header}), limits);
}

// ---- Round trips ----

TEST(MessageTest, RequestRoundTripWithBulkFrames) {
  MessageWriter w = MessageWriter::Request(MessageType::kCopyToRemote, 123456789012ull, 2500, 3);
  w.packer().pack(uint64_t{17});
  const uint32_t first = w.AddFrame(CopyFrame("first frame"));
  const uint32_t second = w.AddFrame(CopyFrame(std::string(100000, 'z')));
  w.packer().pack(first);
  w.packer().pack(second);
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(second, 2u);
  Frames frames = std::move(w).Finish();
  ASSERT_EQ(frames.size(), 3u);

  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(frames), ProtocolLimits{}));
  EXPECT_EQ(m.version, kProtocolVersion);
  EXPECT_EQ(m.type, MessageType::kCopyToRemote);
  EXPECT_EQ(m.request_id, 123456789012ull);
  EXPECT_EQ(m.deadline_ms, 2500u);
  ASSERT_EQ(m.body_size(), 3u);
  EXPECT_EQ(ReadUint(m.item(0), "a").value(), 17u);
  const zmq::message_t* f1 = m.Frame(ReadUint(m.item(1), "f1").value()).value();
  const zmq::message_t* f2 = m.Frame(ReadUint(m.item(2), "f2").value()).value();
  EXPECT_EQ(f1->to_string(), "first frame");
  EXPECT_EQ(f2->to_string(), std::string(100000, 'z'));
  EXPECT_TRUE(CheckBodySize(m, 3).ok());
  EXPECT_EQ(CheckBodySize(m, 4).code(), StatusCode::kInvalidArgument);
}

TEST(MessageTest, ReplyRoundTrips) {
  MessageWriter ok = MessageWriter::Reply(99, Status::Ok(), 2);
  ok.packer().pack(std::string("result"));
  ok.packer().pack(ok.AddFrame(CopyFrame("payload")));
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(ok).Finish(), ProtocolLimits{}));
  EXPECT_EQ(m.type, MessageType::kReply);
  EXPECT_EQ(m.request_id, 99u);
  EXPECT_TRUE(m.status.ok());
  ASSERT_EQ(m.body_size(), 2u);
  EXPECT_EQ(ReadString(m.item(0), "s").value(), "result");
  EXPECT_EQ(m.Frame(1).value()->to_string(), "payload");

  // An error reply carries the code and message and an empty body.
  Frames error = std::move(MessageWriter::Reply(5, NotFoundError("no such thing"), 3)).Finish();
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage e, ParseMessage(std::move(error), ProtocolLimits{}));
  EXPECT_EQ(e.status.code(), StatusCode::kNotFound);
  EXPECT_EQ(e.status.message(), "no such thing");
  EXPECT_EQ(e.body_size(), 0u);

  // Every status code crosses the wire, the last (kInternal) included.
  for (StatusCode code :
       {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kUnavailable,
        StatusCode::kResourceExhausted, StatusCode::kDeadlineExceeded, StatusCode::kUnimplemented,
        StatusCode::kPermissionDenied, StatusCode::kFailedPrecondition, StatusCode::kInternal}) {
    Frames reply = std::move(MessageWriter::Reply(8, Status(code, "why"), 0)).Finish();
    ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage r, ParseMessage(std::move(reply), ProtocolLimits{}));
    EXPECT_EQ(r.status.code(), code);
    EXPECT_EQ(r.status.message(), "why");
  }

  // An error without a message still arrives as an error with some text.
  Frames silent = std::move(MessageWriter::Reply(6, Status(StatusCode::kInternal, ""), 0)).Finish();
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage s, ParseMessage(std::move(silent), ProtocolLimits{}));
  EXPECT_EQ(s.status.code(), StatusCode::kInternal);
  EXPECT_FALSE(s.status.message().empty());
}

TEST(MessageTest, DeviceDataTypeAndShapeHelpers) {
  MessageWriter w = MessageWriter::Request(MessageType::kAllocArray, 1, 10, 3);
  PackShape(w.packer(), {2, 0, 7});
  PackDataType(w.packer(), DataType{kDLFloat, 16, 4});
  PackDevice(w.packer(), Device::Cuda(3));
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  EXPECT_EQ(ReadIntArray(m.item(0), "shape").value(), (std::vector<int64_t>{2, 0, 7}));
  EXPECT_EQ(ReadDataType(m.item(1)).value(), (DataType{kDLFloat, 16, 4}));
  EXPECT_EQ(ReadDevice(m.item(2)).value(), Device::Cuda(3));
  // Items of the wrong kind are errors naming the item.
  EXPECT_EQ(ReadDevice(m.item(2).via.array.ptr[0]).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadString(m.item(0), "label").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadBool(m.item(0), "flag").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadInt(m.item(1), "n").status().code(), StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/value_codec_fuzz.cc: a device type outside DLDeviceType's enumerators
// (65 here) was stored in the enum, which is undefined behaviour (UBSan: "load of value 65,
// which is not a valid value for type 'DLDeviceType'" in Device::ToString). Both device
// decoders now refuse types this build does not know, and the remote mask.
TEST(MessageTest, UnknownDeviceTypesAreMalformed) {
  for (int64_t type : {int64_t{0}, int64_t{65}, int64_t{kRemoteDeviceMask + kDLCPU},
                       int64_t{1} << 16, int64_t{-1}}) {
    MessageWriter w = MessageWriter::Request(MessageType::kStreamSync, 1, 10, 2);
    w.packer().pack_array(2);
    w.packer().pack(type);
    w.packer().pack(0);
    w.packer().pack_array(3);
    w.packer().pack(static_cast<uint8_t>(WireKind::kDevice));
    w.packer().pack(type);
    w.packer().pack(0);
    ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
    StatusOr<Device> device = ReadDevice(m.item(0));
    ASSERT_FALSE(device.ok()) << type;
    EXPECT_EQ(device.status().code(), StatusCode::kInvalidArgument);
    StatusOr<std::optional<Value>> value = ReadPlainValue(m.item(1), m);
    ASSERT_FALSE(value.ok()) << type;
    EXPECT_EQ(value.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(WireDevice(kDLCUDA, 2).value(), Device::Cuda(2));
  EXPECT_EQ(ReadDevice(ParseMessage([] {
              MessageWriter w = MessageWriter::Request(MessageType::kStreamSync, 1, 10, 1);
              PackDevice(w.packer(), Device::Cpu(1));
              return std::move(w).Finish();
            }(), ProtocolLimits{}).value().item(0)).value(),
            Device::Cpu(1));
}

// Regression: ReadFloat of an integer above INT64_MAX threw instead of returning a value.
TEST(MessageTest, ReadFloatAcceptsEveryInteger) {
  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 1, 10, 4);
  w.packer().pack(std::numeric_limits<uint64_t>::max());
  w.packer().pack(std::numeric_limits<int64_t>::min());
  w.packer().pack(7);
  w.packer().pack(std::string("7"));
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  EXPECT_EQ(ReadFloat(m.item(0), "f").value(), 18446744073709551615.0);
  EXPECT_EQ(ReadFloat(m.item(1), "f").value(), -9223372036854775808.0);
  EXPECT_EQ(ReadFloat(m.item(2), "f").value(), 7.0);
  EXPECT_EQ(ReadFloat(m.item(3), "f").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadInt(m.item(0), "i").status().code(), StatusCode::kInvalidArgument);
}

// ---- Malformed messages ----

TEST(MalformedMessageTest, NoFramesAndEmptyHeader) {
  ExpectMalformed(Frames{});
  ExpectMalformedHeader("");
}

TEST(MalformedMessageTest, GarbageHeaderBytes) {
  ExpectMalformedHeader("hello, world");
  ExpectMalformedHeader(std::string("\xc1\xc1\xc1\xc1", 4));  // 0xc1 is never used
  ExpectMalformedHeader(std::string(64, '\xff'));
  ExpectMalformedHeader(std::string(64, '\0'));
  // Deterministic pseudo-random bytes.
  uint32_t state = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string bytes(1 + round % 40, '\0');
    for (char& c : bytes) {
      state = state * 1664525u + 1013904223u;
      c = static_cast<char>(state >> 24);
    }
    ExpectMalformedHeader(bytes);
  }
}

TEST(MalformedMessageTest, EveryPrefixOfAValidHeader) {
  const std::string header = ValidRequestHeader();
  ASSERT_TRUE(ParseMessage(MakeFrames({header, "bulk"}), ProtocolLimits{}).ok());
  for (size_t length = 0; length < header.size(); ++length) {
    ExpectMalformedHeader(header.substr(0, length));
  }
}

TEST(MalformedMessageTest, TrailingBytesAfterTheHeader) {
  ExpectMalformedHeader(ValidRequestHeader() + '\x01');
  ExpectMalformedHeader(ValidRequestHeader() + ValidRequestHeader());
}

TEST(MalformedMessageTest, WrongHeaderArityAndTypes) {
  using Body = std::vector<int>;
  ExpectMalformedHeader(Pack(42));                                        // not an array
  ExpectMalformedHeader(Pack(std::string("header")));                     // not an array
  ExpectMalformedHeader(Pack(std::map<int, int>{{1, 2}}));                // a map
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1)));                  // too short
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1, 100)));             // too short
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1, 100, Body{}, 5)));  // request with 6
  ExpectMalformedHeader(Pack(std::make_tuple("1", 7, 1, 100, Body{})));   // version a string
  ExpectMalformedHeader(Pack(std::make_tuple(1, "7", 1, 100, Body{})));   // type a string
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, -1, 100, Body{})));    // negative id
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1.5, 100, Body{})));   // float id
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1, -100, Body{})));    // negative deadline
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1, uint64_t{1} << 40, Body{})));  // huge
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1, 100, 5)));  // body not an array
  ExpectMalformedHeader(Pack(std::make_tuple(uint64_t{1} << 33, 7, 1, 100, Body{})));
  // Replies: [version, 100, id, code, message, body].
  ExpectMalformedHeader(Pack(std::make_tuple(1, 100, 1, 0, "", Body{}, 1)));   // 7 items
  ExpectMalformedHeader(Pack(std::make_tuple(1, 100, 1, 0, Body{})));          // 5 items
  ExpectMalformedHeader(Pack(std::make_tuple(1, 100, 1, 0, 3, Body{})));       // message not str
  ExpectMalformedHeader(Pack(std::make_tuple(1, 100, 1, -2, "", Body{})));     // negative code
  ExpectMalformedHeader(Pack(std::make_tuple(1, 100, 1, 9999, "x", Body{})));  // unknown code
  ExpectMalformedHeader(Pack(std::make_tuple(1, 100, 1, 0, "", "body")));      // body not array
  // The well-formed versions of the above parse.
  EXPECT_TRUE(
      ParseMessage(MakeFrames({Pack(std::make_tuple(1, 7, 1, 100, Body{}))}), ProtocolLimits{})
          .ok());
  EXPECT_TRUE(
      ParseMessage(MakeFrames({Pack(std::make_tuple(1, 100, 1, 0, "", Body{}))}), ProtocolLimits{})
          .ok());
}

TEST(MalformedMessageTest, UnknownMessageTypes) {
  using Body = std::vector<int>;
  for (int type : {0, 24, 50, 99, 101, 255, 256, 100000}) {
    SCOPED_TRACE(type);
    ExpectMalformedHeader(Pack(std::make_tuple(1, type, 1, 100, Body{})));
  }
  // The version is not judged by the parser (the server answers kUnimplemented).
  StatusOr<ParsedMessage> future =
      ParseMessage(MakeFrames({Pack(std::make_tuple(7, 5, 1, 100, Body{}))}), ProtocolLimits{});
  ASSERT_TRUE(future.ok()) << future.status().ToString();
  EXPECT_EQ(future->version, 7u);
}

TEST(MalformedMessageTest, SizeAndCountLimits) {
  const std::string header = ValidRequestHeader();
  ProtocolLimits small_header;
  small_header.max_header_bytes = header.size() - 1;
  ExpectMalformed(MakeFrames({header, "bulk"}), small_header);

  ProtocolLimits two_frames;
  two_frames.max_frames = 2;
  EXPECT_TRUE(ParseMessage(MakeFrames({header, "bulk"}), two_frames).ok());
  ExpectMalformed(MakeFrames({header, "bulk", "extra"}), two_frames);
  ExpectMalformed(MakeFrames(std::vector<std::string>(100, header)), two_frames);

  ProtocolLimits small_frames;
  small_frames.max_frame_bytes = 16;
  ExpectMalformed(MakeFrames({header, std::string(17, 'b')}), small_frames);
  EXPECT_TRUE(ParseMessage(MakeFrames({header, std::string(16, 'b')}), small_frames).ok());

  // A string longer than max_msgpack_string.
  ProtocolLimits short_strings;
  short_strings.max_msgpack_string = 8;
  ExpectMalformedHeader(Pack(std::make_tuple(1, 5, 1, 100, std::make_tuple(std::string(9, 's')))),
                        short_strings);
  // An array longer than max_msgpack_elements.
  ProtocolLimits few_elements;
  few_elements.max_msgpack_elements = 10;
  ExpectMalformedHeader(Pack(std::make_tuple(1, 7, 1, 100, std::vector<int>(11, 0))), few_elements);
}

TEST(MalformedMessageTest, DepthBomb) {
  // [1, 7, 1, 100, [[[[...]]]]] nested far deeper than the limit.
  for (size_t depth : {size_t{17}, size_t{100}, size_t{200000}}) {
    SCOPED_TRACE(depth);
    std::string header = "\x95\x01\x07\x01\x64";
    header += std::string(depth, '\x91');  // fixarray of 1
    header += '\x90';                      // empty fixarray
    ExpectMalformedHeader(header);
  }
  // Within the limit, nesting is fine.
  std::string shallow = "\x95\x01\x07\x01\x64";
  shallow += std::string(8, '\x91');
  shallow += '\x90';
  EXPECT_TRUE(ParseMessage(MakeFrames({shallow}), ProtocolLimits{}).ok());
}

TEST(MalformedMessageTest, HugeDeclaredLengths) {
  const std::string prefix = "\x95\x01\x07\x01\x64";
  // array32 / map32 / str32 / bin32 claiming 4 G items or bytes, with nothing behind them.
  for (const std::string& tag :
       {std::string("\xdd"), std::string("\xdf"), std::string("\xdb"), std::string("\xc6")}) {
    SCOPED_TRACE(static_cast<int>(static_cast<unsigned char>(tag[0])));
    ExpectMalformedHeader(prefix + tag + std::string("\xff\xff\xff\xff", 4));
    ExpectMalformedHeader(tag + std::string("\xff\xff\xff\xff", 4));
  }
  // An outer array claiming 4 G items.
  ExpectMalformedHeader(std::string("\xdd\xff\xff\xff\xff\x01\x07", 7));
  // A length within the element limit but without the elements.
  ExpectMalformedHeader(prefix + std::string("\xdd\x00\x00\xff\x00", 5));
}

// ---- Values ----

TEST(ValueCodecTest, PlainKindsRoundTrip) {
  const std::vector<Value> values = {
      Value(),
      Value(true),
      Value(false),
      Value(int64_t{0}),
      Value(int64_t{-1}),
      Value(std::numeric_limits<int64_t>::min()),
      Value(std::numeric_limits<int64_t>::max()),
      Value(0.0),
      Value(-0.0),
      Value(3.25),
      Value(-1e300),
      Value(std::numeric_limits<double>::infinity()),
      Value(std::numeric_limits<double>::denorm_min()),
      Value(2.0),                     // msgpack-c packs it as an integer; it must come back a float
      Value(1e19),                    // ... as an unsigned integer above INT64_MAX
      Value(18446744073709549568.0),  // the largest double below 2^64
      Value(-9223372036854775808.0),
      Value(std::string()),
      Value(std::string("hello")),
      Value(std::string("nul\0inside", 10)),
      Value(std::string(70000, 'q')),
      Value(Bytes{""}),
      Value(Bytes{std::string("\0\x01\xff raw", 7)}),
      Value(Device::Cpu(0)),
      Value(Device::Cuda(7)),
      Value(DataType::Float32()),
      Value(DataType{kDLFloat, 16, 4}),
      Value(DataType::Bool()),
  };
  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 1, 100,
                                           static_cast<uint32_t>(values.size()));
  for (const Value& v : values) ASSERT_TRUE(PackPlainValue(w, v)) << v.ToString();
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  ASSERT_EQ(m.body_size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE(values[i].ToString());
    ASSERT_OK_AND_ASSIGN_MSG(std::optional<Value> back, ReadPlainValue(m.item(i), m));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->kind(), values[i].kind());
    EXPECT_TRUE(*back == values[i]) << back->ToString();
    // (-0.0 comes back equal but as +0.0: msgpack-c packs integral doubles as integers.)
  }
  // NaN survives as NaN.
  MessageWriter n = MessageWriter::Request(MessageType::kCallFunction, 1, 100, 1);
  ASSERT_TRUE(PackPlainValue(n, Value(std::nan(""))));
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage nm, ParseMessage(std::move(n).Finish(), ProtocolLimits{}));
  EXPECT_TRUE(std::isnan(ReadPlainValue(nm.item(0), nm).value()->As<double>().value()));
}

TEST(ValueCodecTest, HostArrayRoundTrips) {
  NDArray array = NDArray::Empty({3, 5}, DataType::Float32(), Device::Cpu()).value();
  for (int i = 0; i < 15; ++i) array.data_as<float>()[i] = 0.5f * static_cast<float>(i) - 3.0f;
  NDArray empty = NDArray::Empty({0, 4}, DataType::Int64(), Device::Cpu()).value();
  NDArray scalar = NDArray::Empty({}, DataType::UInt8(), Device::Cpu()).value();
  *scalar.data_as<uint8_t>() = 200;

  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 1, 100, 3);
  PackHostArray(w, array);
  PackHostArray(w, empty);
  PackHostArray(w, scalar);
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  const NDArray originals[] = {array, empty, scalar};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ReadWireKind(m.item(i)).value(), WireKind::kHostArray);
    ASSERT_OK_AND_ASSIGN_MSG(std::optional<Value> v, ReadPlainValue(m.item(i), m));
    ASSERT_TRUE(v.has_value());
    NDArray back = v->As<NDArray>().value();
    EXPECT_FALSE(back == originals[i]) << "a copy, not the same array";
    EXPECT_EQ(back.shape(), originals[i].shape());
    EXPECT_EQ(back.dtype(), originals[i].dtype());
    EXPECT_EQ(back.device(), Device::Cpu());
    ASSERT_EQ(back.NumBytes(), originals[i].NumBytes());
    EXPECT_EQ(std::memcmp(back.data(), originals[i].data(), back.NumBytes()), 0);
  }
}

TEST(ValueCodecTest, HandleKindsAreLeftToTheCaller) {
  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 1, 100, 3);
  EXPECT_FALSE(
      PackPlainValue(w, Value(NDArray::Empty({1}, DataType::Float32(), Device::Cpu()).value())));
  EXPECT_FALSE(PackPlainValue(
      w, Value(PackedFunc([](std::span<const Value>) -> StatusOr<Value> { return Value(); }))));
  auto& p = w.packer();
  p.pack(std::make_tuple(static_cast<int>(WireKind::kRemoteArray), 5));
  p.pack(std::make_tuple(static_cast<int>(WireKind::kModule), 6, "library"));
  p.pack(std::make_tuple(static_cast<int>(WireKind::kFunction), 7));
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN_MSG(std::optional<Value> v, ReadPlainValue(m.item(i), m));
    EXPECT_FALSE(v.has_value());
  }
}

TEST(ValueCodecTest, MalformedValues) {
  // Values that refer to frames: one bulk frame exists (index 1).
  MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 1, 100, 12);
  w.AddFrame(CopyFrame("12345678"));
  auto& p = w.packer();
  p.pack(std::make_tuple(static_cast<int>(WireKind::kBytes), 2));  // 0: frame out of range
  p.pack(std::make_tuple(static_cast<int>(WireKind::kBytes), 0));  // 1: the header frame
  p.pack(std::make_tuple(static_cast<int>(WireKind::kBytes), uint64_t{1} << 40));  // 2
  // 3: a host array whose frame is out of range; 4: whose frame has the wrong size.
  p.pack(std::make_tuple(static_cast<int>(WireKind::kHostArray), std::vector<int>{2},
                         std::make_tuple(2, 32, 1), 9));
  p.pack(std::make_tuple(static_cast<int>(WireKind::kHostArray), std::vector<int>{3},
                         std::make_tuple(2, 32, 1), 1));
  p.pack(std::make_tuple(12));                                          // 5: unknown kind
  p.pack(std::make_tuple(static_cast<int>(WireKind::kInt)));            // 6: missing field
  p.pack(std::make_tuple(static_cast<int>(WireKind::kInt), "7"));       // 7: wrong type
  p.pack(std::vector<int>{});                                           // 8: empty
  p.pack(std::string("int"));                                           // 9: not an array
  p.pack(std::make_tuple(static_cast<int>(WireKind::kDevice), -1, 0));  // 10: bad device
  // 11: a host array with a negative dimension.
  p.pack(std::make_tuple(static_cast<int>(WireKind::kHostArray), std::vector<int>{-2},
                         std::make_tuple(2, 32, 1), 1));
  ASSERT_OK_AND_ASSIGN_MSG(ParsedMessage m, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  ASSERT_EQ(m.body_size(), 12u);
  for (size_t i = 0; i < m.body_size(); ++i) {
    SCOPED_TRACE("item " + std::to_string(i));
    StatusOr<std::optional<Value>> v = ReadPlainValue(m.item(i), m);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << v.status().ToString();
  }
  EXPECT_EQ(m.Frame(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.Frame(2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(m.Frame(1).ok());
}

}  // namespace
}  // namespace ferry::rpc
