// Faults a real ferry-agent (FERRY_AGENT_PATH) must survive without losing anything, on
// loopback:
//   - the agent killed (SIGKILL) during an upload: the client gets an error at once, and once
//     the agent is back on the same work directory the next upload of the same content
//     completes and reads back intact;
//   - the agent's disk full (its work directory on a small tmpfs this test mounts; needs
//     root): RESOURCE_EXHAUSTED naming the lack of space, no partial file visible to this or
//     any other session, and the space back for the next upload;
//   - a worker over its memory limit (--worker-max-memory): an array too large is refused with
//     RESOURCE_EXHAUSTED and the session goes on; a kernel that allocates past the limit
//     without checking ends its session with "session worker died: ..." and the limit as the
//     likely reason, and the agent serves the next session.
// Each prints what it observed.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include "rpc/client_session.h"
#include "runtime/executor_module.h"
#include "tests/agent_test_process.h"
#include "tests/kernel_library_test_util.h"
#include "tests/model_test_util.h"
#include "tests/sanitizer_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::Clock;
using testing::AgentProcess;
using testing::kUnderSanitizer;
using testing::WaitFor;

std::string RandomBytes(size_t size, uint32_t seed) {
  std::string bytes(size, '\0');
  std::mt19937 random(seed);
  for (size_t i = 0; i < size; i += 4) {
    const uint32_t v = random();
    std::memcpy(bytes.data() + i, &v, std::min<size_t>(4, size - i));
  }
  return bytes;
}

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

class AgentFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-agent-fault-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
  }

  void TearDown() override {
    agent_.Kill();
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  void StartAgent(const std::string& work_dir, const std::vector<std::string>& args = {}) {
    std::vector<std::string> all = {"--session-timeout",
                                    std::to_string(20 * testing::kSanitizerSlowdown)};
    all.insert(all.end(), args.begin(), args.end());
    ASSERT_OK(agent_.Start(dir_->path(), work_dir, all));
  }

  StatusOr<rpc::RemoteSession> Connect() {
    rpc::ConnectOptions options;
    options.timeout = 10s * testing::kSanitizerSlowdown;
    return rpc::Connect(agent_.endpoint(), options);
  }

  // The labels a session on the agent sees.
  std::vector<std::string> Labels() {
    std::vector<std::string> labels;
    StatusOr<rpc::RemoteSession> session = Connect();
    EXPECT_OK(session);
    if (!session.ok()) return labels;
    StatusOr<std::vector<rpc::FileEntry>> files = session->ListFiles();
    EXPECT_OK(files);
    if (files.ok()) {
      for (const rpc::FileEntry& f : *files) labels.push_back(f.label);
    }
    return labels;
  }

  std::unique_ptr<compiler::TempDir> dir_;
  AgentProcess agent_;
  std::string mounted_;
};

TEST_F(AgentFaultTest, AgentKilledDuringAnUploadTakesTheNextUploadOfTheSameContent) {
  const std::string work = Path("work");
  StartAgent(work);
  if (HasFatalFailure()) return;
  const std::string content = RandomBytes(size_t{64} << 20, 11);

  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession first, Connect());
  Clock::time_point killed_at;
  uint64_t acknowledged = 0;
  first.set_upload_progress([&](uint64_t done, uint64_t) {
    if (acknowledged == 0) {
      agent_.Kill();  // the agent and, through PDEATHSIG, its session worker
      killed_at = Clock::now();
    }
    acknowledged = done;
  });
  const Status cut = first.UploadBytes(content, "blob.bin");
  const int64_t detect_ms = MsSince(killed_at);
  ASSERT_FALSE(cut.ok()) << "the upload finished although the agent was killed after "
                         << acknowledged << " bytes";
  EXPECT_TRUE(cut.code() == StatusCode::kUnavailable || cut.code() == StatusCode::kDeadlineExceeded)
      << cut.ToString();
  EXPECT_GT(acknowledged, 0u);
  EXPECT_LT(acknowledged, content.size());

  StartAgent(work);  // the same work directory: its cache and what the killed upload left
  if (HasFatalFailure()) return;
  const std::string cleaned = agent_.LogLine("cache_temp_files_removed");
  EXPECT_TRUE(Labels().empty()) << "a session sees a file of the killed upload";
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession second, Connect());
  ASSERT_OK(second.UploadBytes(content, "blob.bin"));
  ASSERT_OK_AND_ASSIGN(std::string back, second.Download("blob.bin"));
  EXPECT_TRUE(back == content) << "the content read back differs (" << back.size() << " bytes)";
  std::cout << "[          ] agent killed after " << acknowledged << " of " << content.size()
            << " bytes acknowledged; the client saw " << StatusCodeName(cut.code()) << " after "
            << detect_ms << " ms (" << cut.message()
            << "); restarted agent: " << (cleaned.empty() ? "no temp file to remove" : cleaned)
            << "; the same 64 MiB uploaded again and read back intact\n";
}

