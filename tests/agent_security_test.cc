// Regression tests of issue 9 ("secure by default") against a real ferry-agent
// (FERRY_AGENT_PATH) on ephemeral loopback ports: a session belongs to the connection that
// opened it; unclaimed sessions are capped and expire; versions and expired deadlines are
// refused at the agent and at the worker; a call past its deadline, or whose client
// vanished, ends its worker; SIGTERM stops the agent cleanly. The CURVE side is in
// agent_security_curve_test.cc.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "compiler/subprocess.h"
#include "runtime/executor_module.h"
#include "tests/agent_test_process.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::Clock;
using rpc::MessageType;
using testing::AgentProcess;
using testing::KnownSession;
using testing::OpenedSession;
using testing::ProcessGone;
using testing::RawDealer;
using testing::RawRequest;
using testing::ReadLineFrom;
using testing::Request;
using testing::WaitFor;

class AgentSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir,
                         compiler::TempDir::Create("ferry-agent-security-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
  }

  void TearDown() override {
    if (agent_.pid() > 0 && !agent_.Stop(SIGTERM, 10s)) {
      ADD_FAILURE() << "the agent did not stop on SIGTERM";
    }
    if (HasFailure()) std::cout << "---- agent log\n" << agent_.Log() << "\n";
  }

  void StartAgent(const std::vector<std::string>& args) {
    ASSERT_OK(agent_.Start(dir_->path(), dir_->path() + "/work", args));
  }

  std::string SessionDir(const std::string& id) const {
    return agent_.work_dir() + "/sessions/" + id;
  }

  StatusOr<rpc::RemoteSession> Connect(std::chrono::milliseconds timeout = 20s) {
    rpc::ConnectOptions options;
    options.timeout = timeout;
    return rpc::Connect(agent_.endpoint(), options);
  }

  // A new session works: a call of ferry.echo.
  void ExpectAgentServes() {
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
    ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
    ASSERT_OK_AND_ASSIGN(Value back, echo.Call(std::string("still here")));
    EXPECT_EQ(back.As<std::string>().value(), "still here");
  }

  // The reason SessionStatus gives for session `id`, which must have ended.
  std::string EndReason(const std::string& id) {
    StatusOr<std::pair<bool, std::string>> status =
        testing::SessionStatusRaw(agent_.endpoint(), id);
    EXPECT_TRUE(status.ok()) << status.status().ToString();
    if (!status.ok()) return "";
    EXPECT_FALSE(status->first) << "session " << id << " is still alive";
    return status->second;
  }

  std::unique_ptr<compiler::TempDir> dir_;
  AgentProcess agent_;
};

