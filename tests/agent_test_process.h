// Helpers for tests that run a real ferry-agent (FERRY_AGENT_PATH) and talk to it as an
// attacker would: the agent as a child process (optionally inside a network namespace) with
// its log, raw DEALER sockets (plaintext or CURVE) that send hand-made headers, and a client
// session opened step by step so the test knows the session's worker endpoint and token.
// Every wait is bounded.
#ifndef FERRY_TESTS_AGENT_TEST_PROCESS_H_
#define FERRY_TESTS_AGENT_TEST_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "rpc/client_session.h"
#include "rpc/message.h"
#include "rpc/zap_handler.h"
#include "rpc/zmq_channel.h"
#include "runtime/file_util.h"
#include "tests/process_test_util.h"
#include "tests/raw_peer_test_util.h"

#ifndef FERRY_AGENT_PATH
#error "FERRY_AGENT_PATH must name the ferry-agent binary"
#endif

namespace ferry::testing {

// A ferry-agent child process writing its stdout and stderr to `log_path`.
class AgentProcess {
 public:
  AgentProcess() = default;
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;
  ~AgentProcess() { Kill(); }

  // Starts `ferry-agent --listen LISTEN --endpoint-file DIR/endpoint --work-dir WORK_DIR
  // args...` (inside the network namespace at `netns_path` when non-empty) and waits up to
  // 10 s for its endpoint. Errors: kUnavailable with the log when it exits first (its wait
  // status is then exit_status()), kDeadlineExceeded when it writes no endpoint in time.
  Status Start(const std::string& dir, const std::string& work_dir,
               const std::vector<std::string>& args,
               const std::string& listen = "tcp://127.0.0.1:*",
               const std::string& netns_path = "") {
    log_path_ = dir + "/agent.log";
    work_dir_ = work_dir;
    const std::string endpoint_file = dir + "/endpoint";
    std::error_code ec;
    std::filesystem::remove(endpoint_file, ec);
    std::vector<std::string> all = {FERRY_AGENT_PATH, "--listen",   listen,  "--endpoint-file",
                                    endpoint_file,    "--work-dir", work_dir};
    all.insert(all.end(), args.begin(), args.end());
    exit_status_ = -1;
    pid_ = SpawnLogged(std::move(all), log_path_, netns_path);
    if (pid_ < 0) return UnavailableError("fork failed");
    StatusOr<std::string> endpoint =
        AwaitEndpointFile(pid_, endpoint_file, log_path_, std::chrono::seconds(10), &exit_status_);
    if (exit_status_ != -1) pid_ = -1;  // it exited (and was reaped)
    if (!endpoint.ok()) {
      return Status(endpoint.status().code(), "ferry-agent " + endpoint.status().message());
    }
    endpoint_ = *std::move(endpoint);
    return Status::Ok();
  }

