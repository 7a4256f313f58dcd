// Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/<seed>, each made
// from real messages and files produced by Ferry's own writers (and, for ONNX, tiny models from
// Debian's libonnx-testdata). Usage: fuzz_make_seeds CORPUS_DIR. The committed corpus was
// written by it; the curve keys are random, so a rerun changes those seeds.
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "rpc/agent_heartbeat.h"
#include "rpc/curve_keys.h"
#include "rpc/frame_sealer.h"
#include "rpc/message.h"
#include "rpc/ticket.h"
#include "rpc/value_codec.h"
#include "runtime/graph.h"
#include "runtime/library_manifest.h"
#include "runtime/npy.h"
#include "runtime/params.h"
#include "tests/fuzz/fuzz_util.h"

namespace fs = std::filesystem;
using namespace ferry;
using namespace ferry::rpc;

namespace {

fs::path g_root;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

std::string WithMode(char mode, std::string_view bytes) { return mode + std::string(bytes); }

NDArray FloatArray(std::vector<int64_t> shape) {
  NDArray a = NDArray::Empty(std::move(shape), DataType::Float32(), Device::Cpu()).value();
  const int64_t n = ShapeNumElements(a.shape()).value();
  for (int64_t i = 0; i < n; ++i) a.data_as<float>()[i] = 0.25f * static_cast<float>(i) - 1.0f;
  return a;
}

// input x [2, 8] -> relu -> bias_add(bias) -> output (as tests/graph_test_util.h).
ExecGraph SmallGraph() {
  ExecGraph g;
  g.entries = {{{2, 8}, DataType::Float32()},
               {{8}, DataType::Float32()},
               {{2, 8}, DataType::Float32()},
               {{2, 8}, DataType::Float32()}};
  g.inputs = {{"x", 0}};
  g.params = {{"bias", 1}};
  g.nodes = {{"a", "relu", "f_a", {0}, {2}}, {"b", "bias_add", "f_b", {2, 1}, {3}}};
  g.outputs = {3};
  return g;
}

ParamMap SmallParams() {
  ParamMap params;
  params.emplace("bias", FloatArray({8}));
  NDArray steps = NDArray::Empty({3}, DataType::Int64(), Device::Cpu()).value();
  for (int i = 0; i < 3; ++i) steps.data_as<int64_t>()[i] = int64_t{1} << (10 * i);
  params.emplace("steps", steps);
  params.emplace("empty", NDArray::Empty({0, 3}, DataType::Float32(), Device::Cpu()).value());
  return params;
}

// Requests and replies of a session, as the client and the worker send them.
std::vector<std::pair<std::string, Frames>> SessionMessages() {
  std::vector<std::pair<std::string, Frames>> out;
  {
    MessageWriter w = MessageWriter::Request(MessageType::kOpenSession, 1, 5000, 3);
    w.packer().pack(kMinProtocolVersion);
    w.packer().pack(kMaxProtocolVersion);
    w.packer().pack(std::string("agent|client|7|1800000000000|") + std::string(64, 'a'));
    out.emplace_back("open_session", std::move(w).Finish());
  }
  {
    MessageWriter w = MessageWriter::Request(MessageType::kCallFunction, 2, 5000, 2);
    w.packer().pack(uint64_t{3});
    w.packer().pack_array(8);
    PackPlainValue(w, Value(nullptr));
    PackPlainValue(w, Value(true));
    PackPlainValue(w, Value(int64_t{-42}));
    PackPlainValue(w, Value(1.5));
    PackPlainValue(w, Value(std::string("set_input")));
    PackPlainValue(w, Value(Bytes{"raw bytes"}));
    PackPlainValue(w, Value(Device::Cpu()));
    PackHostArray(w, FloatArray({2, 3}));
    out.emplace_back("call_function", std::move(w).Finish());
  }
  {
    MessageWriter w = MessageWriter::Request(MessageType::kAllocArray, 3, 5000, 3);
    PackShape(w.packer(), {1, 3, 4, 4});
    PackDataType(w.packer(), DataType::Float32());
    PackDevice(w.packer(), Device::Cpu());
    out.emplace_back("alloc_array", std::move(w).Finish());
  }
  {
    MessageWriter w = MessageWriter::Request(MessageType::kUploadChunk, 4, 5000, 2);
    w.packer().pack(std::string("model.so"));
    w.packer().pack(uint64_t{0});
    w.AddFrame(
        CopyFrame("\x7f"
                  "ELF chunk bytes"));
    out.emplace_back("upload_chunk", std::move(w).Finish());
  }
  {
    MessageWriter w = MessageWriter::Reply(5, Status(), 1);
    w.packer().pack_array(4);
    w.packer().pack_uint8(static_cast<uint8_t>(WireKind::kRemoteArray));
    w.packer().pack(uint64_t{9});
    PackShape(w.packer(), {2, 2});
    PackDataType(w.packer(), DataType::Float32());
    out.emplace_back("reply_array", std::move(w).Finish());
  }
  out.emplace_back(
      "reply_error",
      std::move(MessageWriter::Reply(6, NotFoundError("no such function"), 0)).Finish());
  return out;
}

// A session as session_server_fuzz.cc reads it: the mode byte, then messages, each a
// connection byte ('c' even: the client; 'i' odd: an intruder) and the message's frames.
std::string SessionScript(char mode, const std::vector<std::pair<char, Frames>>& messages) {
  Frames outer;
  for (const auto& [connection, frames] : messages) {
    const std::string message = connection + fuzz::JoinFrames(frames);
    outer.emplace_back(message.data(), message.size());
  }
  return WithMode(mode, fuzz::JoinFrames(outer));
}

void WriteSessionServerSeeds() {
  auto request = [](MessageType type, uint64_t id, uint32_t items,
                    const std::function<void(MessageWriter&)>& body) {
    MessageWriter w = MessageWriter::Request(type, id, 5000, items);
    body(w);
    return std::move(w).Finish();
  };
  auto hello = [&](const std::string& token) {
    return request(MessageType::kHello, 1, 1, [&](MessageWriter& w) { w.packer().pack(token); });
  };
  auto get_echo = request(MessageType::kGetGlobalFunction, 2, 1,
                          [](MessageWriter& w) { w.packer().pack(std::string("ferry.echo")); });
  auto call_echo = request(MessageType::kCallFunction, 3, 2, [](MessageWriter& w) {
    w.packer().pack(uint64_t{1});
    w.packer().pack_array(2);
    PackPlainValue(w, Value(std::string("ping")));
    PackHostArray(w, FloatArray({2, 2}));
  });
  auto alloc = request(MessageType::kAllocArray, 4, 3, [](MessageWriter& w) {
    PackShape(w.packer(), {4, 4});
    PackDataType(w.packer(), DataType::Float32());
    PackDevice(w.packer(), Device::Cpu());
  });
  auto copy_to = request(MessageType::kCopyToRemote, 5, 2, [](MessageWriter& w) {
    w.packer().pack(uint64_t{2});
    w.packer().pack(uint64_t{0});
    w.AddFrame(CopyFrame(std::string(64, '\x01')));
  });
  auto copy_from = request(MessageType::kCopyFromRemote, 6, 3, [](MessageWriter& w) {
    w.packer().pack(uint64_t{2});
    w.packer().pack(uint64_t{0});
    w.packer().pack(uint64_t{64});
  });
  auto attributes = request(MessageType::kDeviceAttributes, 7, 1,
                            [](MessageWriter& w) { PackDevice(w.packer(), Device::Cpu()); });
  auto release = request(MessageType::kReleaseHandles, 8, 1, [](MessageWriter& w) {
    w.packer().pack_array(2);
    w.packer().pack(uint64_t{1});
    w.packer().pack(uint64_t{2});
  });
  auto sequence = request(MessageType::kCallSequence, 9, 2, [](MessageWriter& w) {
    w.packer().pack_array(2);
    for (int i = 0; i < 2; ++i) {
      w.packer().pack_array(2);
      w.packer().pack(uint64_t{1});
      w.packer().pack_array(1);
      PackHostArray(w, FloatArray({2, 2}));
    }
    w.packer().pack(uint64_t{1024});
  });
  auto close = request(MessageType::kCloseSession, 10, 0, [](MessageWriter&) {});
  std::vector<std::pair<char, Frames>> work;
  for (Frames* frames : {&get_echo, &call_echo, &alloc, &copy_to, &copy_from, &attributes,
                         &sequence, &release, &close}) {
    work.emplace_back('c', std::move(*frames));
  }
  Write("session_server", "work", SessionScript(0, work));
  const std::string token = "0123456789abcdef0123456789abcdef";
  std::vector<std::pair<char, Frames>> handshake;
  handshake.emplace_back('c', hello("wrong-token"));
  handshake.emplace_back('i', hello(token));
  handshake.emplace_back('c', hello(token));
  handshake.emplace_back('i', hello(token));
  Write("session_server", "handshake", SessionScript(1, handshake));
}

AgentHeartbeat SampleHeartbeat() {
  AgentHeartbeat hb;
  hb.agent_id = "agent-1";
  hb.key = "rk3588";
  hb.address = "tcp://10.0.0.5:9190";
  hb.devices = {{"cpu", 1, 8ull << 30, "Cortex-A76"}};
  hb.tags = {{"arch", "aarch64"}, {"gpu", "mali"}};
  hb.active_leases = {17};
  hb.public_key = GenerateCurveKeyPair().value().public_key;
  return hb;
}

// The `signed` bin of a signed tracker message.
std::string SignedBytes(Frames frames) {
  ParsedMessage m = ParseMessage(std::move(frames), ProtocolLimits{}).value();
  const msgpack::object& bin = m.item(0);
  return std::string(bin.via.bin.ptr, bin.via.bin.size);
}

void WriteAll(const fs::path& onnx_root) {
  WriteSessionServerSeeds();
  // message, value_codec: session messages and tracker messages.
  for (auto& [name, frames] : SessionMessages()) {
    const std::string joined = fuzz::JoinFrames(frames);
    Write("message", name, joined);
    Write("value_codec", name, joined);
  }
  const SignedStamp stamp{1, fuzz::kFuzzNowMs};
  const Frames heartbeat = EncodeAgentHeartbeat(SampleHeartbeat(), fuzz::kFuzzSecret, stamp, 3000);
  const Frames goodbye = EncodeAgentGoodbye({"agent-1", ""}, fuzz::kFuzzSecret, stamp, 3000);
  Write("message", "heartbeat", fuzz::JoinFrames(heartbeat));
  {
    MessageWriter w = MessageWriter::Request(MessageType::kRequestDevice, 8, 60000, 4);
    w.packer().pack(std::string("rk3588"));
    w.packer().pack_map(1);
    w.packer().pack(std::string("arch"));
    w.packer().pack(std::string("aarch64"));
    w.packer().pack(int64_t{5});
    w.packer().pack(uint32_t{60000});
    Write("message", "request_device", fuzz::JoinFrames(std::move(w).Finish()));
  }

  // tracker_message: mode 0 whole messages, mode 1/3 the signed bytes.
  Write("tracker_message", "heartbeat", WithMode(0, fuzz::JoinFrames(heartbeat)));
  Write("tracker_message", "goodbye", WithMode(0, fuzz::JoinFrames(goodbye)));
  Write("tracker_message", "heartbeat_signed",
        WithMode(1, SignedBytes(
                        EncodeAgentHeartbeat(SampleHeartbeat(), fuzz::kFuzzSecret, stamp, 3000))));
  Write("tracker_message", "goodbye_signed",
        WithMode(3,
                 SignedBytes(EncodeAgentGoodbye({"agent-1", ""}, fuzz::kFuzzSecret, stamp, 3000))));

  // ticket: a valid ticket (mode 0) and its payload (mode 1).
  const Ticket ticket{"agent-1", "client-7", 42, fuzz::kFuzzNowMs + 60000};
  const std::string signed_ticket = SignTicket(ticket, fuzz::kFuzzSecret).value();
  Write("ticket", "valid", WithMode(0, signed_ticket));
  Write("ticket", "payload", WithMode(1, signed_ticket.substr(0, signed_ticket.rfind('|'))));

  // npy: a few dtypes and ranks.
  Write("npy", "float32_2x3", SerializeNpy(FloatArray({2, 3})).value());
  Write("npy", "float32_scalar", SerializeNpy(FloatArray({})).value());
  Write("npy", "int64_4", SerializeNpy(SmallParams()["steps"]).value());
  {
    NDArray b = NDArray::Empty({3}, DataType::Bool(), Device::Cpu()).value();
    for (int i = 0; i < 3; ++i) static_cast<uint8_t*>(b.data())[i] = i % 2;
    Write("npy", "bool_3", SerializeNpy(b).value());
  }

  // params, library_manifest (mode 1: checksum recomputed), graph.
  const std::string params = SerializeParams(SmallParams()).value();
  Write("params", "small", WithMode(1, params));
  Write("params", "small_raw", WithMode(0, params));
  LibraryManifest manifest;
  ModelRecord graph_model{"net", ExecutorKind::kGraph, SmallGraph(), true, params, "", 0};
  ModelRecord aot_model{"net_aot", ExecutorKind::kAot, SmallGraph(), false,
                        "",        "net_aot_entry",    4096};
  manifest.models = {graph_model, aot_model};
  const std::string blob = SerializeManifest(manifest);
  Write("library_manifest", "two_models", WithMode(1, blob));
  Write("library_manifest", "two_models_raw", WithMode(0, blob));
  BinaryWriter graph;
  SmallGraph().Serialize(graph);
  Write("graph", "small", graph.Release());

  // onnx: tiny models of ONNX's own backend tests.
  for (const char* name :
       {"test_relu", "test_add_bcast", "test_gemm_default_matrix_bias",
        "test_conv_with_strides_padding", "test_reshape_reduced_dims", "test_softmax_axis_1",
        "test_maxpool_2d_default", "test_transpose_default", "test_concat_2d_axis_0"}) {
    const fs::path model = onnx_root / "node" / name / "model.onnx";
    std::ifstream in(model, std::ios::binary);
    if (!in) throw std::runtime_error("missing " + model.string() + " (libonnx-testdata)");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    Write("onnx", name, bytes.str());
  }

  // file_label.
  int n = 0;
  for (const char* label : {"model.so", "resnet18.params", "-dash", "\xc3\xbc.txt", "a b"}) {
    Write("file_label", "label_" + std::to_string(++n), label);
  }

  // curve_keys: an authorized-keys file and a public-key file.
  const std::string key1 = GenerateCurveKeyPair().value().public_key;
  const std::string key2 = GenerateCurveKeyPair().value().public_key;
  Write("curve_keys", "authorized_keys",
        "# clients\n" + key1 + " alice\n\n" + key2 + "\tbob # laptop\n");
  Write("curve_keys", "public_key", key1 + "\n");

  // frame_sealer: plaintext frames (mode 1) and a sealed message (mode 0).
  Frames plain;
  plain.push_back(CopyFrame(fuzz::JoinFrames(SessionMessages()[0].second)));
  plain.push_back(CopyFrame(std::string(64, '\x11')));
  Write("frame_sealer", "plain", WithMode(1, fuzz::JoinFrames(plain)));
  MessageSealer sealer = std::move(
      MessageSealer::Create(std::string(kBulkKeyBytes, '\x5a'), SealDirection::kClientToWorker)
          .value());
  Write("frame_sealer", "sealed", WithMode(0, fuzz::JoinFrames(sealer.Seal(plain).value())));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds CORPUS_DIR\n";
    return 2;
  }
  g_root = argv[1];
  try {
    WriteAll("/usr/share/libonnx-testdata/data");
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  std::cout << "fuzz_make_seeds: wrote " << g_root.string() << "\n";
  return 0;
}