// Finding 1: whoever learns a worker's endpoint (and even its token) cannot use, read or end
// a session that another connection opened.
TEST_F(AgentSecurityTest, SecondConnectionToASessionWorkerIsDeniedEverything) {
  StartAgent({});
  ASSERT_OK_AND_ASSIGN(KnownSession session, testing::ConnectKnowingToken(agent_.endpoint()));
  rpc::RemoteSession& remote = session.remote;
  const std::string secret = "the owner's confidential bytes";
  ASSERT_OK(remote.UploadBytes(secret, "secret.txt"));
  const NDArray host = testing::RandomArray({16}, 7);
  ASSERT_OK_AND_ASSIGN(NDArray array, remote.Empty({16}, DataType::Float32(), remote.Cpu()));
  ASSERT_OK(array.CopyFrom(host));

  {
    RawDealer intruder(session.opened.worker_endpoint);
    uint64_t id = 1;
    std::vector<std::pair<std::string, rpc::Frames>> attempts;
    attempts.emplace_back("ListFiles", Request(MessageType::kListFiles, id++, 0, nullptr));
    attempts.emplace_back("Download",
                          Request(MessageType::kDownload, id++, 3, [](rpc::MessageWriter& w) {
                            w.packer().pack(std::string("secret.txt"));
                            w.packer().pack(uint64_t{0});
                            w.packer().pack(uint64_t{1} << 20);
                          }));
    for (uint64_t handle = 1; handle <= 4; ++handle) {
      attempts.emplace_back(
          "CopyFromRemote " + std::to_string(handle),
          Request(MessageType::kCopyFromRemote, id++, 3, [&](rpc::MessageWriter& w) {
            w.packer().pack(handle);
            w.packer().pack(uint64_t{0});
            w.packer().pack(uint64_t{64});
          }));
    }
    attempts.emplace_back("Hello with the right token",
                          Request(MessageType::kHello, id++, 1, [&](rpc::MessageWriter& w) {
                            w.packer().pack(session.opened.token);
                          }));
    attempts.emplace_back("Hello with a wrong token",
                          Request(MessageType::kHello, id++, 1, [](rpc::MessageWriter& w) {
                            w.packer().pack(std::string(32, '0'));
                          }));
    attempts.emplace_back("GetGlobalFunction", Request(MessageType::kGetGlobalFunction, id++, 1,
                                                       [](rpc::MessageWriter& w) {
                                                         w.packer().pack(std::string("ferry.echo"));
                                                       }));
    attempts.emplace_back("CloseSession", Request(MessageType::kCloseSession, id++, 0, nullptr));
    for (auto& [what, request] : attempts) {
      SCOPED_TRACE(what);
      ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage reply, intruder.Call(std::move(request)));
      EXPECT_EQ(reply.type, MessageType::kReply);
      EXPECT_EQ(reply.status.code(), StatusCode::kPermissionDenied) << reply.status.ToString();
      // Nothing learned: no body, no bulk frames, nothing of the session in the message.
      EXPECT_EQ(reply.body_size(), 0u);
      EXPECT_EQ(reply.frames.size(), 1u);
      EXPECT_EQ(reply.status.message().find("secret"), std::string::npos) << reply.status.message();
      EXPECT_EQ(reply.status.message().find(session.opened.token), std::string::npos);
    }
  }
  // The intruder's connection is gone now; that must not end the owner's session.
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(agent_.SessionEnded(session.opened.id)) << agent_.Log();

  // The owner's session is intact and keeps working.
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
  ASSERT_OK_AND_ASSIGN(Value back, echo.Call(std::string("mine")));
  EXPECT_EQ(back.As<std::string>().value(), "mine");
  ASSERT_OK_AND_ASSIGN(std::string downloaded, remote.Download("secret.txt"));
  EXPECT_EQ(downloaded, secret);
  ASSERT_OK_AND_ASSIGN(NDArray copy, NDArray::Empty({16}, DataType::Float32(), Device::Cpu()));
  ASSERT_OK(copy.CopyFrom(array));
  EXPECT_EQ(std::memcmp(copy.data(), host.data(), host.NumBytes()), 0);
  ASSERT_OK_AND_ASSIGN(std::vector<rpc::FileEntry> files, remote.ListFiles());
  EXPECT_EQ(files.size(), 1u);
}

// Finding 6: one peer may hold at most 4 sessions it has not said Hello to.
TEST_F(AgentSecurityTest, FifthUnclaimedSessionOfAPeerIsResourceExhausted) {
  StartAgent({});
  RawDealer raw(agent_.endpoint());
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    ASSERT_OK(testing::OpenSessionRaw(raw, 1 + i).status());
  }
  const StatusOr<OpenedSession> fifth = testing::OpenSessionRaw(raw, 5);
  ASSERT_FALSE(fifth.ok());
  EXPECT_EQ(fifth.status().code(), StatusCode::kResourceExhausted) << fifth.status().ToString();
  EXPECT_NE(fifth.status().message().find("Hello"), std::string::npos) << fifth.status().ToString();
  // The same peer through the client library is refused the same way, and no worker was
  // started for either.
  const StatusOr<rpc::RemoteSession> client = Connect(5s);
  EXPECT_EQ(client.status().code(), StatusCode::kResourceExhausted) << client.status().ToString();
  std::string log = agent_.Log();
  size_t opened = 0;
  for (size_t at = log.find("event=session_open "); at != std::string::npos;
       at = log.find("event=session_open ", at + 1)) {
    ++opened;
  }
  EXPECT_EQ(opened, 4u) << log;
}

