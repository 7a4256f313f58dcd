// Tensor bytes in calls against a real ferry-agent (FERRY_AGENT_PATH), plaintext on loopback:
// a host array argument larger than a frame may carry (256 MiB) streams into the session in
// chunks and comes back intact, with the worker holding it once rather than three times; a
// small one and a small result travel inline, intact.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>

#include "compiler/subprocess.h"
#include "tests/agent_test_process.h"
#include "tests/model_test_util.h"
#include "tests/sanitizer_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;

// Over the 256 MiB frame limit, except under ThreadSanitizer, whose instrumented copies take
// minutes for that much.
constexpr size_t kLarge = testing::kUnderThreadSanitizer ? size_t{12} << 20 : size_t{272} << 20;

NDArray Pattern(size_t size, uint32_t seed) {
  NDArray a =
      NDArray::Empty({static_cast<int64_t>(size)}, DataType::UInt8(), Device::Cpu()).value();
  uint32_t* words = a.data_as<uint32_t>();
  for (size_t i = 0; i < size / 4; ++i) words[i] = static_cast<uint32_t>(i) * 2654435761u + seed;
  return a;
}

// The peak resident memory of process `pid` in KiB (VmHWM), or -1.
int64_t PeakKib(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  const std::string status((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
  const size_t at = status.find("VmHWM:");
  return at == std::string::npos ? -1 : std::atoll(status.c_str() + at + 6);
}

class AgentTensorPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-tensor-path-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    ASSERT_OK(agent_.Start(dir_->path(), dir_->path() + "/work", {}));
  }
  void TearDown() override {
    agent_.Stop(SIGTERM, 10s);
    if (HasFailure()) std::cout << "---- agent log\n" << agent_.Log() << "\n";
  }

  StatusOr<rpc::RemoteSession> Connect() {
    rpc::ConnectOptions options;
    options.timeout = 30s * testing::kSanitizerSlowdown;
    return rpc::Connect(agent_.endpoint(), options);
  }

  // The session's worker process, from the agent's session_open line.
  pid_t WorkerPid(const std::string& session_id) {
    const std::string log = agent_.Log();
    const size_t open = log.find("event=session_open session=" + session_id);
    if (open == std::string::npos) return -1;
    const size_t at = log.find("worker_pid=", open);
    return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + 11);
  }

  std::unique_ptr<compiler::TempDir> dir_;
  AgentProcess agent_;
};

TEST_F(AgentTensorPathTest, LargeDirectArgumentStreamsAndArrivesIntact) {
  const NDArray host = Pattern(kLarge, 1);
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
  const pid_t worker = WorkerPid(remote.session_id());
  ASSERT_GT(worker, 0) << agent_.Log();
  const int64_t peak_before = PeakKib(worker);
  ASSERT_GT(peak_before, 0);

  ASSERT_OK_AND_ASSIGN(Value result, echo.Call(host));
  ASSERT_OK_AND_ASSIGN(NDArray echoed, result.As<NDArray>());
  EXPECT_TRUE(echoed.device().is_remote());
  const int64_t grown_kib = PeakKib(worker) - peak_before;
  ASSERT_OK_AND_ASSIGN(NDArray back, echoed.CopyTo(Device::Cpu()));
  ASSERT_EQ(back.NumBytes(), host.NumBytes());
  EXPECT_EQ(std::memcmp(back.data(), host.data(), host.NumBytes()), 0);
  // The array once, plus chunks in flight (at most 4 x 4 MiB) and what malloc keeps of them.
  if (!testing::kUnderSanitizer) {
    EXPECT_LT(grown_kib, static_cast<int64_t>(kLarge / 1024) * 3 / 2)
        << "grew " << grown_kib << " KiB";
  }

  // The session goes on, and a small argument and result travel inline.
  const NDArray small = testing::RandomArray({3, 5}, 2);
  ASSERT_OK_AND_ASSIGN(Value small_result, echo.Call(small));
  ASSERT_OK_AND_ASSIGN(NDArray small_back, small_result.As<NDArray>()->CopyTo(Device::Cpu()));
  ASSERT_EQ(small_back.shape(), small.shape());
  EXPECT_EQ(std::memcmp(small_back.data(), small.data(), small.NumBytes()), 0);
}

}  // namespace
}  // namespace ferry
