// A real ferry-agent (FERRY_AGENT_PATH) on an ephemeral loopback port, driven by the client
// API: remote results equal local ones, a 1 GiB array with bounded worker memory, failures
// (a crashing kernel, a vanishing client, a killed agent, bad labels, malformed, oversized
// and wrong-version messages) each end in a clear error, and the agent keeps serving.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <thread>

#include "compiler/compiler_config.h"
#include "rpc/client_session.h"
#include "runtime/file_util.h"
#include "runtime/params.h"
#include "tests/kernel_library_test_util.h"
#include "tests/model_test_util.h"
#include "tests/process_test_util.h"
#include "tests/raw_peer_test_util.h"
#include "tests/sanitizer_test_util.h"

extern char** environ;

namespace ferry {
namespace {

using testing::FramesOf;
using testing::RawDealer;
using testing::ReadLineFrom;
using testing::WaitFor;

using namespace std::chrono_literals;
using rpc::Clock;
using testing::TestLibraries;

// One library with all four zoo variants under the keys mlp_graph, mlp_aot, cnn_graph and
// cnn_aot (one compile instead of four).
StatusOr<std::string> ZooLibrary() {
  static StatusOr<std::string>* path = [] {
    std::vector<compiler::Model> models;
    std::vector<compiler::ModelBuild> builds;
    models.reserve(4);
    for (const char* name : {"mlp", "cnn"}) {
      for (ExecutorKind kind : {ExecutorKind::kGraph, ExecutorKind::kAot}) {
        models.push_back(TestLibraries::Get().Model(name));
        models.back().key = std::string(name) + "_" + std::string(ExecutorKindName(kind));
        builds.push_back({&models.back(), kind});
      }
    }
    const std::string out = TestLibraries::Get().UniquePath("zoo_all");
    Status status = compiler::ExportLibrary(builds, out);
    return new StatusOr<std::string>(status.ok() ? StatusOr<std::string>(out)
                                                 : StatusOr<std::string>(status));
  }();
  return *path;
}

NDArray ZooInput(const std::string& key) {
  return key.rfind("mlp", 0) == 0 ? testing::RandomArray({1, 784}, 21)
                                  : testing::RandomArray({1, 3, 32, 32}, 22);
}

// A model library whose only kernel raises SIGSEGV: model "crash", float32[1] -> float32[1].
StatusOr<std::string> CrashLibrary() {
  return testing::SingleKernelLibrary("crash", "crash_op", "#include <signal.h>",
                                      "  raise(SIGSEGV);\n  return 0;");
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A crashing worker must not spend time writing a core file.
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-agent-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    work_dir_ = dir_->path() + "/work";
    log_path_ = dir_->path() + "/agent.log";
    const std::string endpoint_file = dir_->path() + "/endpoint";
    std::vector<std::string> args = {
        FERRY_AGENT_PATH,  "--listen",          "tcp://127.0.0.1:*",
        "--endpoint-file", endpoint_file,       "--work-dir",
        work_dir_,         "--session-timeout", std::to_string(3 * testing::kSanitizerSlowdown)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    const int rc = posix_spawn(&pid_, FERRY_AGENT_PATH, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << std::strerror(rc);
    ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(endpoint_file); }, 10s))
        << "the agent did not start:\n"
        << Log();
    endpoint_ = ReadFile(endpoint_file).value();
    while (!endpoint_.empty() && endpoint_.back() == '\n') endpoint_.pop_back();
  }

  void TearDown() override {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    if (!WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 5s)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      ADD_FAILURE() << "the agent did not stop on SIGTERM";
    }
    pid_ = -1;
  }

  std::string Log() const { return ReadFile(log_path_).value_or(""); }

  // The log line of `event` for session `id`, or "".
  std::string LogLine(const std::string& event, const std::string& id) const {
    std::istringstream lines(Log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("event=" + event + " ") != std::string::npos &&
          line.find("session=" + id) != std::string::npos) {
        return line;
      }
    }
    return "";
  }

  pid_t WorkerPid(const std::string& session_id) const {
    const std::string line = LogLine("session_open", session_id);
    const size_t at = line.find("worker_pid=");
    return at == std::string::npos ? -1 : std::atoi(line.c_str() + at + 11);
  }

  StatusOr<rpc::RemoteSession> Connect(std::chrono::milliseconds timeout = 20s) {
    rpc::ConnectOptions options;
    options.timeout = timeout * testing::kSanitizerSlowdown;
    return rpc::Connect(endpoint_, options);
  }

  // Checks that a new session works (a call through ferry.echo).
  void ExpectAgentServes() {
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
    ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
    ASSERT_OK_AND_ASSIGN(Value back, echo.Call(std::string("still here")));
    EXPECT_EQ(back.As<std::string>().value(), "still here");
  }

  std::unique_ptr<compiler::TempDir> dir_;
  std::string work_dir_;
  std::string log_path_;
  std::string endpoint_;
  pid_t pid_ = -1;
};

