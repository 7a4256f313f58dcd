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
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "compiler/subprocess.h"
#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "tests/agent_test_process.h"
#include "tests/model_test_util.h"
#include "tests/netns_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;
using testing::CreateNetnsOrSkip;
using testing::FindProgram;
using testing::NetnsLink;
using testing::NetnsNetwork;
using testing::WaitFor;

constexpr char kPattern[] = "FERRY-SECRET-PAT";  // 16 bytes, repeated over the array
constexpr int64_t kArrayBytes = 256 << 10;

class AgentWireCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir, compiler::TempDir::Create("ferry-wire-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    tcpdump_ = FindProgram("tcpdump");
    if (tcpdump_.empty()) {
      GTEST_SKIP() << "`tcpdump` is not on PATH (scripts/install_deps installs it)";
    }
    CreateNetnsOrSkip({.prefix = "ferry-wire",
                       .subnet = "10.78",
                       .hosts = {"a", "c"},
                       .link = NetnsLink::kVethPair,
                       .work_dir = dir_->path()},
                      &net_);
  }

  void TearDown() override {
    StopCapture();
    agent_.Kill();
    net_.reset();
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  // Starts tcpdump on ns a's eth0, writing every packet to `file` as it arrives; waits up
  // to 10 s until it listens.
  void StartCapture(const std::string& file) {
    capture_log_ = file + ".log";
    std::vector<std::string> args = {tcpdump_,           "-i", "eth0", "-n", "-s", "0",  "-U",
                                     "--immediate-mode", "-Z", "root", "-w", file, "tcp"};
    tcpdump_pid_ = net_->Spawn("a", std::move(args), capture_log_);
    ASSERT_GE(tcpdump_pid_, 0);
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
    return net_->RunIn(
        "c",
        [&]() -> int {
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
        },
        60s);
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
    const Status started = agent_.Start(dir, dir + "/work", agent_args,
                                        "tcp://" + net_->Address("a") + ":*", net_->NetnsPath("a"));
    EXPECT_TRUE(started.ok()) << started.ToString();
    if (!started.ok()) return "";
    EXPECT_EQ(agent_.endpoint().rfind("tcp://" + net_->Address("a") + ":", 0), 0u)
        << agent_.endpoint();
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
  std::string tcpdump_;
  std::unique_ptr<NetnsNetwork> net_;
  AgentProcess agent_;
  pid_t tcpdump_pid_ = -1;
  std::string capture_log_;
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
