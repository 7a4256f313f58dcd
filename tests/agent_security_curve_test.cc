// Issue 9, CURVE side, against a real ferry-agent (FERRY_AGENT_PATH) and the ferry CLI
// (FERRY_CLI_PATH): an authorized key runs a whole session; an unlisted key, a wrong server
// key and a plaintext client each get a clear error within 10 s; an authorized key cannot
// use another key's session worker; a non-loopback bind needs keys or --insecure;
// `ferry keygen` writes a usable identity and `ferry run --identity --server-key` uses it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "compiler/subprocess.h"
#include "rpc/curve_keys.h"
#include "runtime/npy.h"
#include "tests/agent_test_process.h"
#include "tests/cli_test_fixture.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using rpc::Clock;
using rpc::CurveKeyPair;
using testing::AgentProcess;
using testing::KnownSession;
using testing::WaitFor;

class AgentSecurityCurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(compiler::TempDir dir,
                         compiler::TempDir::Create("ferry-agent-curve-test-"));
    dir_ = std::make_unique<compiler::TempDir>(std::move(dir));
    for (const char* name : {"server", "alice", "bob", "mallory"}) {
      ASSERT_OK_AND_ASSIGN(CurveKeyPair keys, rpc::GenerateCurveKeyPair());
      ASSERT_OK(rpc::WriteCurveKeyPair(Path(name), keys, false));
      keys_[name] = keys;
    }
    // Alice and Bob are admitted, Mallory is not.
    ASSERT_OK(WriteFileAtomically(Path("authorized_keys"),
                                  "# clients of this agent\n" + keys_["alice"].public_key +
                                      " alice\n" + keys_["bob"].public_key + " bob\n"));
  }

  void TearDown() override {
    if (agent_.pid() > 0 && !agent_.Stop(SIGTERM, 10s)) {
      ADD_FAILURE() << "the agent did not stop on SIGTERM";
    }
    if (HasFailure()) std::cout << "---- agent log\n" << agent_.Log() << "\n";
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  std::vector<std::string> CurveArgs() {
    return {"--identity", Path("server"), "--authorized-keys", Path("authorized_keys")};
  }

  void StartCurveAgent() { ASSERT_OK(agent_.Start(dir_->path(), Path("work"), CurveArgs())); }

  // Options of a client presenting `name`'s keys and expecting `server_key`.
  rpc::ConnectOptions ClientOptions(const std::string& name, std::string server_key = "") {
    rpc::ConnectOptions options;
    options.timeout = 20s;
    options.channel.curve_identity = keys_[name];
    options.channel.curve_server_key = server_key.empty() ? keys_["server"].public_key : server_key;
    return options;
  }

  // Connects with `options` and expects a failure within 10 s; returns it.
  Status ExpectRefusedQuickly(const rpc::ConnectOptions& options) {
    const auto start = Clock::now();
    const StatusOr<rpc::RemoteSession> remote = rpc::Connect(agent_.endpoint(), options);
    const auto took = Clock::now() - start;
    EXPECT_FALSE(remote.ok()) << "the connection was admitted";
    EXPECT_LT(took, 10s) << remote.status().ToString();
    return remote.status();
  }

  void ExpectAliceServed() {
    ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote,
                         rpc::Connect(agent_.endpoint(), ClientOptions("alice")));
    ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
    ASSERT_OK_AND_ASSIGN(Value back, echo.Call(std::string("still here")));
    EXPECT_EQ(back.As<std::string>().value(), "still here");
  }

  std::unique_ptr<compiler::TempDir> dir_;
  std::map<std::string, CurveKeyPair> keys_;
  AgentProcess agent_;
};