  // Sends `signal` and waits up to `timeout` for the exit; returns the wait status, or
  // nullopt when it did not exit in time (it is then killed).
  std::optional<int> Stop(int signal = SIGTERM,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    if (pid_ <= 0) return std::nullopt;
    kill(pid_, signal);
    int status = 0;
    const bool exited = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
    if (!exited) Kill();
    pid_ = -1;
    return exited ? std::optional<int>(status) : std::nullopt;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string Log() const { return ReadFile(log_path_).value_or(""); }

  // The first log line of `event` that mentions `session=ID` (any line of `event` when `id`
  // is empty), or "".
  std::string LogLine(const std::string& event, const std::string& id = "") const {
    std::istringstream lines(Log());
    for (std::string line; std::getline(lines, line);) {
      if ((line + " ").find(" event=" + event + " ") == std::string::npos) continue;
      if (id.empty() || line.find("session=" + id) != std::string::npos) return line;
    }
    return "";
  }

  // A field `name=value` of a log line ("" when absent).
  static std::string Field(const std::string& line, const std::string& name) {
    const size_t at = line.find(" " + name + "=");
    if (at == std::string::npos) return "";
    const size_t start = at + name.size() + 2;
    return line.substr(start, line.find(' ', start) - start);
  }

  pid_t WorkerPid(const std::string& session_id) const {
    const std::string pid = Field(LogLine("session_open", session_id), "worker_pid");
    return pid.empty() ? -1 : static_cast<pid_t>(std::stol(pid));
  }
  std::string WorkerEndpoint(const std::string& session_id) const {
    return Field(LogLine("session_open", session_id), "worker_endpoint");
  }
  bool SessionEnded(const std::string& session_id) const {
    return !LogLine("session_end", session_id).empty();
  }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& work_dir() const { return work_dir_; }
  pid_t pid() const { return pid_; }
  int exit_status() const { return exit_status_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
  std::string work_dir_;
  std::string endpoint_;
};

// Whether process `pid` is gone (no such process, or a zombie nobody reaped yet).
inline bool ProcessGone(pid_t pid) {
  if (pid <= 0) return true;
  // /proc files report size 0, so read them as a stream.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return true;
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// What OpenSession answers.
struct OpenedSession {
  std::string id;
  std::string worker_endpoint;
  std::string token;
};

// OpenSession's reply body: [version, id, worker endpoint, token].
inline StatusOr<OpenedSession> ReadOpenedSession(const rpc::ParsedMessage& reply) {
  RETURN_IF_ERROR(rpc::CheckBodySize(reply, 4));
  OpenedSession opened;
  ASSIGN_OR_RETURN(opened.id, rpc::ReadString(reply.item(1), "session id"));
  ASSIGN_OR_RETURN(opened.worker_endpoint, rpc::ReadString(reply.item(2), "worker endpoint"));
  ASSIGN_OR_RETURN(opened.token, rpc::ReadString(reply.item(3), "token"));
  return opened;
}

// OpenSession through `agent`. Errors: the reply's status, kDeadlineExceeded without reply.
inline StatusOr<OpenedSession> OpenSessionRaw(RawDealer& agent, uint64_t request_id = 1) {
  ASSIGN_OR_RETURN(rpc::ParsedMessage reply,
                   agent.Call(Request(rpc::MessageType::kOpenSession, request_id, 2,
                                      [](rpc::MessageWriter& w) {
                                        w.packer().pack(rpc::kMinProtocolVersion);
                                        w.packer().pack(rpc::kMaxProtocolVersion);
                                      }),
                              std::chrono::seconds(15)));
  RETURN_IF_ERROR(reply.status);
  return ReadOpenedSession(reply);
}

// SessionStatus [id] through a fresh connection to the agent: (alive, reason).
inline StatusOr<std::pair<bool, std::string>> SessionStatusRaw(
    const std::string& agent_endpoint, const std::string& id,
    const std::optional<rpc::CurveKeyPair>& keys = std::nullopt,
    const std::string& server_key = "") {
  RawDealer agent(agent_endpoint, keys, server_key);
  ASSIGN_OR_RETURN(rpc::ParsedMessage reply,
                   agent.Call(Request(rpc::MessageType::kSessionStatus, 1, 1,
                                      [&](rpc::MessageWriter& w) { w.packer().pack(id); })));
  RETURN_IF_ERROR(reply.status);
  RETURN_IF_ERROR(rpc::CheckBodySize(reply, 2));
  ASSIGN_OR_RETURN(bool alive, rpc::ReadBool(reply.item(0), "alive"));
  ASSIGN_OR_RETURN(std::string reason, rpc::ReadString(reply.item(1), "reason"));
  return std::make_pair(alive, reason);
}

// Sends `request` over `channel` and waits for the reply until `deadline`.
inline StatusOr<rpc::ParsedMessage> ChannelCall(rpc::Channel& channel, rpc::Frames request,
                                                rpc::Deadline deadline) {
  RETURN_IF_ERROR(channel.Send(std::move(request), deadline));
  ASSIGN_OR_RETURN(std::optional<rpc::Frames> frames, channel.Receive(deadline));
  if (!frames) return DeadlineExceededError("no reply before the deadline");
  ASSIGN_OR_RETURN(rpc::ParsedMessage reply,
                   rpc::ParseMessage(std::move(*frames), rpc::ProtocolLimits{}));
  RETURN_IF_ERROR(reply.status);
  return reply;
}

// A client session opened as rpc::Connect opens one, keeping what OpenSession answered.
struct KnownSession {
  rpc::RemoteSession remote;
  OpenedSession opened;
};

inline StatusOr<KnownSession> ConnectKnowingToken(const std::string& agent_endpoint,
                                                  const rpc::ConnectOptions& options = {}) {
  auto context = std::make_shared<zmq::context_t>(1);
  ASSIGN_OR_RETURN(std::unique_ptr<rpc::ZmqChannel> agent,
                   rpc::ZmqChannel::Connect(context, agent_endpoint, options.channel));
  const rpc::Deadline deadline = rpc::Clock::now() + options.timeout;
  ASSIGN_OR_RETURN(rpc::ParsedMessage reply,
                   ChannelCall(*agent,
                               Request(rpc::MessageType::kOpenSession, 1, 2,
                                       [](rpc::MessageWriter& w) {
                                         w.packer().pack(rpc::kMinProtocolVersion);
                                         w.packer().pack(rpc::kMaxProtocolVersion);
                                       }),
                               deadline));
  ASSIGN_OR_RETURN(OpenedSession opened, ReadOpenedSession(reply));
  ASSIGN_OR_RETURN(std::unique_ptr<rpc::ZmqChannel> worker,
                   rpc::ZmqChannel::Connect(context, opened.worker_endpoint, options.channel));
  RETURN_IF_ERROR(
      ChannelCall(*worker,
                  Request(rpc::MessageType::kHello, 1, 1,
                          [&](rpc::MessageWriter& w) { w.packer().pack(opened.token); }),
                  deadline)
          .status());
  auto core =
      MakeObject<rpc::SessionCore>(std::move(worker), std::move(agent), opened.id, options.timeout);
  return KnownSession{rpc::RemoteSession(std::move(core)), std::move(opened)};
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_AGENT_TEST_PROCESS_H_