TEST_F(AgentTest, ZooModelsMatchLocalRunsBitForBit) {
  ASSERT_OK_AND_ASSIGN(std::string path, ZooLibrary());
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
  ASSERT_OK(remote.Upload(path, "zoo.so"));
  ASSERT_OK_AND_ASSIGN(Module lib, remote.LoadModule("zoo.so"));
  for (const std::string key : {"mlp_graph", "mlp_aot", "cnn_graph", "cnn_aot"}) {
    SCOPED_TRACE(key);
    const NDArray input = ZooInput(key);
    ASSERT_OK_AND_ASSIGN(NDArray expected, testing::RunLibraryModel(path, key, input));
    ASSERT_OK_AND_ASSIGN(PackedFunc factory, lib.GetFunction(key));
    ASSERT_OK_AND_ASSIGN(Value created, factory.Call(remote.Cpu(0)));
    ASSERT_OK_AND_ASSIGN(Module executor, created.As<Module>());
    ExecutorModule gmod(executor);
    ASSERT_OK(gmod.SetInput("data", input));
    ASSERT_OK(gmod.Run());
    ASSERT_OK_AND_ASSIGN(NDArray output, gmod.GetOutput(0));
    ASSERT_OK_AND_ASSIGN(NDArray host, output.CopyTo(Device::Cpu()));
    ASSERT_EQ(host.shape(), expected.shape());
    EXPECT_EQ(std::memcmp(host.data(), expected.data(), host.NumBytes()), 0)
        << "max difference " << testing::MaxAbsDiff(host, expected);
  }
}

TEST_F(AgentTest, OneGibArrayRoundTripWithBoundedWorkerMemory) {
  if (testing::kUnderThreadSanitizer) {
    GTEST_SKIP() << "ThreadSanitizer makes a 1 GiB copy outlast the call deadline";
  }
  // The host array first: the session must not sit idle past its 3 s timeout.
  const int64_t count = int64_t{1} << 28;  // float32: 1 GiB
  ASSERT_OK_AND_ASSIGN(NDArray host, NDArray::Empty({count}, DataType::Float32(), Device::Cpu()));
  uint32_t* words = host.data_as<uint32_t>();
  for (int64_t i = 0; i < count; ++i) words[i] = static_cast<uint32_t>(i) * 2654435761u;
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
  const pid_t worker = WorkerPid(remote.session_id());
  ASSERT_GT(worker, 0) << Log();
  ASSERT_OK_AND_ASSIGN(NDArray remote_array,
                       remote.Empty({count}, DataType::Float32(), remote.Cpu()));
  ASSERT_OK(remote_array.CopyFrom(host));
  std::memset(words, 0, host.NumBytes());
  ASSERT_OK(host.CopyFrom(remote_array));
  int64_t wrong = 0;
  for (int64_t i = 0; i < count; ++i) wrong += words[i] != static_cast<uint32_t>(i) * 2654435761u;
  EXPECT_EQ(wrong, 0);

  // The worker's peak resident memory, read while the session is open.
  std::ifstream proc_status("/proc/" + std::to_string(worker) + "/status");
  ASSERT_TRUE(proc_status.good()) << "no worker process " << worker;
  const std::string status((std::istreambuf_iterator<char>(proc_status)),
                           std::istreambuf_iterator<char>());
  const size_t at = status.find("VmHWM:");
  ASSERT_NE(at, std::string::npos) << status;
  const int64_t peak_kib = std::atoll(status.c_str() + at + 6);
  EXPECT_GT(peak_kib, int64_t{1} << 20) << "the worker holds the array";
  EXPECT_LT(peak_kib, int64_t{1600} << 10) << "peak " << peak_kib << " KiB";
}