// Finding 6: unclaimed sessions end after --hello-timeout, freeing their slots, directories
// and workers, and SessionStatus says why.
TEST_F(AgentSecurityTest, UnclaimedSessionsEndAfterTheHelloTimeout) {
  StartAgent({"--hello-timeout", "1"});
  RawDealer raw(agent_.endpoint());
  std::vector<OpenedSession> sessions;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(OpenedSession opened, testing::OpenSessionRaw(raw, 1 + i));
    sessions.push_back(opened);
  }
  const auto opened_all = Clock::now();
  for (const OpenedSession& s : sessions) {
    SCOPED_TRACE(s.id);
    const pid_t worker = agent_.WorkerPid(s.id);
    EXPECT_GT(worker, 0);
    EXPECT_TRUE(WaitFor([&] { return agent_.SessionEnded(s.id) && ProcessGone(worker); }, 6s));
    EXPECT_FALSE(std::filesystem::exists(SessionDir(s.id)));
    EXPECT_NE(EndReason(s.id).find("Hello"), std::string::npos) << EndReason(s.id);
  }
  EXPECT_LT(Clock::now() - opened_all, 6s);
  ExpectAgentServes();
}

// Finding 6: an agent whose every slot holds an unclaimed session is free again after the
// hello timeout (before, it stayed locked out for the whole session timeout, 300 s).
TEST_F(AgentSecurityTest, FullAgentIsNotLockedOutByUnclaimedSessions) {
  StartAgent({"--max-sessions", "2", "--hello-timeout", "3"});
  RawDealer raw(agent_.endpoint());
  ASSERT_OK(testing::OpenSessionRaw(raw, 1).status());
  ASSERT_OK(testing::OpenSessionRaw(raw, 2).status());
  const auto full = Clock::now();
  const StatusOr<rpc::RemoteSession> refused = Connect(5s);
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted) << refused.status().ToString();
  StatusOr<rpc::RemoteSession> served = refused.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        served = Connect(5s);
        return served.ok();
      },
      15s))
      << served.status().ToString();
  EXPECT_LT(Clock::now() - full, 10s);
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, served->GetFunction("ferry.echo"));
  EXPECT_TRUE(echo.Call(int64_t{1}).ok());
}

rpc::Frames OpenSessionWith(uint64_t version, uint64_t id, uint64_t deadline_ms) {
  return RawRequest(version, MessageType::kOpenSession, id, deadline_ms, 2, [](auto& p) {
    p.pack(rpc::kMinProtocolVersion);
    p.pack(rpc::kMaxProtocolVersion);
  });
}

// Finding 7: the agent's listener checks the header's version and deadline.
TEST_F(AgentSecurityTest, AgentRefusesWrongVersionsAndExpiredDeadlines) {
  StartAgent({});
  RawDealer raw(agent_.endpoint());
  uint64_t id = 10;
  for (uint64_t version : {uint64_t{999}, uint64_t{0}}) {
    SCOPED_TRACE(version);
    ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage reply, raw.Call(OpenSessionWith(version, ++id, 10000)));
    EXPECT_EQ(reply.request_id, id);
    EXPECT_EQ(reply.status.code(), StatusCode::kUnimplemented) << reply.status.ToString();
    EXPECT_NE(reply.status.message().find("protocol version mismatch"), std::string::npos)
        << reply.status.ToString();
    ASSERT_OK_AND_ASSIGN(
        rpc::ParsedMessage status_reply,
        raw.Call(RawRequest(version, MessageType::kSessionStatus, ++id, 10000, 1,
                            [](auto& p) { p.pack(std::string("0123456789abcdef")); })));
    EXPECT_EQ(status_reply.status.code(), StatusCode::kUnimplemented)
        << status_reply.status.ToString();
  }
  ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage expired,
                       raw.Call(OpenSessionWith(rpc::kProtocolVersion, ++id, 0)));
  EXPECT_EQ(expired.request_id, id);
  EXPECT_EQ(expired.status.code(), StatusCode::kDeadlineExceeded) << expired.status.ToString();
  ASSERT_OK_AND_ASSIGN(
      rpc::ParsedMessage expired_status,
      raw.Call(RawRequest(rpc::kProtocolVersion, MessageType::kSessionStatus, ++id, 0, 1,
                          [](auto& p) { p.pack(std::string("0123456789abcdef")); })));
  EXPECT_EQ(expired_status.status.code(), StatusCode::kDeadlineExceeded)
      << expired_status.status.ToString();
  // None of them started a worker.
  EXPECT_EQ(agent_.LogLine("session_open"), "") << agent_.Log();
  ExpectAgentServes();
}

