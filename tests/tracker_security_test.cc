// The tracker against an attacker on its network (issue 9): a TrackerServer on a thread, on an
// ephemeral loopback port, and raw DEALER sockets for the agents, clients and attacker.
// Forged, replayed and stale heartbeats and goodbyes are dropped; a lease is released and a
// request cancelled only from the connection that asked; bad versions and expired deadlines
// are refused; under CURVE each key has its role and unlisted keys are refused.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "rpc/agent_heartbeat.h"
#include "rpc/curve_keys.h"
#include "rpc/message.h"
#include "rpc/router_io.h"
#include "rpc/ticket.h"
#include "rpc/tracker_client.h"
#include "rpc/zap_handler.h"
#include "tests/process_test_util.h"
#include "tests/raw_peer_test_util.h"
#include "tracker/tracker_server.h"

#define FERRY_SEC_CONCAT_INNER(a, b) a##b
#define FERRY_SEC_CONCAT(a, b) FERRY_SEC_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(FERRY_SEC_CONCAT(statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                                \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString(); \
  lhs = std::move(tmp).value()

namespace ferry::tracker {
namespace {

using namespace std::chrono_literals;
using ferry::testing::RawRequest;
using ferry::testing::ReceiveFrames;
using ferry::testing::SendFrames;
using ferry::testing::WaitFor;
using rpc::MessageType;
using rpc::MessageWriter;

constexpr const char* kSecret = "tracker-security-test-secret-0123456789";
constexpr auto kReplyWait = 3s;

// Copies of `frames` (to send the same bytes twice).
rpc::Frames Copy(const rpc::Frames& frames) {
  rpc::Frames out;
  for (const zmq::message_t& f : frames) out.emplace_back(f.data(), f.size());
  return out;
}

// The next message on `socket` within `timeout`, parsed; nullopt when none came.
std::optional<rpc::ParsedMessage> Receive(zmq::socket_t& socket,
                                          std::chrono::milliseconds timeout = kReplyWait) {
  std::optional<rpc::Frames> frames = ReceiveFrames(socket, timeout);
  if (!frames) return std::nullopt;
  StatusOr<rpc::ParsedMessage> parsed =
      rpc::ParseMessage(std::move(*frames), rpc::ProtocolLimits{});
  if (!parsed.ok()) return std::nullopt;
  return std::move(*parsed);
}

rpc::AgentHeartbeat MakeHeartbeat(const std::string& agent_id, const std::string& address,
                                  const std::string& public_key = "") {
  rpc::AgentHeartbeat h;
  h.agent_id = agent_id;
  h.key = "cpu";
  h.address = address;
  h.devices = {{"cpu", 1, 1 << 30, "test-cpu"}};
  h.public_key = public_key;
  return h;
}

rpc::Frames Beat(const rpc::AgentHeartbeat& h, uint64_t sequence,
                 std::string_view secret = kSecret, int64_t wall_ms = rpc::WallClockMs()) {
  return rpc::EncodeAgentHeartbeat(h, secret, {sequence, wall_ms}, 3000);
}

rpc::Frames Goodbye(const std::string& agent_id, uint64_t sequence,
                    std::string_view secret = kSecret) {
  return rpc::EncodeAgentGoodbye({agent_id, ""}, secret, {sequence, rpc::WallClockMs()}, 1000);
}

rpc::Frames RequestDevice(uint64_t id, const std::string& key = "cpu", uint64_t timeout_ms = 5000) {
  MessageWriter w = MessageWriter::Request(MessageType::kRequestDevice, id, 10000, 4);
  w.packer().pack(key);
  w.packer().pack_array(0);
  w.packer().pack(0);
  w.packer().pack(timeout_ms);
  return std::move(w).Finish();
}

rpc::Frames OneItem(MessageType type, uint64_t id, uint64_t item) {
  MessageWriter w = MessageWriter::Request(type, id, 1000, 1);
  w.packer().pack(item);
  return std::move(w).Finish();
}

class TrackerSecurityTest : public ::testing::Test {
 protected:
  void TearDown() override { StopServer(); }

  // Starts a tracker with `config` (secret, listen and a long heartbeat filled in).
  void StartServer(TrackerConfig config = {}) {
    config.listen = "tcp://127.0.0.1:*";
    config.secret = kSecret;
    // Agents that a test stops beating for stay registered for the test's length.
    config.scheduler.heartbeat_interval = 10s;
    curve_ = config.identity.has_value();
    if (curve_) tracker_key_ = config.identity->public_key;
    ASSERT_OK_AND_ASSIGN(server_, TrackerServer::Create(std::move(config)));
    endpoint_ = server_->endpoint();
    thread_ = std::thread([this] { served_ = server_->Serve(stop_); });
  }