TEST_F(AgentTest, CrashingKernelEndsOnlyItsSession) {
  ASSERT_OK_AND_ASSIGN(std::string path, CrashLibrary());
  {
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
    ASSERT_OK(remote.Upload(path, "crash.so"));
    ASSERT_OK_AND_ASSIGN(Module lib, remote.LoadModule("crash.so"));
    ASSERT_OK_AND_ASSIGN(ExecutorModule gmod, ExecutorModule::Create(lib, "crash", remote.Cpu(0)));
    ASSERT_OK(gmod.SetInput("data", testing::RandomArray({1}, 1)));
    const auto start = Clock::now();
    const Status run = gmod.Run();
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_EQ(run.code(), StatusCode::kUnavailable) << run.ToString();
    EXPECT_NE(run.message().find("session worker died: SIGSEGV"), std::string::npos)
        << run.ToString();
    // Later calls of the dead session give the same error at once.
    EXPECT_EQ(remote.GetFunction("ferry.echo").status().code(), StatusCode::kUnavailable);
    EXPECT_TRUE(WaitFor([&] { return !LogLine("session_end", remote.session_id()).empty(); }, 5s));
    EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/sessions/" + remote.session_id()));
  }
  ExpectAgentServes();
}

TEST_F(AgentTest, VanishedClientSessionIsFreed) {
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The client: open a session, upload, report the session id, then vanish without closing.
    close(to_parent[0]);
    close(to_child[1]);
    auto remote = Connect();
    if (!remote.ok() || !remote->UploadBytes("some uploaded bytes", "data.bin").ok()) _exit(2);
    const std::string id = remote->session_id() + "\n";
    if (write(to_parent[1], id.data(), id.size()) != static_cast<ssize_t>(id.size())) _exit(3);
    pollfd item{to_child[0], POLLIN, 0};
    poll(&item, 1, 10000);
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  const std::string id = ReadLineFrom(to_parent[0], 20s);
  close(to_parent[0]);
  const std::string session_dir = work_dir_ + "/sessions/" + id;
  const bool had_session = !id.empty() && std::filesystem::exists(session_dir + "/data.bin");
  close(to_child[1]);  // lets the child exit
  int child_status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(child, &child_status, WNOHANG) == child; }, 15s));
  ASSERT_TRUE(had_session) << "session '" << id << "', child status " << child_status << "\n"
                           << Log();
  EXPECT_TRUE(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0) << child_status;

  const auto vanished = Clock::now();
  EXPECT_TRUE(WaitFor([&] { return !LogLine("session_end", id).empty(); }, 8s)) << Log();
  EXPECT_LT(Clock::now() - vanished, 8s);
  EXPECT_FALSE(std::filesystem::exists(session_dir));
  ExpectAgentServes();
}

TEST_F(AgentTest, KilledAgentEndsTheCallWithinItsDeadline) {
  ASSERT_OK_AND_ASSIGN(std::string path, ZooLibrary());
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect(4s));
  ASSERT_OK(remote.Upload(path, "zoo.so"));
  ASSERT_OK_AND_ASSIGN(Module lib, remote.LoadModule("zoo.so"));
  ASSERT_OK_AND_ASSIGN(ExecutorModule gmod,
                       ExecutorModule::Create(lib, "mlp_graph", remote.Cpu(0)));
  ASSERT_OK(gmod.SetInput("data", ZooInput("mlp_graph")));
  ASSERT_OK_AND_ASSIGN(
      PackedFunc timer,
      remote.TimeEvaluator(gmod.module(), "run", remote.Cpu(0),
                           TimeEvaluatorOptions{.number = 1, .repeat = 1, .min_repeat_ms = 5000}));
  Status result;
  std::chrono::steady_clock::duration took{};
  std::thread call([&] {
    const auto start = Clock::now();
    result = timer.Call().status();
    took = Clock::now() - start;
  });
  std::this_thread::sleep_for(500ms);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  call.join();
  EXPECT_TRUE(result.code() == StatusCode::kUnavailable ||
              result.code() == StatusCode::kDeadlineExceeded)
      << result.ToString();
  EXPECT_GE(took, 400ms) << "the call was still running when the agent died";
  EXPECT_LT(took, 8s);
  // Every later call fails quickly as well.
  const auto start = Clock::now();
  EXPECT_FALSE(remote.GetFunction("ferry.echo").ok());
  EXPECT_LT(Clock::now() - start, 8s);
}

TEST_F(AgentTest, IdleSessionTimesOut) {
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
  ASSERT_OK(remote.UploadBytes("bytes", "file"));
  const std::string session_dir = work_dir_ + "/sessions/" + remote.session_id();
  EXPECT_TRUE(std::filesystem::exists(session_dir));
  // --session-timeout 3: the worker ends the idle session and the agent cleans up.
  EXPECT_TRUE(WaitFor([&] { return !LogLine("session_end", remote.session_id()).empty(); },
                      8s * testing::kSanitizerSlowdown))
      << Log();
  EXPECT_FALSE(std::filesystem::exists(session_dir));
  const StatusOr<PackedFunc> late = remote.GetFunction("ferry.echo");
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable) << late.status().ToString();
  ExpectAgentServes();
}