// Finding 7: the session worker checks them too, before Hello and after it; a refused Hello
// does not claim the session.
TEST_F(AgentSecurityTest, WorkerRefusesWrongVersionsAndExpiredDeadlines) {
  StartAgent({});
  RawDealer raw(agent_.endpoint());
  ASSERT_OK_AND_ASSIGN(OpenedSession session, testing::OpenSessionRaw(raw));
  RawDealer worker(session.worker_endpoint);
  uint64_t id = 0;
  auto hello = [&](uint64_t version, uint64_t deadline_ms) {
    return RawRequest(version, MessageType::kHello, ++id, deadline_ms, 1,
                      [&](auto& p) { p.pack(session.token); });
  };
  auto echo = [&](uint64_t version, uint64_t deadline_ms) {
    return RawRequest(version, MessageType::kGetGlobalFunction, ++id, deadline_ms, 1,
                      [](auto& p) { p.pack(std::string("ferry.echo")); });
  };
  for (const bool greeted : {false, true}) {
    SCOPED_TRACE(greeted ? "after Hello" : "before Hello");
    auto request = [&](uint64_t version, uint64_t deadline_ms) {
      return greeted ? echo(version, deadline_ms) : hello(version, deadline_ms);
    };
    for (uint64_t version : {uint64_t{999}, uint64_t{0}}) {
      SCOPED_TRACE(version);
      ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage reply, worker.Call(request(version, 10000)));
      EXPECT_EQ(reply.request_id, id);
      EXPECT_EQ(reply.status.code(), StatusCode::kUnimplemented) << reply.status.ToString();
      EXPECT_NE(reply.status.message().find("protocol version mismatch"), std::string::npos)
          << reply.status.ToString();
    }
    ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage expired,
                         worker.Call(request(rpc::kProtocolVersion, 0)));
    EXPECT_EQ(expired.request_id, id);
    EXPECT_EQ(expired.status.code(), StatusCode::kDeadlineExceeded) << expired.status.ToString();
    // The well-formed request still succeeds: none of the above claimed or broke the session.
    ASSERT_OK_AND_ASSIGN(rpc::ParsedMessage ok, worker.Call(request(rpc::kProtocolVersion, 10000)));
    EXPECT_TRUE(ok.status.ok()) << ok.status.ToString();
  }
}

// A library and a time_evaluator of its "run" that takes ten minutes.
struct LongCall {
  rpc::RemoteSession remote;
  PackedFunc timer;
};

StatusOr<LongCall> PrepareLongCall(const std::string& endpoint, const std::string& library) {
  rpc::ConnectOptions options;
  options.timeout = 20s;
  ASSIGN_OR_RETURN(rpc::RemoteSession remote, rpc::Connect(endpoint, options));
  RETURN_IF_ERROR(remote.Upload(library, "mlp.so"));
  ASSIGN_OR_RETURN(Module lib, remote.LoadModule("mlp.so"));
  ASSIGN_OR_RETURN(ExecutorModule gmod, ExecutorModule::Create(lib, "mlp", remote.Cpu(0)));
  RETURN_IF_ERROR(gmod.SetInput("data", testing::RandomArray({1, 784}, 3)));
  ASSIGN_OR_RETURN(PackedFunc timer,
                   remote.TimeEvaluator(
                       gmod.module(), "run", remote.Cpu(0),
                       TimeEvaluatorOptions{.number = 1, .repeat = 1, .min_repeat_ms = 600000}));
  return LongCall{std::move(remote), std::move(timer)};
}