TEST_F(AgentSecurityCurveTest, AuthorizedKeyRunsASession) {
  StartCurveAgent();
  EXPECT_NE(agent_.Log().find("CURVE"), std::string::npos) << agent_.Log();
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote,
                       rpc::Connect(agent_.endpoint(), ClientOptions("alice")));
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
  ASSERT_OK_AND_ASSIGN(Value back, echo.Call(std::string("over CURVE")));
  EXPECT_EQ(back.As<std::string>().value(), "over CURVE");

  std::string bytes(5 << 20, '\0');  // more than one 4 MiB chunk
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + (i >> 11));
  ASSERT_OK(remote.UploadBytes(bytes, "blob.bin"));
  ASSERT_OK_AND_ASSIGN(std::string downloaded, remote.Download("blob.bin"));
  EXPECT_TRUE(downloaded == bytes) << "download differs from upload";

  const NDArray host = testing::RandomArray({1 << 20}, 5);  // 4 MiB
  ASSERT_OK_AND_ASSIGN(NDArray array, remote.Empty({1 << 20}, DataType::Float32(), remote.Cpu()));
  ASSERT_OK(array.CopyFrom(host));
  ASSERT_OK_AND_ASSIGN(NDArray back_host,
                       NDArray::Empty({1 << 20}, DataType::Float32(), Device::Cpu()));
  ASSERT_OK(back_host.CopyFrom(array));
  EXPECT_EQ(std::memcmp(back_host.data(), host.data(), host.NumBytes()), 0);
  // The session was opened and claimed by Alice's key.
  const std::string claimed = agent_.LogLine("session_claimed", remote.session_id());
  EXPECT_NE(claimed.find("key=" + rpc::KeyFingerprint(keys_["alice"].public_key)),
            std::string::npos)
      << agent_.Log();
}

TEST_F(AgentSecurityCurveTest, UnlistedKeyIsRefusedWithinTenSeconds) {
  StartCurveAgent();
  const Status refused = ExpectRefusedQuickly(ClientOptions("mallory"));
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << refused.ToString();
  EXPECT_NE(refused.message().find("refused this client's key"), std::string::npos)
      << refused.ToString();
  EXPECT_TRUE(WaitFor([&] { return !agent_.LogLine("connection_refused").empty(); }, 2s))
      << agent_.Log();
  EXPECT_EQ(agent_.LogLine("session_open"), "");
  ExpectAliceServed();
}

TEST_F(AgentSecurityCurveTest, WrongServerKeyIsAClearErrorWithinTenSeconds) {
  StartCurveAgent();
  // Alice is authorized, but expects another server (Bob's key stands for it).
  const Status refused = ExpectRefusedQuickly(ClientOptions("alice", keys_["bob"].public_key));
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << refused.ToString();
  EXPECT_NE(refused.message().find("key"), std::string::npos) << refused.ToString();
  EXPECT_NE(refused.message().find("CURVE"), std::string::npos) << refused.ToString();
  EXPECT_EQ(agent_.LogLine("session_open"), "");
  ExpectAliceServed();
}

TEST_F(AgentSecurityCurveTest, PlaintextClientIsAClearErrorWithinTenSeconds) {
  StartCurveAgent();
  rpc::ConnectOptions plaintext;
  plaintext.timeout = 20s;
  const Status refused = ExpectRefusedQuickly(plaintext);
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << refused.ToString();
  EXPECT_NE(refused.message().find("CURVE"), std::string::npos) << refused.ToString();
  EXPECT_EQ(agent_.LogLine("session_open"), "");
  ExpectAliceServed();
}

// A session's worker admits only the key that opened the session: Bob, though authorized at
// the agent, is refused at the handshake even with Alice's token.
TEST_F(AgentSecurityCurveTest, AnotherAuthorizedKeyCannotReachASessionWorker) {
  StartCurveAgent();
  ASSERT_OK_AND_ASSIGN(KnownSession alice,
                       testing::ConnectKnowingToken(agent_.endpoint(), ClientOptions("alice")));
  ASSERT_OK(alice.remote.UploadBytes("alice's data", "alice.txt"));

  auto context = std::make_shared<zmq::context_t>(1);
  rpc::ZmqChannelOptions bob;
  bob.curve_identity = keys_["bob"];
  bob.curve_server_key = keys_["server"].public_key;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<rpc::ZmqChannel> channel,
                       rpc::ZmqChannel::Connect(context, alice.opened.worker_endpoint, bob));
  const auto start = Clock::now();
  const StatusOr<rpc::ParsedMessage> hello = testing::ChannelCall(
      *channel,
      testing::Request(rpc::MessageType::kHello, 1, 1,
                       [&](rpc::MessageWriter& w) { w.packer().pack(alice.opened.token); }),
      start + 10s);
  EXPECT_LT(Clock::now() - start, 10s);
  ASSERT_FALSE(hello.ok()) << "Bob was served by Alice's worker";
  EXPECT_EQ(hello.status().code(), StatusCode::kPermissionDenied) << hello.status().ToString();
  EXPECT_NE(hello.status().message().find("refused this client's key"), std::string::npos)
      << hello.status().ToString();
  EXPECT_TRUE(
      WaitFor([&] { return !agent_.LogLine("connection_refused", alice.opened.id).empty(); }, 2s))
      << agent_.Log();
  channel.reset();

  // Alice's session is untouched.
  ASSERT_OK_AND_ASSIGN(std::string mine, alice.remote.Download("alice.txt"));
  EXPECT_EQ(mine, "alice's data");
  // And Bob can open a session of his own.
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession own,
                       rpc::Connect(agent_.endpoint(), ClientOptions("bob")));
  EXPECT_TRUE(own.ListFiles().value().empty());
}

