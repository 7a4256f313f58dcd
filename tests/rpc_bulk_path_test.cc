// The bulk path of CURVE sessions (docs/protocol.md, "Bulk path") against a real ferry-agent
// (FERRY_AGENT_PATH) with keys: 64 MiB copies both ways and a 64 MiB upload arrive intact
// through the AES-256-GCM connection; a session may keep everything on CURVE instead; and the
// worker's bulk socket gives nothing to a plaintext stranger sending garbage or a replayed
// sealed message, refuses non-bulk requests, and keeps serving its own client throughout.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>

#include "compiler/subprocess.h"
#include "rpc/curve_keys.h"
#include "rpc/frame_sealer.h"
#include "tests/agent_test_process.h"
#include "tests/model_test_util.h"
#include "tests/sanitizer_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::CurveKeyPair;
using testing::AgentProcess;
using testing::RawDealer;
using testing::Request;

// 8 MiB under ThreadSanitizer, whose instrumented copies and checks take minutes for 64 MiB.
constexpr size_t kBig = size_t{testing::kUnderThreadSanitizer ? 8 : 64} << 20;

rpc::Frames Copy(const rpc::Frames& frames) {
  rpc::Frames out;
  for (const zmq::message_t& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

std::string Pattern(size_t size, uint32_t seed) {
  std::string bytes(size, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    bytes[i] = static_cast<char>(x >> 24);
  }
  return bytes;
}

class BulkPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-bulk-path-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    ASSERT_OK_AND_ASSIGN(server_, rpc::GenerateCurveKeyPair());
    ASSERT_OK_AND_ASSIGN(client_, rpc::GenerateCurveKeyPair());
    ASSERT_OK(rpc::WriteCurveKeyPair(Path("server"), server_, false));
    ASSERT_OK(WriteFileAtomically(Path("authorized_keys"), client_.public_key + " client\n"));
    ASSERT_OK(
        agent_.Start(dir_->path(), Path("work"),
                     {"--identity", Path("server"), "--authorized-keys", Path("authorized_keys")}));
  }

  void TearDown() override {
    agent_.Stop(SIGTERM, 10s);
    if (HasFailure()) std::cout << "---- agent log\n" << agent_.Log() << "\n";
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  rpc::ConnectOptions Options(bool use_bulk_path = true) {
    rpc::ConnectOptions options;
    options.timeout = 30s * testing::kSanitizerSlowdown;
    options.channel.curve_identity = client_;
    options.channel.curve_server_key = server_.public_key;
    options.use_bulk_path = use_bulk_path;
    return options;
  }

  std::unique_ptr<compiler::TempDir> dir_;
  CurveKeyPair server_, client_;
  AgentProcess agent_;
};

// Copies `bytes` to a new remote array and back, and checks them.
void ExpectCopiesIntact(rpc::RemoteSession& remote, const std::string& bytes) {
  const int64_t n = static_cast<int64_t>(bytes.size());
  ASSERT_OK_AND_ASSIGN(NDArray host, NDArray::Empty({n}, DataType::UInt8(), Device::Cpu()));
  std::memcpy(host.data(), bytes.data(), bytes.size());
  ASSERT_OK_AND_ASSIGN(NDArray array, remote.Empty({n}, DataType::UInt8(), remote.Cpu()));
  ASSERT_OK(array.CopyFrom(host));
  ASSERT_OK_AND_ASSIGN(NDArray back, NDArray::Empty({n}, DataType::UInt8(), Device::Cpu()));
  std::memset(back.data(), 0, bytes.size());
  ASSERT_OK(back.CopyFrom(array));
  EXPECT_EQ(std::memcmp(back.data(), bytes.data(), bytes.size()), 0) << "bytes changed";
}

TEST_F(BulkPathTest, CopiesAndUploadsArriveIntact) {
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, rpc::Connect(agent_.endpoint(), Options()));
  EXPECT_TRUE(remote.core()->endpoint().has_bulk_path());
  const std::string bytes = Pattern(kBig, 7);
  ExpectCopiesIntact(remote, bytes);
  // Not a multiple of the chunk size.
  ExpectCopiesIntact(remote, Pattern((5 << 20) + 3, 8));

  ASSERT_OK(remote.UploadBytes(bytes, "big.bin"));
  ASSERT_OK_AND_ASSIGN(std::string downloaded, remote.Download("big.bin"));
  EXPECT_TRUE(downloaded == bytes) << "the upload changed bytes";
  // Calls on the CURVE connection are unaffected.
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
  ASSERT_OK_AND_ASSIGN(Value back, echo.Call(std::string("after bulk")));
  EXPECT_EQ(back.As<std::string>().value(), "after bulk");
  EXPECT_EQ(agent_.Log().find("bulk_message_dropped"), std::string::npos) << agent_.Log();
}