// Finding 8: a call that outlives its caller's deadline by the 5 s grace ends its worker.
TEST_F(AgentSecurityTest, CallPastItsDeadlineEndsTheWorker) {
  ASSERT_OK_AND_ASSIGN(std::string library, testing::TestLibraries::Get().Library("mlp_graph"));
  StartAgent({});
  ASSERT_OK_AND_ASSIGN(LongCall call, PrepareLongCall(agent_.endpoint(), library));
  const std::string id = call.remote.session_id();
  const pid_t worker = agent_.WorkerPid(id);
  ASSERT_GT(worker, 0) << agent_.Log();
  call.remote.set_timeout(2s);
  const auto start = Clock::now();
  const Status result = call.timer.Call().status();
  const auto gave_up = Clock::now() - start;
  EXPECT_EQ(result.code(), StatusCode::kDeadlineExceeded) << result.ToString();
  EXPECT_GE(gave_up, 1500ms);
  EXPECT_LT(gave_up, 5s);
  // Deadline 2 s + grace 5 s + slack.
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(worker) && agent_.SessionEnded(id); }, 12s))
      << agent_.Log();
  EXPECT_LT(Clock::now() - start, 12s);
  EXPECT_FALSE(std::filesystem::exists(SessionDir(id)));
  const std::string reason = EndReason(id);
  EXPECT_NE(reason.find("outlived its deadline"), std::string::npos) << reason;
  ExpectAgentServes();
}

// Finding 8: a client that vanishes during a long call ends its worker at once.
TEST_F(AgentSecurityTest, ClientVanishingDuringACallEndsTheWorker) {
  ASSERT_OK_AND_ASSIGN(std::string library, testing::TestLibraries::Get().Library("mlp_graph"));
  StartAgent({});
  int to_parent[2];
  ASSERT_EQ(pipe(to_parent), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The client: prepare the call, report the session id, then run the call (it blocks).
    close(to_parent[0]);
    StatusOr<LongCall> call = PrepareLongCall(agent_.endpoint(), library);
    if (!call.ok()) _exit(2);
    call->remote.set_timeout(120s);
    const std::string line = call->remote.session_id() + "\n";
    if (write(to_parent[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      _exit(3);
    }
    (void)call->timer.Call();
    _exit(0);
  }
  close(to_parent[1]);
  const std::string id = ReadLineFrom(to_parent[0], 30s);
  close(to_parent[0]);
  const pid_t worker = agent_.WorkerPid(id);
  // Let the call start, then the client vanishes without a word.
  std::this_thread::sleep_for(1s);
  const bool was_running = worker > 0 && !ProcessGone(worker);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_FALSE(id.empty()) << agent_.Log();
  ASSERT_TRUE(was_running) << "worker " << worker << "\n" << agent_.Log();
  const auto vanished = Clock::now();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(worker) && agent_.SessionEnded(id); }, 8s))
      << agent_.Log();
  EXPECT_LT(Clock::now() - vanished, 8s);
  EXPECT_FALSE(std::filesystem::exists(SessionDir(id)));
  const std::string reason = EndReason(id);
  EXPECT_NE(reason.find("disconnected"), std::string::npos) << reason;
  ExpectAgentServes();
}

// Finding 10: SIGTERM and SIGINT stop an agent with an open session: exit code 0, the worker
// and the session directory gone, no "internal error".
TEST_F(AgentSecurityTest, SignalWithAnOpenSessionStopsTheAgentCleanly) {
  for (const int signal : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(strsignal(signal));
    std::filesystem::remove(dir_->path() + "/agent.log");
    StartAgent({});
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, Connect());
    ASSERT_OK(remote.UploadBytes("some bytes", "data.bin"));
    const std::string session_dir = SessionDir(remote.session_id());
    ASSERT_TRUE(std::filesystem::exists(session_dir + "/data.bin"));
    const pid_t worker = agent_.WorkerPid(remote.session_id());
    ASSERT_GT(worker, 0);
    const std::optional<int> status = agent_.Stop(signal, 10s);
    ASSERT_TRUE(status.has_value()) << "the agent did not stop within 10 s\n" << agent_.Log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "wait status " << *status << "\n"
        << agent_.Log();
    EXPECT_TRUE(WaitFor([&] { return ProcessGone(worker); }, 5s));
    EXPECT_FALSE(std::filesystem::exists(session_dir));
    const std::string log = agent_.Log();
    EXPECT_EQ(log.find("internal error"), std::string::npos) << log;
    EXPECT_NE(log.find("event=agent_stopped"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace ferry