// Under CURVE a peer is its key: Alice's unclaimed sessions do not lock Bob out.
TEST_F(AgentSecurityCurveTest, UnclaimedSessionsAreCountedPerKey) {
  StartCurveAgent();
  testing::RawDealer raw(agent_.endpoint(), keys_["alice"], keys_["server"].public_key);
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    ASSERT_OK(testing::OpenSessionRaw(raw, 1 + i).status());
  }
  const StatusOr<testing::OpenedSession> fifth = testing::OpenSessionRaw(raw, 5);
  EXPECT_EQ(fifth.status().code(), StatusCode::kResourceExhausted) << fifth.status().ToString();
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession bob,
                       rpc::Connect(agent_.endpoint(), ClientOptions("bob")));
  EXPECT_TRUE(bob.ListFiles().ok());
}

TEST_F(AgentSecurityCurveTest, NonLoopbackBindNeedsKeysOrInsecure) {
  // Plaintext on every interface: refused, naming the ways out.
  const Status refused = agent_.Start(dir_->path(), Path("work"), {}, "tcp://0.0.0.0:*");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(WIFEXITED(agent_.exit_status()) && WEXITSTATUS(agent_.exit_status()) != 0)
      << agent_.exit_status();
  EXPECT_NE(refused.message().find("--insecure"), std::string::npos) << refused.ToString();
  EXPECT_NE(refused.message().find("--identity"), std::string::npos) << refused.ToString();
  EXPECT_EQ(refused.message().find("internal error"), std::string::npos) << refused.ToString();

  // With keys: accepted, and it serves (through the loopback interface) only with keys.
  ASSERT_OK(agent_.Start(dir_->path(), Path("work"), CurveArgs(), "tcp://0.0.0.0:*"));
  EXPECT_EQ(agent_.endpoint().rfind("tcp://0.0.0.0:", 0), 0u) << agent_.endpoint();
  ExpectAliceServed();
  ASSERT_TRUE(agent_.Stop(SIGTERM, 10s).has_value());

  // Plaintext with --insecure: the operator's explicit choice.
  ASSERT_OK(agent_.Start(dir_->path(), Path("work"), {"--insecure"}, "tcp://0.0.0.0:*"));
  EXPECT_NE(agent_.Log().find("plaintext"), std::string::npos) << agent_.Log();
}

// `ferry keygen` and `ferry run` with keys, as processes.
class AgentSecurityCliTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    // No default identity from the user running the tests.
    const char* home = std::getenv("HOME");
    if (home != nullptr) saved_home_ = home;
    setenv("HOME", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (agent_.pid() > 0) agent_.Stop(SIGTERM, 10s);
    if (saved_home_) {
      setenv("HOME", saved_home_->c_str(), 1);
    } else {
      unsetenv("HOME");
    }
    CliTest::TearDown();
  }

  std::optional<std::string> saved_home_;
  AgentProcess agent_;
};