TEST_F(AgentFaultTest, FullDiskIsResourceExhaustedAndLeavesNoPartialFile) {
  const std::string mount_point = Path("small");
  std::filesystem::create_directories(mount_point);
  if (mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=8m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs for the agent's disk (needs root): "
                 << std::strerror(errno);
  }
  mounted_ = mount_point;
  StartAgent(mount_point + "/work");
  if (HasFatalFailure()) return;

  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession session, Connect());
  const std::string too_big = RandomBytes(size_t{16} << 20, 12);
  const Status full = session.UploadBytes(too_big, "big.bin");
  ASSERT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_NE(full.message().find("space"), std::string::npos) << full.message();

  // Neither this session nor another sees any part of it.
  ASSERT_OK_AND_ASSIGN(std::vector<rpc::FileEntry> own, session.ListFiles());
  EXPECT_TRUE(own.empty()) << own.front().label;
  EXPECT_TRUE(Labels().empty());
  // The space is back: nothing of the refused upload stays on the disk.
  struct statvfs fs;
  ASSERT_EQ(statvfs(mount_point.c_str(), &fs), 0);
  const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
  EXPECT_GT(free_bytes, uint64_t{6} << 20) << "the refused upload still takes space";
  const std::string fits = RandomBytes(size_t{2} << 20, 13);
  ASSERT_OK(session.UploadBytes(fits, "fits.bin"));
  ASSERT_OK_AND_ASSIGN(std::string back, session.Download("fits.bin"));
  EXPECT_TRUE(back == fits);
  std::cout << "[          ] 16 MiB upload onto an 8 MiB disk: " << full.ToString() << "; "
            << free_bytes / 1024 << " KiB free afterwards; a 2 MiB upload then fits\n";
}

TEST_F(AgentFaultTest, WorkerOverItsMemoryLimitIsRefusedOrDiesWithTheReason) {
  if (kUnderSanitizer) {
    GTEST_SKIP() << "a sanitizer's shadow memory does not fit under RLIMIT_AS";
  }
  constexpr uint64_t kLimit = uint64_t{1} << 30;
  ASSERT_OK_AND_ASSIGN(
      std::string hog,
      testing::SingleKernelLibrary("hog", "hog_op", "#include <cstdlib>\n#include <cstring>",
                                   // 4 GiB, unchecked, as a careless kernel would.
                                   "  char* p = static_cast<char*>(std::malloc(size_t{4} << 30));\n"
                                   "  std::memset(p, 1, size_t{4} << 30);\n"
                                   "  return p[4096] == 1 ? 0 : 1;"));
  StartAgent(Path("work"), {"--worker-max-memory", std::to_string(kLimit)});
  if (HasFatalFailure()) return;

  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession session, Connect());
  // An array past the limit: refused, and the session goes on.
  StatusOr<NDArray> huge = session.Empty({int64_t{1} << 30}, DataType::Float32(), session.Cpu());
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted) << huge.status().ToString();
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, session.GetFunction("ferry.echo"));
  ASSERT_OK(echo.Call(std::string("still here")));

  // A kernel that allocates past it without checking: the worker dies, the reason says why.
  ASSERT_OK(session.Upload(hog, "hog.so"));
  ASSERT_OK_AND_ASSIGN(Module lib, session.LoadModule("hog.so"));
  ASSERT_OK_AND_ASSIGN(ExecutorModule gmod, ExecutorModule::Create(lib, "hog", session.Cpu()));
  ASSERT_OK(gmod.SetInput("data", testing::RandomArray({1}, 3)));
  const Status died = gmod.Run();
  ASSERT_EQ(died.code(), StatusCode::kUnavailable) << died.ToString();
  EXPECT_NE(died.message().find("session worker died"), std::string::npos) << died.message();
  EXPECT_NE(died.message().find("limited to " + std::to_string(kLimit) + " bytes"),
            std::string::npos)
      << died.message();
  // The agent serves on.
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession next, Connect());
  ASSERT_OK_AND_ASSIGN(PackedFunc next_echo, next.GetFunction("ferry.echo"));
  EXPECT_OK(next_echo.Call(std::string("ping")));
  std::cout << "[          ] under a " << kLimit << "-byte limit: 4 GiB array -> "
            << huge.status().ToString() << "; unchecked 4 GiB malloc in a kernel -> "
            << died.ToString() << "\n";
}

}  // namespace
}  // namespace ferry