  void StopServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    EXPECT_TRUE(served_.ok()) << served_.ToString();
    server_.reset();
  }

  // A DEALER connected to the tracker; under CURVE presenting `keys`.
  zmq::socket_t Dealer(const std::optional<rpc::CurveKeyPair>& keys = std::nullopt) {
    zmq::socket_t socket(context_, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    if (keys) rpc::ApplyClientCurve(socket, *keys, tracker_key_);
    socket.connect(endpoint_);
    return socket;
  }

  // The tracker's status through a TrackerClient (under CURVE as `keys`).
  StatusOr<rpc::TrackerStatus> Summary(
      const std::optional<rpc::CurveKeyPair>& keys = std::nullopt) {
    rpc::ConnectOptions options;
    options.timeout = 2s;
    if (keys) {
      options.channel.curve_identity = keys;
      options.channel.curve_server_key = tracker_key_;
    }
    ASSIGN_OR_RETURN(rpc::TrackerClient client, rpc::ConnectTracker(endpoint_, options));
    return client.GetStatus();
  }

  // The address the tracker lists for `agent_id`, "" when it does not list it.
  std::string AddressOf(const std::string& agent_id,
                        const std::optional<rpc::CurveKeyPair>& keys = std::nullopt) {
    StatusOr<rpc::TrackerStatus> status = Summary(keys);
    if (!status.ok()) return "(no status: " + status.status().ToString() + ")";
    for (const auto& a : status->agents) {
      if (a.agent_id == agent_id) return a.address;
    }
    return "";
  }

  // Sends a valid heartbeat of a fresh probe agent on `socket` and waits until the tracker
  // lists it: everything sent before on that socket has been handled by then.
  void Flush(zmq::socket_t& socket, const std::optional<rpc::CurveKeyPair>& keys = std::nullopt) {
    const std::string probe = "probe-" + std::to_string(++probes_);
    rpc::AgentHeartbeat heartbeat =
        MakeHeartbeat(probe, "tcp://127.0.0.1:1", keys ? keys->public_key : "");
    heartbeat.key = "probe";  // never granted to the tests' requests
    SendFrames(socket, Beat(heartbeat, rpc::NextAgentSequence()));
    ASSERT_TRUE(WaitFor([&] { return AddressOf(probe, keys) == "tcp://127.0.0.1:1"; }, 5s))
        << "the tracker did not register " << probe;
  }

  zmq::context_t context_{1};
  std::unique_ptr<TrackerServer> server_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  ferry::Status served_;
  bool curve_ = false;
  std::string tracker_key_;
  int probes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Heartbeats and goodbyes

TEST_F(TrackerSecurityTest, ForgedHeartbeatDoesNotRegister) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t attacker = Dealer();
  SendFrames(attacker, Beat(MakeHeartbeat("forged", "tcp://10.6.6.6:1"), 1,
                            "not-the-tracker-secret-0123456789"));
  // The unsigned layout of before: [agent_id, key, address, devices, tags, active_leases].
  MessageWriter w = MessageWriter::Request(MessageType::kAgentHeartbeat, 0, 3000, 6);
  w.packer().pack(std::string("unsigned"));
  w.packer().pack(std::string("cpu"));
  w.packer().pack(std::string("tcp://10.6.6.6:2"));
  w.packer().pack_array(0);
  w.packer().pack_array(0);
  w.packer().pack_array(0);
  SendFrames(attacker, std::move(w).Finish());
  ASSERT_NO_FATAL_FAILURE(Flush(attacker));
  EXPECT_EQ(AddressOf("forged"), "");
  EXPECT_EQ(AddressOf("unsigned"), "");
  EXPECT_FALSE(Receive(attacker, 200ms).has_value()) << "a dropped heartbeat is not answered";
}

TEST_F(TrackerSecurityTest, ForgedHeartbeatDoesNotRedirectARealAgent) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t agent = Dealer();
  SendFrames(agent, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001"), rpc::NextAgentSequence()));
  zmq::socket_t attacker = Dealer();
  SendFrames(attacker, Beat(MakeHeartbeat("a1", "tcp://10.6.6.6:1"), rpc::NextAgentSequence(),
                            "not-the-tracker-secret-0123456789"));
  ASSERT_NO_FATAL_FAILURE(Flush(attacker));
  EXPECT_EQ(AddressOf("a1"), "tcp://127.0.0.1:5001");

  // The next client of the key is sent to the real agent, with a ticket for it.
  zmq::socket_t client = Dealer();
  SendFrames(client, RequestDevice(1));
  std::optional<rpc::ParsedMessage> grant = Receive(client);
  ASSERT_TRUE(grant.has_value());
  ASSERT_TRUE(grant->status.ok()) << grant->status.ToString();
  ASSERT_EQ(grant->body_size(), 5u);
  EXPECT_EQ(rpc::ReadString(grant->item(0), "address").value_or(""), "tcp://127.0.0.1:5001");
  EXPECT_EQ(rpc::ReadString(grant->item(3), "agent").value_or(""), "a1");
  EXPECT_EQ(rpc::ReadString(grant->item(4), "key").value_or("?"), "");
}

TEST_F(TrackerSecurityTest, ReplayedOrStaleHeartbeatIsDropped) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t agent = Dealer();
  const uint64_t first = rpc::NextAgentSequence();
  const rpc::Frames old_beat = Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001"), first);
  SendFrames(agent, Copy(old_beat));
  SendFrames(agent, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5002"), first + 1));
  ASSERT_NO_FATAL_FAILURE(Flush(agent));
  ASSERT_EQ(AddressOf("a1"), "tcp://127.0.0.1:5002");

  zmq::socket_t attacker = Dealer();
  SendFrames(attacker, Copy(old_beat));  // the same bytes again
  // Validly signed, but a sequence already used, and a clock two minutes behind.
  SendFrames(attacker, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5003"), first + 1));
  SendFrames(attacker, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5004"), first + 100, kSecret,
                            rpc::WallClockMs() - 120'000));
  SendFrames(attacker, Beat(MakeHeartbeat("a2", "tcp://127.0.0.1:5005"), first + 100, kSecret,
                            rpc::WallClockMs() + 120'000));
  ASSERT_NO_FATAL_FAILURE(Flush(attacker));
  EXPECT_EQ(AddressOf("a1"), "tcp://127.0.0.1:5002");
  EXPECT_EQ(AddressOf("a2"), "");

  // The agent's own next heartbeat still counts.
  SendFrames(agent, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5006"), first + 2));
  EXPECT_TRUE(WaitFor([&] { return AddressOf("a1") == "tcp://127.0.0.1:5006"; }, 5s));
}

TEST_F(TrackerSecurityTest, GoodbyeFromNonAgentIsIgnored) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t agent = Dealer();
  const uint64_t sequence = rpc::NextAgentSequence();
  SendFrames(agent, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001"), sequence));
  ASSERT_NO_FATAL_FAILURE(Flush(agent));

  zmq::socket_t attacker = Dealer();
  MessageWriter w = MessageWriter::Request(MessageType::kAgentGoodbye, 0, 1000, 1);
  w.packer().pack(std::string("a1"));  // the unsigned layout of before
  SendFrames(attacker, std::move(w).Finish());
  SendFrames(attacker, Goodbye("a1", sequence + 5, "not-the-tracker-secret-0123456789"));
  ASSERT_NO_FATAL_FAILURE(Flush(attacker));
  EXPECT_EQ(AddressOf("a1"), "tcp://127.0.0.1:5001");

  // The agent's own goodbye works; replaying it later does not re-register or remove anything.
  const rpc::Frames goodbye = Goodbye("a1", sequence + 1);
  SendFrames(agent, Copy(goodbye));
  EXPECT_TRUE(WaitFor([&] { return AddressOf("a1").empty(); }, 5s));
  SendFrames(attacker, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001"), sequence));
  ASSERT_NO_FATAL_FAILURE(Flush(attacker));
  EXPECT_EQ(AddressOf("a1"), "") << "a replayed heartbeat re-registered a departed agent";
}

// ---------------------------------------------------------------------------------------------
// Leases and requests belong to their connection

TEST_F(TrackerSecurityTest, ReleaseFromAnotherConnectionDoesNotFreeTheAgent) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t agent = Dealer();
  SendFrames(agent, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001"), rpc::NextAgentSequence()));
  ASSERT_NO_FATAL_FAILURE(Flush(agent));

  zmq::socket_t first = Dealer();
  SendFrames(first, RequestDevice(1));
  std::optional<rpc::ParsedMessage> grant = Receive(first);
  ASSERT_TRUE(grant.has_value() && grant->status.ok());
  ASSERT_OK_AND_ASSIGN(const uint64_t lease, rpc::ReadUint(grant->item(2), "lease"));

  zmq::socket_t second = Dealer();
  SendFrames(second, RequestDevice(1));
  ASSERT_TRUE(WaitFor([&] { auto s = Summary(); return s.ok() && s->queue.size() == 1; }, 5s));

  zmq::socket_t attacker = Dealer();
  SendFrames(attacker, OneItem(MessageType::kReleaseLease, 1, lease));
  EXPECT_FALSE(Receive(second, 500ms).has_value()) << "the busy agent was granted again";
  ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, Summary());
  ASSERT_EQ(status.agents.size(), 2u);  // a1 and the probe
  for (const auto& a : status.agents) {
    if (a.agent_id == "a1") {
      EXPECT_TRUE(a.busy);
    }
  }
  EXPECT_FALSE(Receive(attacker, 100ms).has_value()) << "a release is never answered";

  // The lease's own connection releases it, and the second client is served at once.
  SendFrames(first, OneItem(MessageType::kReleaseLease, 2, lease));
  std::optional<rpc::ParsedMessage> next = Receive(second);
  ASSERT_TRUE(next.has_value());
  EXPECT_TRUE(next->status.ok()) << next->status.ToString();
}

TEST_F(TrackerSecurityTest, CancelFromAnotherConnectionCancelsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t client = Dealer();
  SendFrames(client, RequestDevice(7, "no-such-key", 30000));
  ASSERT_TRUE(WaitFor([&] { auto s = Summary(); return s.ok() && s->queue.size() == 1; }, 5s));

  zmq::socket_t attacker = Dealer();
  SendFrames(attacker, OneItem(MessageType::kCancelRequest, 8, 7));
  std::optional<rpc::ParsedMessage> reply = Receive(attacker);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->status.ok()) << reply->status.ToString();
  EXPECT_FALSE(rpc::ReadBool(reply->item(0), "cancelled").value_or(true));
  ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, Summary());
  EXPECT_EQ(status.queue.size(), 1u);

  SendFrames(client, OneItem(MessageType::kCancelRequest, 8, 7));
  std::optional<rpc::ParsedMessage> cancelled = Receive(client);  // the request's own reply
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->request_id, 7u);
  EXPECT_EQ(cancelled->status.code(), StatusCode::kNotFound);
  std::optional<rpc::ParsedMessage> confirmed = Receive(client);
  ASSERT_TRUE(confirmed.has_value());
  EXPECT_TRUE(rpc::ReadBool(confirmed->item(0), "cancelled").value_or(false));
}

// ---------------------------------------------------------------------------------------------
// Versions and deadlines

TEST_F(TrackerSecurityTest, BadVersionIsUnimplementedAndZeroDeadlineIsExceeded) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t client = Dealer();
  const auto empty_body = [](msgpack::packer<msgpack::sbuffer>& p) { p.pack_array(0); };
  for (uint32_t version : {999u, 0u}) {
    SendFrames(client, RawRequest(version, MessageType::kTrackerStatus, 1, 1000, empty_body));
    std::optional<rpc::ParsedMessage> reply = Receive(client);
    ASSERT_TRUE(reply.has_value()) << "version " << version;
    EXPECT_EQ(reply->request_id, 1u);
    EXPECT_EQ(reply->status.code(), StatusCode::kUnimplemented) << reply->status.ToString();
    EXPECT_NE(reply->status.message().find("protocol version mismatch"), std::string::npos)
        << reply->status.message();
  }
  SendFrames(client, RawRequest(999, MessageType::kRequestDevice, 2, 1000, [](auto& p) {
               p.pack_array(4);
               p.pack(std::string("cpu"));
               p.pack_array(0);
               p.pack(0);
               p.pack(1000);
             }));
  std::optional<rpc::ParsedMessage> reply = Receive(client);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status.code(), StatusCode::kUnimplemented);

  SendFrames(client, RawRequest(1, MessageType::kTrackerStatus, 3, 0, empty_body));
  reply = Receive(client);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->request_id, 3u);
  EXPECT_EQ(reply->status.code(), StatusCode::kDeadlineExceeded) << reply->status.ToString();
  ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, Summary());
  EXPECT_TRUE(status.queue.empty());
}

