// How tensor bytes travel in a session (docs/protocol.md, "Tensors in calls", "Bulk
// transfers"), over an in-memory channel with a SessionServer on a thread that counts the
// requests it serves by type and records the largest frame it was sent:
//   - a small array result comes with its bytes, so copying it to the host costs no request,
//     and only until the next request (which may change it);
//   - a large host array argument streams in chunks into a remote array first, and a small
//     one is used by the server straight from the frame it arrived in;
//   - host-to-remote copies lend the caller's buffer to the transport without copying it and
//     return only once the transport has let go of it, or abandon the session when it never
//     does;
//   - bad input (an inline result of the wrong size) is a clear error.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "rpc/chunk_stream.h"
#include "rpc/client_session.h"
#include "rpc/frame_loan.h"
#include "rpc/in_memory_channel.h"
#include "rpc/remote_objects.h"
#include "rpc/session_server.h"
#include "rpc/value_codec.h"
#include "tests/model_test_util.h"

namespace ferry::rpc {
namespace {

using namespace std::chrono_literals;

using testing::PatternBytes;
using testing::SameBytes;

// A channel in front of the client's end that keeps a share of every bulk frame it sends
// (as ZeroMQ keeps a message until its I/O thread has written it) and lets go of them
// `hold_for` after the send, or, with no `hold_for`, only when it is destroyed.
class HoldingChannel final : public Channel {
 public:
  HoldingChannel(std::unique_ptr<Channel> inner, std::optional<std::chrono::milliseconds> hold_for)
      : inner_(std::move(inner)), hold_for_(hold_for), releaser_([this] { ReleaseLoop(); }) {}
  ~HoldingChannel() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    releaser_.join();
    std::lock_guard lock(mutex_);
    held_.clear();
  }

  Status Send(Frames frames, Deadline deadline) override {
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 1; i < frames.size(); ++i) {
        held_.push_back({Clock::now(), ShareFrame(frames[i])});
      }
    }
    changed_.notify_all();
    return inner_->Send(std::move(frames), deadline);
  }
  StatusOr<std::optional<Frames>> Receive(Deadline deadline) override {
    return inner_->Receive(deadline);
  }

  // Frames let go of so far, and the time of the last.
  int released() {
    std::lock_guard lock(mutex_);
    return released_;
  }
  Clock::time_point last_release() {
    std::lock_guard lock(mutex_);
    return last_release_;
  }

 private:
  struct Held {
    Clock::time_point sent;
    zmq::message_t frame;
  };
  void ReleaseLoop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (held_.empty() || !hold_for_) {
        changed_.wait(lock);
        continue;
      }
      const Clock::time_point due = held_.front().sent + *hold_for_;
      if (Clock::now() < due) {
        changed_.wait_until(lock, due);
        continue;
      }
      // The time first: dropping the frame may wake the copy, which then reads its own clock.
      last_release_ = Clock::now();
      held_.erase(held_.begin());
      ++released_;
    }
  }

  std::unique_ptr<Channel> inner_;
  std::optional<std::chrono::milliseconds> hold_for_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Held> held_;
  int released_ = 0;
  Clock::time_point last_release_;
  bool stop_ = false;
  std::thread releaser_;
};

class TensorPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    using Args = std::span<const Value>;
    // A live output buffer, as an executor's get_output returns one.
    output_ = PatternBytes(4096, 1);
    Add("test.output", [this](Args) -> StatusOr<Value> { return Value(output_); });
    Add("test.fill", [this](Args args) -> StatusOr<Value> {
      ASSIGN_OR_RETURN(int64_t v, GetArg<int64_t>("test.fill", args, 0));
      std::memset(output_.data(), static_cast<int>(v), output_.NumBytes());
      return Value();
    });
    Add("test.big",
        [](Args) -> StatusOr<Value> { return Value(PatternBytes(size_t{1} << 20, 2)); });
    // What the server saw of its argument: its device and data pointer.
    Add("test.look", [this](Args args) -> StatusOr<Value> {
      ASSIGN_OR_RETURN(NDArray a, GetArg<NDArray>("test.look", args, 0));
      seen_device_ = a.device();
      seen_data_ = a.data();
      return Value(static_cast<int64_t>(a.NumBytes()));
    });
    Add("test.echo", [](Args args) -> StatusOr<Value> { return args[0]; });
  }

  void TearDown() override {
    remote_.reset();
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  void Add(const std::string& name, PackedFunc::Body body) {
    ASSERT_TRUE(registry_.Register(name, PackedFunc(std::move(body))).ok()) << name;
  }

  // Starts the server and a greeted client; `hold_for` puts a HoldingChannel in front of the
  // client's end (nullopt holds frames until the channel is destroyed).
  void Start(bool holding = false, std::optional<std::chrono::milliseconds> hold_for = {},
             std::chrono::milliseconds timeout = 10s) {
    server_ = std::make_unique<SessionServer>(&registry_, nullptr, SessionServerOptions{});
    auto [client, server] = MakeInMemoryChannelPair();
    server_channel_ = std::move(server);
    thread_ = std::thread([this] { Serve(); });
    std::unique_ptr<Channel> client_channel = std::move(client);
    if (holding) {
      auto holder = std::make_unique<HoldingChannel>(std::move(client_channel), hold_for);
      holding_ = holder.get();
      client_channel = std::move(holder);
    }
    auto core = MakeObject<SessionCore>(std::move(client_channel), nullptr, "test", timeout);
    core_ = core.get();
    remote_.emplace(std::move(core));
    ASSERT_OK(core_->endpoint().Call(MessageType::kHello, 1,
                                     [](MessageWriter& w) { w.packer().pack(""); }));
  }

  void Serve() {
    while (!stop_.load()) {
      StatusOr<std::optional<Frames>> got = server_channel_->Receive(Clock::now() + 20ms);
      if (!got.ok()) break;
      if (!got->has_value()) continue;
      std::optional<Frames> reply;
      {
        std::lock_guard lock(mutex_);
        StatusOr<ParsedMessage> parsed = ParseMessage(Copy(**got), ProtocolLimits{});
        if (parsed.ok()) ++served_[parsed->type];
        for (const zmq::message_t& f : **got) largest_frame_ = std::max(largest_frame_, f.size());
        reply = server_->Handle(std::move(**got));
      }
      if (reply && !server_channel_->Send(std::move(*reply), Clock::now() + 5s).ok()) break;
    }
  }

  // A copy that shares the frames, so that the server still gets the originals.
  static Frames Copy(const Frames& frames) {
    Frames out;
    for (const zmq::message_t& f : frames) out.push_back(ShareFrame(f));
    return out;
  }

  int Served(MessageType type) {
    std::lock_guard lock(mutex_);
    return served_[type];
  }
  int ServedTotal() {
    std::lock_guard lock(mutex_);
    int total = 0;
    for (const auto& [type, count] : served_) total += count;
    return total;
  }
  size_t NumHandles() {
    std::lock_guard lock(mutex_);
    return server_->num_handles();
  }

  PackedFunc Global(const std::string& name) {
    StatusOr<PackedFunc> f = remote_->GetFunction(name);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? *f : PackedFunc();
  }

  FunctionRegistry registry_;
  NDArray output_;
  Device seen_device_;
  void* seen_data_ = nullptr;
  std::unique_ptr<SessionServer> server_;
  std::unique_ptr<Channel> server_channel_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<MessageType, int> served_;
  size_t largest_frame_ = 0;
  HoldingChannel* holding_ = nullptr;
  SessionCore* core_ = nullptr;
  std::optional<RemoteSession> remote_;
};