TEST_F(AgentTest, PathTraversalLabelsAreRefused) {
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
  for (const std::string label : {"../x", "/etc/passwd", "a/b", "../../../../tmp/ferry-escape"}) {
    SCOPED_TRACE(label);
    const Status status = remote.UploadBytes("x", label);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
    EXPECT_EQ(remote.LoadModule(label).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(std::filesystem::exists(work_dir_ + "/sessions/x"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/ferry-escape"));
  EXPECT_TRUE(remote.ListFiles().value().empty());
  // A corrupted upload: the digest does not match the bytes.
  ASSERT_OK_AND_ASSIGN(
      rpc::ParsedMessage begun,
      remote.core()->endpoint().Call(rpc::MessageType::kUploadBegin, 3, [](rpc::MessageWriter& w) {
        w.packer().pack(std::string("lib.so"));
        w.packer().pack(std::string(64, 'a'));
        w.packer().pack(uint64_t{5});
      }));
  ASSERT_OK(
      remote.core()->endpoint().Call(rpc::MessageType::kUploadChunk, 2, [](rpc::MessageWriter& w) {
        w.packer().pack(std::string("lib.so"));
        w.packer().pack(uint64_t{0});
        w.AddFrame(rpc::CopyFrame("12345"));
      }));
  const Status ended =
      remote.core()
          ->endpoint()
          .Call(rpc::MessageType::kUploadEnd, 1,
                [](rpc::MessageWriter& w) { w.packer().pack(std::string("lib.so")); })
          .status();
  EXPECT_EQ(ended.code(), StatusCode::kInvalidArgument) << ended.ToString();
  EXPECT_NE(ended.message().find("digest"), std::string::npos) << ended.ToString();
  EXPECT_TRUE(remote.ListFiles().value().empty());
}

TEST_F(AgentTest, MalformedMessagesGetErrorReplies) {
  RawDealer raw(endpoint_);
  msgpack::sbuffer call;
  msgpack::pack(call, std::make_tuple(1, 7, 55, 1000, std::vector<int>{}));
  msgpack::sbuffer open_bad;
  msgpack::pack(open_bad, std::make_tuple(1, 1, 56, 1000, std::make_tuple("one", "two")));
  const std::vector<std::vector<std::string>> messages = {
      {"garbage"},
      {"", "", ""},
      {std::string("\x95\x01\x07", 3)},
      {std::string("\xdd\xff\xff\xff\xff", 5)},
      {std::string(call.data(), call.size())},
      {std::string(open_bad.data(), open_bad.size())},
  };
  for (const auto& message : messages) {
    SCOPED_TRACE(message[0].size());
    raw.Send(FramesOf(message));
    std::optional<rpc::Frames> reply = raw.Receive(3000ms);
    ASSERT_TRUE(reply.has_value()) << "no reply";
    StatusOr<rpc::ParsedMessage> parsed =
        rpc::ParseMessage(std::move(*reply), rpc::ProtocolLimits{});
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->type, rpc::MessageType::kReply);
    EXPECT_FALSE(parsed->status.ok());
  }
  ExpectAgentServes();
}

TEST_F(AgentTest, OversizedMessageIsDropped) {
  RawDealer raw(endpoint_);
  raw.Send(FramesOf({std::string((size_t{2} << 20), 'x')}));
  EXPECT_FALSE(raw.Receive(500ms).has_value());
  ExpectAgentServes();
  // A fresh connection still gets replies.
  RawDealer again(endpoint_);
  again.Send(FramesOf({"garbage"}));
  EXPECT_TRUE(again.Receive(3000ms).has_value());
}

TEST_F(AgentTest, ProtocolVersionMismatchIsUnimplemented) {
  rpc::ConnectOptions options;
  options.timeout = 10s;
  options.min_version = 2;
  options.max_version = 2;
  StatusOr<rpc::RemoteSession> remote = rpc::Connect(endpoint_, options);
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), StatusCode::kUnimplemented) << remote.status().ToString();
  EXPECT_NE(remote.status().message().find("version"), std::string::npos);
  ExpectAgentServes();
}

}  // namespace
}  // namespace ferry