TEST_F(TrackerSecurityTest, OneWayMessageWithBadVersionIsDroppedUnanswered) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  zmq::socket_t agent = Dealer();
  // A validly signed heartbeat body under a header of version 999.
  StatusOr<rpc::ParsedMessage> good = rpc::ParseMessage(
      Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001"), rpc::NextAgentSequence()),
      rpc::ProtocolLimits{});
  ASSERT_TRUE(good.ok());
  SendFrames(agent, RawRequest(999, MessageType::kAgentHeartbeat, 0, 3000,
                               [&](auto& p) { p.pack(*good->body); }));
  SendFrames(agent, RawRequest(999, MessageType::kReleaseLease, 0, 1000, [](auto& p) {
               p.pack_array(1);
               p.pack(1);
             }));
  ASSERT_NO_FATAL_FAILURE(Flush(agent));
  EXPECT_EQ(AddressOf("a1"), "");
  EXPECT_FALSE(Receive(agent, 200ms).has_value());
}

// ---------------------------------------------------------------------------------------------
// Roles under CURVE

class TrackerCurveTest : public TrackerSecurityTest {
 protected:
  void SetUp() override {
    for (auto* keys : {&tracker_, &agent_, &client_, &stranger_}) {
      StatusOr<rpc::CurveKeyPair> generated = rpc::GenerateCurveKeyPair();
      if (!generated.ok()) GTEST_SKIP() << generated.status().ToString();
      *keys = *generated;
    }
    TrackerConfig config;
    config.identity = tracker_;
    config.agent_keys = {{agent_.public_key, "agent"}};
    config.client_keys = {{client_.public_key, "client"}};
    ASSERT_NO_FATAL_FAILURE(StartServer(std::move(config)));
  }