TEST_F(BulkPathTest, ASessionMayKeepEverythingOnCurve) {
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote,
                       rpc::Connect(agent_.endpoint(), Options(/*use_bulk_path=*/false)));
  EXPECT_FALSE(remote.core()->endpoint().has_bulk_path());
  ExpectCopiesIntact(remote, Pattern(9 << 20, 9));
}

TEST_F(BulkPathTest, StrangersAndReplaysGetNothingAndTheSessionGoesOn) {
  // The session opened by hand, to learn the bulk port and key from the Hello reply.
  RawDealer agent(agent_.endpoint(), client_, server_.public_key);
  ASSERT_OK_AND_ASSIGN(testing::OpenedSession opened, testing::OpenSessionRaw(agent));
  RawDealer worker(opened.worker_endpoint, client_, server_.public_key);
  ASSERT_OK_AND_ASSIGN(
      rpc::ParsedMessage hello,
      worker.Call(Request(rpc::MessageType::kHello, 1, 1,
                          [&](rpc::MessageWriter& w) { w.packer().pack(opened.token); })));
  ASSERT_OK(hello.status);
  ASSERT_EQ(hello.body_size(), 2u) << "a CURVE worker offers [bulk_port, bulk_key]";
  ASSERT_OK_AND_ASSIGN(uint64_t port, rpc::ReadUint(hello.item(0), "port"));
  ASSERT_EQ(hello.item(1).type, msgpack::type::BIN);
  const std::string key(hello.item(1).via.bin.ptr, hello.item(1).via.bin.size);
  ASSERT_EQ(key.size(), rpc::kBulkKeyBytes);
  const std::string bulk_endpoint =
      opened.worker_endpoint.substr(0, opened.worker_endpoint.rfind(':') + 1) +
      std::to_string(port);

  ASSERT_OK_AND_ASSIGN(
      rpc::ParsedMessage alloc,
      worker.Call(Request(rpc::MessageType::kAllocArray, 2, 3, [](rpc::MessageWriter& w) {
        rpc::PackShape(w.packer(), {16});
        rpc::PackDataType(w.packer(), DataType::UInt8());
        rpc::PackDevice(w.packer(), Device::Cpu());
      })));
  ASSERT_OK(alloc.status);
  ASSERT_OK_AND_ASSIGN(uint64_t handle, rpc::ReadUint(alloc.item(0).via.array.ptr[1], "handle"));

  ASSERT_OK_AND_ASSIGN(rpc::MessageSealer sealer,
                       rpc::MessageSealer::Create(key, rpc::SealDirection::kClientToWorker));
  ASSERT_OK_AND_ASSIGN(rpc::MessageOpener opener,
                       rpc::MessageOpener::Create(key, rpc::SealDirection::kWorkerToClient));
  RawDealer bulk(bulk_endpoint);
  // Sends a sealed request on `bulk` and opens the reply.
  auto call = [&](rpc::Frames request) -> StatusOr<rpc::ParsedMessage> {
    ASSIGN_OR_RETURN(rpc::Frames sealed, sealer.Seal(request));
    bulk.Send(std::move(sealed));
    std::optional<rpc::Frames> reply = bulk.Receive(5s);
    if (!reply) return DeadlineExceededError("no bulk reply");
    ASSIGN_OR_RETURN(rpc::Frames opened_reply, opener.Open(*reply));
    return rpc::ParseMessage(std::move(opened_reply), rpc::ProtocolLimits{});
  };

  // A stranger's garbage before the client's first message binds the socket.
  RawDealer stranger(bulk_endpoint);
  stranger.Send(Request(rpc::MessageType::kCopyFromRemote, 3, 3, [&](rpc::MessageWriter& w) {
    w.packer().pack(handle);
    w.packer().pack(0);
    w.packer().pack(16);
  }));
  EXPECT_FALSE(stranger.Receive(500ms).has_value()) << "a plaintext request was answered";

  const std::string payload = "0123456789abcdef";
  rpc::Frames write = Request(rpc::MessageType::kCopyToRemote, 4, 2, [&](rpc::MessageWriter& w) {
    w.packer().pack(handle);
    w.packer().pack(0);
    w.AddFrame(rpc::CopyFrame(payload));
  });
  ASSERT_OK_AND_ASSIGN(rpc::Frames captured, sealer.Seal(write));
  bulk.Send(Copy(captured));
  std::optional<rpc::Frames> written = bulk.Receive(5s);
  ASSERT_TRUE(written.has_value());
  ASSERT_OK_AND_ASSIGN(rpc::Frames written_open, opener.Open(*written));
  ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage write_reply,
                       rpc::ParseMessage(std::move(written_open), rpc::ProtocolLimits{}));
  ASSERT_OK(write_reply.status);
  EXPECT_EQ(write_reply.request_id, 4u);

  // The captured message replayed by a stranger, and on the client's own connection; garbage.
  stranger.Send(Copy(captured));
  EXPECT_FALSE(stranger.Receive(500ms).has_value()) << "a replay from a stranger was answered";
  RawDealer another(bulk_endpoint);
  another.Send(Copy(captured));
  another.Send(rpc::Frames(2));
  EXPECT_FALSE(another.Receive(500ms).has_value()) << "a replay was answered";
  bulk.Send(Copy(captured));
  EXPECT_FALSE(bulk.Receive(500ms).has_value()) << "a replay on the bound connection was answered";
  rpc::Frames garbage;
  garbage.emplace_back(std::string(100, 'g').data(), 100);
  bulk.Send(std::move(garbage));
  EXPECT_FALSE(bulk.Receive(500ms).has_value()) << "garbage was answered";

  // The session goes on: the bytes are there, and a non-bulk request on the bulk connection is
  // refused.
  ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage read, call(Request(rpc::MessageType::kCopyFromRemote, 5,
                                                             3, [&](rpc::MessageWriter& w) {
                                                               w.packer().pack(handle);
                                                               w.packer().pack(0);
                                                               w.packer().pack(16);
                                                             })));
  ASSERT_OK(read.status);
  ASSERT_OK_AND_ASSIGN(const zmq::message_t* frame, read.Frame(1));
  EXPECT_EQ(frame->to_string(), payload);
  ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage refused,
                       call(Request(rpc::MessageType::kGetGlobalFunction, 6, 1,
                                    [](rpc::MessageWriter& w) { w.packer().pack("ferry.echo"); })));
  EXPECT_EQ(refused.status.code(), StatusCode::kPermissionDenied) << refused.status.ToString();
  ASSERT_OK_AND_ASSIGN(
      rpc::ParsedMessage echo,
      worker.Call(Request(rpc::MessageType::kGetGlobalFunction, 7, 1,
                          [](rpc::MessageWriter& w) { w.packer().pack("ferry.echo"); })));
  EXPECT_TRUE(echo.status.ok()) << echo.status.ToString();
  EXPECT_TRUE(testing::WaitFor(
      [&] { return agent_.Log().find("bulk_message_dropped") != std::string::npos; }, 5s))
      << agent_.Log();
}

}  // namespace
}  // namespace ferry
