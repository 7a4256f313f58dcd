// The fixture of the session tests (rpc_session_test.cc, rpc_call_sequence_test.cc): a
// SessionServer served by a thread on one end of MakeInMemoryChannelPair, a client
// SessionCore / RemoteSession on the other, test functions in its registry ("test.echo",
// "test.add", "test.sleep", "test.module", "test.fail", "test.bug", "test.big"). Files go to
// the agent's real AgentSessionFiles in a temporary directory.
#ifndef FERRY_TESTS_RPC_SESSION_FIXTURE_H_
#define FERRY_TESTS_RPC_SESSION_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "device_agent/agent_session_files.h"
#include "rpc/client_session.h"
#include "rpc/in_memory_channel.h"
#include "rpc/remote_objects.h"
#include "rpc/session_server.h"
#include "tests/model_test_util.h"

namespace ferry::rpc {

using namespace std::chrono_literals;

inline constexpr char kToken[] = "the-session-token";

// A small local module the server can hand out: "answer" returns 42.
class AnswerModule final : public ModuleNode {
 public:
  std::string type_key() const override { return "answer_module"; }
  std::optional<PackedFunc> GetFunction(const std::string& name) override {
    if (name != "answer") return std::nullopt;
    return PackedFunc([](std::span<const Value>) -> StatusOr<Value> { return Value(42); });
  }
};

using testing::PatternBytes;
using testing::SameBytes;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    using Args = std::span<const Value>;
    Add("test.echo", [](Args args) -> StatusOr<Value> { return args.empty() ? Value() : args[0]; });
    Add("test.add", [](Args args) -> StatusOr<Value> {
      ASSIGN_OR_RETURN(int64_t a, GetArg<int64_t>("test.add", args, 0));
      ASSIGN_OR_RETURN(int64_t b, GetArg<int64_t>("test.add", args, 1));
      return Value(a + b);
    });
    Add("test.sleep", [](Args args) -> StatusOr<Value> {
      ASSIGN_OR_RETURN(int64_t ms, GetArg<int64_t>("test.sleep", args, 0));
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return Value(ms);
    });
    Add("test.module",
        [](Args) -> StatusOr<Value> { return Value(Module(MakeObject<AnswerModule>())); });
    Add("test.fail",
        [](Args) -> StatusOr<Value> { return ResourceExhaustedError("remote says no"); });
    Add("test.bug",
        [](Args) -> StatusOr<Value> { return InternalError("remote invariant broken"); });
    // msgpack-c sends an integral double as an integer, here one above INT64_MAX.
    Add("test.big", [](Args) -> StatusOr<Value> { return Value(1e19); });
  }

  void Add(const std::string& name, PackedFunc::Body body) {
    ASSERT_TRUE(registry_.Register(name, PackedFunc(std::move(body))).ok()) << name;
  }

  void TearDown() override {
    remote_.reset();  // closes the session while the server still runs
    StopServer();
  }

  // Starts the server thread and a client; greets with `hello_token` unless empty.
  void Start(const std::string& hello_token = kToken, std::chrono::milliseconds timeout = 10s) {
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-rpc-session-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    ASSERT_OK_AND_ASSIGN(agent::UploadCache cache,
                         agent::UploadCache::Open(dir_->path() + "/cache"));
    ASSERT_OK_AND_ASSIGN(agent::SessionDirectory directory,
                         agent::SessionDirectory::Create(dir_->path() + "/sessions", "s1"));
    session_dir_ = directory.path();
    files_ = std::make_unique<agent::AgentSessionFiles>(
        std::move(cache), agent::kAnonymousOwner, std::move(directory),
        agent::StorageLimits{.max_upload_bytes = uint64_t{1} << 30});
    SessionServerOptions options;
    options.token = kToken;
    server_ = std::make_unique<SessionServer>(&registry_, files_.get(), options);
    auto [client, server] = MakeInMemoryChannelPair();
    server_channel_ = std::move(server);
    thread_ = std::thread([this] { Serve(); });
    auto core = MakeObject<SessionCore>(std::move(client), nullptr, "test", timeout);
    core_ = core.get();
    remote_.emplace(std::move(core));
    if (!hello_token.empty()) ASSERT_OK(Hello(hello_token));
  }

  Status Hello(const std::string& token) {
    return core_->endpoint()
        .Call(MessageType::kHello, 1, [&](MessageWriter& w) { w.packer().pack(token); })
        .status();
  }

  void Serve() {
    while (!stop_.load()) {
      StatusOr<std::optional<Frames>> got = server_channel_->Receive(Clock::now() + 20ms);
      if (!got.ok()) break;  // the client went away
      if (!got->has_value()) continue;
      std::optional<Frames> reply;
      {
        std::lock_guard lock(server_mutex_);
        ++handled_;
        reply = server_->Handle(std::move(**got));
      }
      if (reply && !server_channel_->Send(std::move(*reply), Clock::now() + 5s).ok()) break;
    }
  }

  // Ends the server thread and closes its channel end.
  void StopServer() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    server_channel_.reset();
  }

  size_t NumHandles() {
    std::lock_guard lock(server_mutex_);
    return server_->num_handles();
  }

  RemoteSession& remote() { return *remote_; }

  PackedFunc Global(const std::string& name) {
    StatusOr<PackedFunc> f = remote().GetFunction(name);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? *f : PackedFunc();
  }

  FunctionRegistry registry_;
  std::unique_ptr<compiler::TempDir> dir_;
  std::string session_dir_;
  std::unique_ptr<agent::AgentSessionFiles> files_;
  std::unique_ptr<SessionServer> server_;
  std::mutex server_mutex_;
  std::unique_ptr<Channel> server_channel_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> handled_{0};
  SessionCore* core_ = nullptr;
  std::optional<RemoteSession> remote_;
};

}  // namespace ferry::rpc

#endif  // FERRY_TESTS_RPC_SESSION_FIXTURE_H_