  rpc::CurveKeyPair tracker_, agent_, client_, stranger_;
};

TEST_F(TrackerCurveTest, OnlyAgentKeysHeartbeatAndOnlyWithTheirOwnKey) {
  zmq::socket_t agent = Dealer(agent_);
  ASSERT_NO_FATAL_FAILURE(Flush(agent, agent_));
  // A client key with the shared secret, and an agent claiming another key.
  zmq::socket_t client = Dealer(client_);
  SendFrames(client, Beat(MakeHeartbeat("by-client", "tcp://10.6.6.6:1", client_.public_key),
                          rpc::NextAgentSequence()));
  SendFrames(agent, Beat(MakeHeartbeat("wrong-key", "tcp://10.6.6.6:2", client_.public_key),
                         rpc::NextAgentSequence()));
  SendFrames(client, Goodbye("probe-1", rpc::NextAgentSequence()));
  ASSERT_NO_FATAL_FAILURE(Flush(agent, agent_));
  EXPECT_EQ(AddressOf("by-client", client_), "");
  EXPECT_EQ(AddressOf("wrong-key", client_), "");
  EXPECT_EQ(AddressOf("probe-1", client_), "tcp://127.0.0.1:1");
}

TEST_F(TrackerCurveTest, ClientIsNamedByItsKeyAndGrantNamesTheAgentKey) {
  zmq::socket_t agent = Dealer(agent_);
  SendFrames(agent, Beat(MakeHeartbeat("a1", "tcp://127.0.0.1:5001", agent_.public_key),
                         rpc::NextAgentSequence()));
  ASSERT_NO_FATAL_FAILURE(Flush(agent, agent_));
  zmq::socket_t client = Dealer(client_);
  SendFrames(client, RequestDevice(1));
  std::optional<rpc::ParsedMessage> grant = Receive(client);
  ASSERT_TRUE(grant.has_value());
  ASSERT_TRUE(grant->status.ok()) << grant->status.ToString();
  ASSERT_EQ(grant->body_size(), 5u);
  EXPECT_EQ(rpc::ReadString(grant->item(4), "key").value_or(""), agent_.public_key);
  ASSERT_OK_AND_ASSIGN(std::string text, rpc::ReadString(grant->item(1), "ticket"));
  ASSERT_OK_AND_ASSIGN(rpc::Ticket ticket, rpc::VerifyTicket(text, kSecret, rpc::WallClockMs()));
  EXPECT_EQ(ticket.client_id, client_.public_key);

  // An agent key may not request devices.
  SendFrames(agent, RequestDevice(2));
  std::optional<rpc::ParsedMessage> refused = Receive(agent);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status.code(), StatusCode::kPermissionDenied) << refused->status.ToString();
}