TEST_F(TensorPathTest, SmallResultIsCopiedToTheHostWithoutARoundTrip) {
  Start();
  PackedFunc output = Global("test.output");
  ASSERT_OK_AND_ASSIGN(Value result, output.Call());
  ASSERT_OK_AND_ASSIGN(NDArray remote_output, result.As<NDArray>());
  EXPECT_TRUE(remote_output.device().is_remote());
  const int before = ServedTotal();
  ASSERT_OK_AND_ASSIGN(NDArray host, remote_output.CopyTo(Device::Cpu()));
  EXPECT_EQ(ServedTotal(), before) << "the bytes came with the call";
  EXPECT_TRUE(SameBytes(host, output_));
  // Again, still without a request.
  ASSERT_OK_AND_ASSIGN(NDArray again, remote_output.CopyTo(Device::Cpu()));
  EXPECT_EQ(ServedTotal(), before);
  EXPECT_TRUE(SameBytes(again, output_));
}

TEST_F(TensorPathTest, InlineBytesAreNotUsedOnceAnotherRequestMayHaveChangedThem) {
  Start();
  PackedFunc output = Global("test.output");
  PackedFunc fill = Global("test.fill");
  ASSERT_OK_AND_ASSIGN(Value result, output.Call());
  ASSERT_OK_AND_ASSIGN(NDArray remote_output, result.As<NDArray>());
  ASSERT_OK(fill.Call(7));  // changes the array behind remote_output
  const int copies = Served(MessageType::kCopyFromRemote);
  ASSERT_OK_AND_ASSIGN(NDArray host, remote_output.CopyTo(Device::Cpu()));
  EXPECT_EQ(Served(MessageType::kCopyFromRemote), copies + 1);
  for (size_t i = 0; i < host.NumBytes(); ++i) ASSERT_EQ(host.data_as<uint8_t>()[i], 7) << i;
}

TEST_F(TensorPathTest, LargeResultsAndSessionsThatAskForNoneCopyOnRequest) {
  Start();
  PackedFunc big = Global("test.big");
  ASSERT_OK_AND_ASSIGN(Value result, big.Call());
  int copies = Served(MessageType::kCopyFromRemote);
  ASSERT_OK_AND_ASSIGN(NDArray host, result.As<NDArray>()->CopyTo(Device::Cpu()));
  EXPECT_GT(Served(MessageType::kCopyFromRemote), copies) << "1 MiB is over the inline limit";
  EXPECT_TRUE(SameBytes(host, PatternBytes(size_t{1} << 20, 2)));

  core_->codec().set_inline_result_bytes(0);
  PackedFunc output = Global("test.output");
  ASSERT_OK_AND_ASSIGN(Value small, output.Call());
  copies = Served(MessageType::kCopyFromRemote);
  ASSERT_OK_AND_ASSIGN(NDArray small_host, small.As<NDArray>()->CopyTo(Device::Cpu()));
  EXPECT_EQ(Served(MessageType::kCopyFromRemote), copies + 1);
  EXPECT_TRUE(SameBytes(small_host, output_));
}

TEST_F(TensorPathTest, LargeArgumentStreamsInChunksAndArrivesIntact) {
  Start();
  const size_t size = 3 * kChunkBytes + 12345;
  const NDArray host = PatternBytes(size, 3);
  PackedFunc echo = Global("test.echo");
  const size_t handles = NumHandles();
  ASSERT_OK_AND_ASSIGN(Value result, echo.Call(host));
  EXPECT_EQ(Served(MessageType::kAllocArray), 1);
  EXPECT_GE(Served(MessageType::kCopyToRemote), 4);
  EXPECT_EQ(Served(MessageType::kCallFunction), 1);
  EXPECT_LE(largest_frame_, kChunkBytes) << "no frame carried more than a chunk";
  ASSERT_OK_AND_ASSIGN(NDArray back, result.As<NDArray>()->CopyTo(Device::Cpu()));
  EXPECT_TRUE(SameBytes(back, host));
  // The staged array's handle goes with the next request (the echoed result holds another).
  result = Value();
  ASSERT_OK(echo.Call(1));
  EXPECT_EQ(NumHandles(), handles);
}

