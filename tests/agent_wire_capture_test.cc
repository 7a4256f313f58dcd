// What an eavesdropper on the wire sees (issue 9). Two network namespaces joined by a veth
// pair: a ferry-agent (FERRY_AGENT_PATH) in one, a client process in the other, and tcpdump
// recording the agent's side of the link. The client copies an array filled with a
// distinctive 16-byte pattern to the agent and back, once in plaintext (--insecure) and once
// with CURVE keys: the pattern must show in the first capture and nowhere in the second.
//
//   ns a: eth0 10.78.N.1 (ferry-agent, tcpdump -i eth0)  ──veth──  ns c: eth0 10.78.N.2 (client)
//
// Needs root (namespaces, packet capture), iproute2's `ip` and `tcpdump` on PATH
// (scripts/install_deps installs it); skipped with the reason otherwise. Names carry the
// test's pid, so concurrent runs do not clash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compiler/subprocess.h"
#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "tests/agent_test_process.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;
using testing::ShellQuote;
using testing::WaitFor;

constexpr char kPattern[] = "FERRY-SECRET-PAT";  // 16 bytes, repeated over the array
constexpr int64_t kArrayBytes = 256 << 10;

// The first executable `name` in $PATH, then in `more_dirs` (':'-separated), or "".
std::string FindProgram(const std::string& name, const std::string& more_dirs = "") {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":" + more_dirs;
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs `args` with output to `out`; returns the exit code (-1 when it did not exit).
int RunCommand(const std::vector<std::string>& args, const std::string& log, std::string* out) {
  std::string command;
  for (const std::string& arg : args) command += ShellQuote(arg) + " ";
  command += "</dev/null >" + ShellQuote(log) + " 2>&1";
  const int status = std::system(command.c_str());
  *out = ReadFile(log).value_or("");
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Forks a child that enters the network namespace at `netns_path` and then runs `body`,
// exiting with its result. Returns the child's pid (-1 when fork failed).
pid_t ForkIn(const std::string& netns_path, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
  _exit(body());
}

class AgentWireCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-wire-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    ip_ = FindProgram("ip", "/usr/sbin:/sbin:/usr/bin:/bin");
    tcpdump_ = FindProgram("tcpdump");
    if (ip_.empty()) GTEST_SKIP() << "iproute2's `ip` is not installed";
    if (tcpdump_.empty()) {
      GTEST_SKIP() << "`tcpdump` is not on PATH (scripts/install_deps installs it)";
    }
    if (geteuid() != 0) {
      GTEST_SKIP() << "network namespaces and packet capture need root; euid " << geteuid();
    }
    const std::string pid = std::to_string(getpid());
    subnet_ = "10.78." + std::to_string(getpid() % 250 + 1) + ".";
    for (const char* role : {"a", "c"}) {
      const std::string ns = "ferry-wire-" + pid + "-" + role;
      names_[role] = ns;
      std::string out;
      Ip({"netns", "del", ns}, &out);  // a stale one of a killed run with this pid
      if (Ip({"netns", "add", ns}, &out) != 0) {
        GTEST_SKIP() << "cannot create a network namespace: " << out;
      }
      created_.push_back(ns);
      ASSERT_EQ(Ip({"-n", ns, "link", "set", "lo", "up"}, &out), 0) << out;
    }
    std::string out;
    ASSERT_EQ(Ip({"-n", names_["a"], "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
                  "netns", names_["c"]},
                 &out),
              0)
        << out;
    int host = 1;
    for (const char* role : {"a", "c"}) {
      ASSERT_EQ(
          Ip({"-n", names_[role], "addr", "add", Address(host++) + "/24", "dev", "eth0"}, &out), 0)
          << out;
      ASSERT_EQ(Ip({"-n", names_[role], "link", "set", "eth0", "up"}, &out), 0) << out;
    }
  }

  void TearDown() override {
    StopCapture();
    agent_.Kill();
    std::string out;
    for (const std::string& ns : created_) {
      // Whatever still runs in our namespaces was started by this test.
      if (Ip({"netns", "pids", ns}, &out) == 0) {
        std::istringstream pids(out);
        for (long pid; pids >> pid;) {
          if (pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
        }
      }
      if (Ip({"netns", "del", ns}, &out) != 0)
        ADD_FAILURE() << "cannot delete " << ns << ": " << out;
    }
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }
  std::string Address(int host) const { return subnet_ + std::to_string(host); }
  std::string NetnsPath(const std::string& role) const {
    const std::string path = "/run/netns/" + names_.at(role);
    return access(path.c_str(), F_OK) == 0 ? path : "/var/run/netns/" + names_.at(role);
  }

  int Ip(const std::vector<std::string>& args, std::string* out) {
    std::vector<std::string> all = {ip_};
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(all, Path("ip_" + std::to_string(calls_++) + ".out"), out);
  }

  // Starts tcpdump on ns a's eth0, writing every packet to `file` as it arrives; waits up
  // to 10 s until it listens.
  void StartCapture(const std::string& file) {
    capture_log_ = file + ".log";
    std::vector<std::string> args = {tcpdump_,           "-i", "eth0", "-n", "-s", "0",  "-U",
                                     "--immediate-mode", "-Z", "root", "-w", file, "tcp"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string ns = NetnsPath("a");
    const char* log = capture_log_.c_str();
    tcpdump_pid_ = fork();
    ASSERT_GE(tcpdump_pid_, 0);
    if (tcpdump_pid_ == 0) {
      const int fd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) _exit(126);
      const int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
      const int in = open("/dev/null", O_RDONLY);
      if (out < 0 || in < 0) _exit(126);
      dup2(in, 0);
      dup2(out, 1);
      dup2(out, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ASSERT_TRUE(WaitFor(
        [&] {
          return ReadFile(capture_log_).value_or("").find("listening on") != std::string::npos ||
                 waitpid(tcpdump_pid_, nullptr, WNOHANG) == tcpdump_pid_;
        },
        10s))
        << "tcpdump did not start:\n"
        << ReadFile(capture_log_).value_or("");
    ASSERT_NE(ReadFile(capture_log_).value_or("").find("listening on"), std::string::npos)
        << "tcpdump failed:\n"
        << ReadFile(capture_log_).value_or("");
  }

  // SIGINT lets tcpdump flush and close its file; SIGKILL after 5 s.
  void StopCapture() {
    if (tcpdump_pid_ <= 0) return;
    std::this_thread::sleep_for(300ms);  // the last packets reach its buffer
    kill(tcpdump_pid_, SIGINT);
    if (!WaitFor([&] { return waitpid(tcpdump_pid_, nullptr, WNOHANG) == tcpdump_pid_; }, 5s)) {
      kill(tcpdump_pid_, SIGKILL);
      waitpid(tcpdump_pid_, nullptr, 0);
    }
    tcpdump_pid_ = -1;
  }

  // In ns c: a session with the agent, the pattern array copied there and back and checked.
  // Exit codes: 0 done, 2 connect, 3 allocate, 4 copy there, 5 copy back, 6 bytes differ.
  int CopyPatternThereAndBack(const std::string& endpoint, const rpc::ConnectOptions& options) {
    return ForkAndWait(NetnsPath("c"), [&]() -> int {
      StatusOr<rpc::RemoteSession> remote = rpc::Connect(endpoint, options);
      if (!remote.ok()) {
        std::fprintf(stderr, "client: %s\n", remote.status().ToString().c_str());
        return 2;
      }
      const int64_t count = kArrayBytes / 4;
      NDArray host = NDArray::Empty({count}, DataType::Float32(), Device::Cpu()).value();
      char* bytes = static_cast<char*>(host.data());
      for (int64_t i = 0; i < kArrayBytes; i += 16) std::memcpy(bytes + i, kPattern, 16);
      StatusOr<NDArray> there = remote->Empty({count}, DataType::Float32(), remote->Cpu());
      if (!there.ok()) return 3;
      if (!there->CopyFrom(host).ok()) return 4;
      NDArray back = NDArray::Empty({count}, DataType::Float32(), Device::Cpu()).value();
      if (!back.CopyFrom(*there).ok()) return 5;
      return std::memcmp(back.data(), host.data(), kArrayBytes) == 0 ? 0 : 6;
    });
  }

  // Runs `body` in a child inside `netns_path`; waits up to 60 s. Returns its exit code, -1
  // when it was killed or timed out.
  int ForkAndWait(const std::string& netns_path, const std::function<int()>& body) {
    const pid_t pid = ForkIn(netns_path, body);
    if (pid < 0) return -1;
    int status = 0;
    if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 60s)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Records one session (agent started with `agent_args`, client with `options`) in
  // `capture`; returns the capture's bytes.
  std::string CaptureSession(const std::string& name, const std::vector<std::string>& agent_args,
                             const rpc::ConnectOptions& options) {
    const std::string capture = Path(name + ".pcap");
    StartCapture(capture);
    if (::testing::Test::HasFatalFailure()) return "";
    const std::string dir = Path(name);
    std::filesystem::create_directories(dir);
    const Status started =
        agent_.Start(dir, dir + "/work", agent_args, "tcp://" + Address(1) + ":*", NetnsPath("a"));
    EXPECT_TRUE(started.ok()) << started.ToString();
    if (!started.ok()) return "";
    EXPECT_EQ(agent_.endpoint().rfind("tcp://" + Address(1) + ":", 0), 0u) << agent_.endpoint();
    const int client = CopyPatternThereAndBack(agent_.endpoint(), options);
    EXPECT_EQ(client, 0) << "the client failed (exit code " << client << ")\n" << agent_.Log();
    EXPECT_TRUE(agent_.Stop(SIGTERM, 10s).has_value());
    StopCapture();
    std::string bytes = ReadFile(capture).value_or("");
    // Both copies crossed the link: the capture holds at least the array twice.
    EXPECT_GT(bytes.size(), static_cast<size_t>(2 * kArrayBytes))
        << "capture of " << bytes.size() << " bytes\n"
        << ReadFile(capture_log_).value_or("");
    return bytes;
  }

  std::unique_ptr<compiler::TempDir> dir_;
  std::string ip_;
  std::string tcpdump_;
  std::string subnet_;
  std::map<std::string, std::string> names_;  // role -> namespace name
  std::vector<std::string> created_;
  AgentProcess agent_;
  pid_t tcpdump_pid_ = -1;
  std::string capture_log_;
  int calls_ = 0;
};

TEST_F(AgentWireCaptureTest, PatternIsVisibleInPlaintextAndNotUnderCurve) {
  const std::string pattern(kPattern, 16);
  rpc::ConnectOptions plaintext;
  plaintext.timeout = 20s;
  const std::string clear = CaptureSession("plaintext", {"--insecure"}, plaintext);
  if (HasFatalFailure()) return;
  EXPECT_NE(clear.find(pattern), std::string::npos)
      << "the plaintext capture does not show the pattern: is the capture on the right link?";

  ASSERT_OK_AND_ASSIGN(rpc::CurveKeyPair server, rpc::GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(rpc::CurveKeyPair client, rpc::GenerateCurveKeyPair());
  ASSERT_OK(rpc::WriteCurveKeyPair(Path("server"), server, false));
  ASSERT_OK(WriteFileAtomically(Path("authorized_keys"), client.public_key + " client\n"));
  rpc::ConnectOptions curve;
  curve.timeout = 20s;
  curve.channel.curve_identity = client;
  curve.channel.curve_server_key = server.public_key;
  const std::string sealed = CaptureSession(
      "curve", {"--identity", Path("server"), "--authorized-keys", Path("authorized_keys")}, curve);
  if (HasFatalFailure()) return;
  EXPECT_EQ(sealed.find(pattern), std::string::npos)
      << "the pattern crossed the wire in clear under CURVE";
  // Not even half of it: no 8-byte piece of the pattern either.
  for (size_t at = 0; at + 8 <= pattern.size(); at += 4) {
    EXPECT_EQ(sealed.find(pattern.substr(at, 8)), std::string::npos) << pattern.substr(at, 8);
  }
}

}  // namespace
}  // namespace ferry