TEST_F(TrackerCurveTest, UnlistedKeyIsRefused) {
  StatusOr<rpc::TrackerStatus> status = Summary(stranger_);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Summary(client_).ok());
  EXPECT_TRUE(Summary(agent_).ok());
  // Plaintext is refused by a CURVE tracker too.
  EXPECT_FALSE(Summary().ok());
}

// A CURVE client refuses a grant that names no key for the agent, and gives the lease back.
TEST(TrackerClientCurveTest, GrantWithoutAgentKeyIsPermissionDeniedAndReleased) {
  StatusOr<rpc::CurveKeyPair> tracker_keys = rpc::GenerateCurveKeyPair();
  StatusOr<rpc::CurveKeyPair> client_keys = rpc::GenerateCurveKeyPair();
  if (!tracker_keys.ok() || !client_keys.ok()) GTEST_SKIP() << "no CURVE in this libzmq";
  // A fake tracker of an older kind: a CURVE ROUTER (no ZAP handler: any key is admitted)
  // whose grant has 4 items.
  zmq::context_t context(1);
  zmq::socket_t fake(context, zmq::socket_type::router);
  fake.set(zmq::sockopt::linger, 0);
  fake.set(zmq::sockopt::curve_server, 1);
  fake.set(zmq::sockopt::curve_secretkey, tracker_keys->secret_key);
  fake.bind("tcp://127.0.0.1:*");
  const std::string endpoint = fake.get(zmq::sockopt::last_endpoint);
  std::atomic<bool> released{false};
  std::atomic<bool> done{false};
  std::thread server([&] {
    while (!done) {
      zmq::pollitem_t item{fake.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 50ms) <= 0) continue;
      std::optional<rpc::RoutedMessage> m = rpc::ReceiveRouted(fake);
      if (!m) continue;
      StatusOr<rpc::ParsedMessage> parsed =
          rpc::ParseMessage(std::move(m->frames), rpc::ProtocolLimits{});
      if (!parsed.ok()) continue;
      if (parsed->type == MessageType::kReleaseLease) {
        released = rpc::ReadUint(parsed->item(0), "lease").value_or(0) == 42;
      } else if (parsed->type == MessageType::kRequestDevice) {
        MessageWriter w = MessageWriter::Reply(parsed->request_id, ferry::Status::Ok(), 4);
        w.packer().pack(std::string("tcp://127.0.0.1:1"));
        w.packer().pack(std::string("ticket"));
        w.packer().pack(uint64_t{42});
        w.packer().pack(std::string("agent-without-key"));
        std::string error;
        rpc::SendRouted(fake, m->identity, std::move(w).Finish(), &error);
      }
    }
  });
  rpc::ConnectOptions options;
  options.timeout = 2s;
  options.channel.curve_identity = *client_keys;
  options.channel.curve_server_key = tracker_keys->public_key;
  StatusOr<rpc::TrackerClient> client = rpc::ConnectTracker(endpoint, options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  rpc::DeviceRequest request;
  request.timeout = 2s;
  StatusOr<rpc::RemoteSession> session = client->Request("cpu", request);
  EXPECT_EQ(session.status().code(), StatusCode::kPermissionDenied) << session.status().ToString();
  EXPECT_NE(session.status().message().find("agent-without-key"), std::string::npos)
      << session.status().message();
  EXPECT_TRUE(WaitFor([&] { return released.load(); }, 3s)) << "the lease was not released";
  done = true;
  server.join();
}

TEST(AgentReplayGuardTest, WindowSequenceKeyAndForgetting) {
  AgentReplayGuard guard(60s);
  const int64_t now = 1'000'000'000;
  EXPECT_TRUE(guard.Accept("a", "", {5, now}, now).ok());
  EXPECT_EQ(guard.Accept("a", "", {5, now}, now).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.Accept("a", "", {4, now}, now).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.Accept("a", "K", {6, now}, now).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.Accept("a", "", {6, now - 60'001}, now).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.Accept("a", "", {6, now + 60'001}, now).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(guard.Accept("a", "", {6, now + 60'000}, now).ok());
  EXPECT_TRUE(guard.Accept("b", "K", {1, now}, now).ok());
  EXPECT_EQ(guard.size(), 2u);
  // Silent for more than two windows: forgotten, and any old message of theirs is stale.
  const int64_t later = now + 121'000;
  EXPECT_EQ(guard.Accept("a", "", {7, now + 60'000}, later).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(guard.size(), 0u);
  EXPECT_TRUE(guard.Accept("b", "other", {1, later}, later).ok());
}

}  // namespace
}  // namespace ferry::tracker