TEST_F(TensorPathTest, SmallArgumentIsUsedStraightFromItsFrame) {
  Start();
  PackedFunc look = Global("test.look");
  // Over the in-memory channel the frame is the client's own buffer: no copy on the way.
  const NDArray host = testing::RandomArray({16, 16}, 4);
  ASSERT_OK_AND_ASSIGN(Value bytes, look.Call(host));
  EXPECT_EQ(bytes.As<int64_t>().value(), 1024);
  EXPECT_EQ(seen_device_, Device::Cpu());
  EXPECT_EQ(seen_data_, host.data());
  EXPECT_EQ(Served(MessageType::kAllocArray), 0);
}

// Minor page faults of this process so far.
long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

TEST_F(TensorPathTest, RepeatedCopiesToNewHostArraysReuseTheirMemory) {
  Start();
  const size_t size = size_t{32} << 20;
  const NDArray host = PatternBytes(size, 7);
  ASSERT_OK_AND_ASSIGN(NDArray remote_array, remote_->Empty({static_cast<int64_t>(size)},
                                                            DataType::UInt8(), remote_->Cpu()));
  ASSERT_OK(remote_array.CopyFrom(host));
  ASSERT_OK(remote_array.CopyTo(Device::Cpu()));  // the first lands on fresh pages
  const long before = MinorFaults();
  ASSERT_OK_AND_ASSIGN(NDArray back, remote_array.CopyTo(Device::Cpu()));
  const long faults = MinorFaults() - before;
  EXPECT_TRUE(SameBytes(back, host));
  // 8192 if every 4 KiB page of the new array were fresh.
  EXPECT_LT(faults, 800) << "the freed array's pages were not reused";
}

TEST(FrameArrayTest, AlignedBytesAreUsedInPlaceAndMisalignedOnesCopied) {
  alignas(64) static char buffer[64 + 1 + 16];
  std::memset(buffer, 5, sizeof(buffer));
  zmq::message_t aligned(buffer, 16, nullptr, nullptr);
  NDArray in_place = FrameArray(aligned, {4}, DataType::Float32());
  EXPECT_EQ(in_place.data(), buffer);
  zmq::message_t odd(buffer + 1, 16, nullptr, nullptr);
  NDArray copied = FrameArray(odd, {4}, DataType::Float32());
  EXPECT_NE(copied.data(), buffer + 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copied.data()) % alignof(float), 0u);
  EXPECT_EQ(std::memcmp(copied.data(), buffer + 1, 16), 0);
  // Bytes may sit anywhere.
  EXPECT_EQ(FrameArray(odd, {16}, DataType::UInt8()).data(), buffer + 1);
}

TEST_F(TensorPathTest, CopyReturnsOnlyOnceTheTransportLetGoOfTheCallersBuffer) {
  Start(/*holding=*/true, 300ms);
  ASSERT_OK_AND_ASSIGN(NDArray remote_array,
                       remote_->Empty({int64_t{3} << 20}, DataType::UInt8(), remote_->Cpu()));
  const NDArray host = PatternBytes(size_t{3} << 20, 5);
  const Clock::time_point start = Clock::now();
  ASSERT_OK(remote_array.CopyFrom(host));
  const Clock::time_point returned = Clock::now();
  EXPECT_GE(returned - start, 300ms) << "the transport held the frames that long";
  EXPECT_GE(holding_->released(), 1);
  EXPECT_LE(holding_->last_release(), returned);
  ASSERT_OK_AND_ASSIGN(NDArray back, remote_array.CopyTo(Device::Cpu()));
  EXPECT_TRUE(SameBytes(back, host));
}