TEST_F(AgentSecurityCliTest, KeygenWritesAPrivateSecretAndAOneLinePublicKey) {
  const std::string id = Path("id");
  CommandResult r = FerryOk({"keygen", "-o", id});
  ASSERT_TRUE(std::filesystem::exists(id));
  ASSERT_TRUE(std::filesystem::exists(id + ".pub"));
  struct stat info;
  ASSERT_EQ(stat(id.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << std::oct << (info.st_mode & 0777);
  ASSERT_OK_AND_ASSIGN(std::string pub, ReadFile(id + ".pub"));
  EXPECT_EQ(CountLines(pub), 1u) << pub;
  ASSERT_EQ(pub.size(), 41u) << pub;
  EXPECT_TRUE(rpc::IsZ85Key(pub.substr(0, 40))) << pub;
  ASSERT_OK_AND_ASSIGN(CurveKeyPair loaded, rpc::LoadCurveIdentity(id));
  EXPECT_EQ(loaded.public_key + "\n", pub);
  EXPECT_NE(r.out.find(pub.substr(0, 40)), std::string::npos) << r.out;
  ASSERT_OK_AND_ASSIGN(std::string secret, ReadFile(id));
  EXPECT_EQ(r.out.find(secret.substr(0, 40)), std::string::npos) << "the secret was printed";

  // No overwrite without --force; both files unchanged.
  r = FerryFails({"keygen", "-o", id});
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(id).value(), secret);
  EXPECT_EQ(ReadFile(id + ".pub").value(), pub);
  // Not even when only the public half is there.
  std::filesystem::remove(id);
  r = FerryFails({"keygen", "-o", id});
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(id + ".pub").value(), pub);

  FerryOk({"keygen", "-o", id, "--force"});
  EXPECT_NE(ReadFile(id + ".pub").value(), pub);
  ASSERT_EQ(stat(id.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(AgentSecurityCliTest, RunWithKeysAgainstACurveAgent) {
  FerryOk({"keygen", "-o", Path("server")});
  FerryOk({"keygen", "-o", Path("client")});
  FerryOk({"keygen", "-o", Path("stranger")});
  ASSERT_OK(WriteFileAtomically(Path("authorized_keys"), ReadFile(Path("client.pub")).value()));
  ASSERT_OK(
      agent_.Start(dir_, Path("work"),
                   {"--identity", Path("server"), "--authorized-keys", Path("authorized_keys")}));
  const std::string lib = Path("mlp.so");
  FerryOk({"build", "--zoo", "mlp", "-o", lib});
  const std::string input = WriteInput("x.npy", {1, 784}, 4);
  const std::vector<std::string> run = {
      "run",           lib,        "--agent", agent_.endpoint(), "--input",
      "data=" + input, "--repeat", "1",       "--timeout",       "20"};

  auto with = [&](std::vector<std::string> extra, const std::string& out_dir) {
    std::vector<std::string> args = run;
    args.push_back("--output-dir");
    args.push_back(out_dir);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  CommandResult r = FerryOk(
      with({"--identity", Path("client"), "--server-key", Path("server.pub")}, Path("out")));
  EXPECT_NE(r.out.find("output 0: float32[1, 10]"), std::string::npos) << r.out;
  ASSERT_OK_AND_ASSIGN(NDArray output, LoadNpy(Path("out/output_0.npy")));
  EXPECT_EQ(output.shape(), (std::vector<int64_t>{1, 10}));

  // The server key also as the key itself rather than its file.
  const std::string server_key = ReadFile(Path("server.pub")).value().substr(0, 40);
  FerryOk(with({"--identity", Path("client"), "--server-key", server_key}, Path("out2")));

  // Without keys, with an unlisted key, with the wrong server key: one clear line each, fast.
  const auto start = Clock::now();
  r = FerryFails(with({}, Path("o3")));
  EXPECT_NE(r.err.find("CURVE"), std::string::npos) << r.err;
  r = FerryFails(
      with({"--identity", Path("stranger"), "--server-key", Path("server.pub")}, Path("o4")));
  EXPECT_NE(r.err.find("key"), std::string::npos) << r.err;
  r = FerryFails(
      with({"--identity", Path("client"), "--server-key", Path("stranger.pub")}, Path("o5")));
  EXPECT_NE(r.err.find("key"), std::string::npos) << r.err;
  EXPECT_LT(Clock::now() - start, 30s);
  // An identity without the server's key is refused before connecting.
  r = FerryFails(with({"--identity", Path("client")}, Path("o6")));
  EXPECT_NE(r.err.find("--server-key"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ferry