TEST_F(TensorPathTest, FramesNeverLetGoOfAbandonTheSession) {
  Start(/*holding=*/true, std::nullopt, /*timeout=*/500ms);
  ASSERT_OK_AND_ASSIGN(NDArray remote_array,
                       remote_->Empty({int64_t{1} << 20}, DataType::UInt8(), remote_->Cpu()));
  const NDArray host = PatternBytes(size_t{1} << 20, 6);
  // The server acknowledges the chunk, but the transport keeps a share of it until the
  // session abandons (destroys) its channel.
  const Status copied = remote_array.CopyFrom(host);
  EXPECT_EQ(copied.code(), StatusCode::kUnavailable) << copied.ToString();
  EXPECT_NE(copied.message().find("abandoned"), std::string::npos) << copied.ToString();
  EXPECT_EQ(remote_->GetFunction("test.echo").status().code(), StatusCode::kUnavailable);
}

TEST(FrameLoanTest, WaitsForEveryFrameToBeReleased) {
  char bytes[100] = {};
  std::optional<zmq::message_t> frame;
  std::optional<FrameLoan> loan(std::in_place);
  frame.emplace(loan->Frame(bytes, sizeof(bytes)));
  EXPECT_EQ(frame->data(), bytes) << "no copy";
  EXPECT_EQ(loan->outstanding(), 1u);
  EXPECT_FALSE(loan->Wait(Clock::now() + 50ms));
  std::thread releaser([&] {
    std::this_thread::sleep_for(100ms);
    frame.reset();
  });
  const Clock::time_point start = Clock::now();
  loan.reset();  // blocks until the frame is released
  EXPECT_GE(Clock::now() - start, 90ms);
  releaser.join();
}

TEST(ChunkSizerTest, FollowsTheLinkAndRemembersItForTheNextTransfer) {
  size_t memory = 0;
  {
    ChunkSizer sizer(&memory);
    EXPECT_EQ(sizer.next(), ChunkSizer::kFirstChunkBytes);
    std::this_thread::sleep_for(10ms);
    sizer.Acknowledged(ChunkSizer::kFirstChunkBytes);  // ~25 MB/s: a chunk of the maximum
    EXPECT_EQ(sizer.next(), kChunkBytes);
  }
  EXPECT_EQ(memory, kChunkBytes);
  ChunkSizer next(&memory);
  EXPECT_EQ(next.next(), kChunkBytes);
  // A chunk cut short by its transfer's end (acknowledged after a long wait) does not lower it.
  std::this_thread::sleep_for(20ms);
  next.Acknowledged(100, /*cut_short=*/true);
  EXPECT_EQ(next.next(), kChunkBytes);
  std::this_thread::sleep_for(20ms);
  next.Acknowledged(100);
  EXPECT_EQ(next.next(), ChunkSizer::kMinChunkBytes);
}

TEST(InlineResultTest, AnInlineFrameOfTheWrongSizeIsRefused) {
  auto [client, server] = MakeInMemoryChannelPair();
  auto core = MakeObject<SessionCore>(std::move(client), nullptr, "test", 1s);
  MessageWriter w = MessageWriter::Reply(1, Status::Ok(), 1);
  auto& p = w.packer();
  p.pack_array(6);
  p.pack(static_cast<uint8_t>(WireKind::kRemoteArray));
  p.pack(uint64_t{9});
  PackShape(p, {4});
  PackDataType(p, DataType::Float32());
  PackDevice(p, Device::Cpu());
  p.pack(w.AddFrame(CopyFrame("only seven")));  // 10 bytes, not 16
  ASSERT_OK_AND_ASSIGN(ParsedMessage reply, ParseMessage(std::move(w).Finish(), ProtocolLimits{}));
  auto lock = core->endpoint().Lock();
  StatusOr<Value> read = core->codec().ReadResult(reply.item(0), reply, /*accept_inline=*/true);
  EXPECT_EQ(read.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find("inline frame has 10"), std::string::npos)
      << read.status().ToString();
  (void)core->endpoint().Abandon("test over");  // no CloseSession to a server that is not there
}

}  // namespace
}  // namespace ferry::rpc
