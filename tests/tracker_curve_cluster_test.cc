// A tracker and an agent under CURVE, in this process (the agent's session workers are
// ferry-agent processes): the refusals a client meets through a tracker arrive as clear
// errors within seconds, and a grant's ticket works only for the key it was granted to.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "device_agent/agent.h"
#include "rpc/curve_keys.h"
#include "runtime/value.h"
#include "rpc/tracker_client.h"
#include "rpc/zmq_channel.h"
#include "tests/model_test_util.h"
#include "tracker/tracker_server.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;

constexpr auto kRefusalBound = 10s;

class TrackerCurveClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (rpc::CurveKeyPair* keys : {&tracker_keys_, &agent_keys_, &client_, &other_client_,
                                    &stranger_}) {
      StatusOr<rpc::CurveKeyPair> generated = rpc::GenerateCurveKeyPair();
      if (!generated.ok()) GTEST_SKIP() << generated.status().ToString();
      *keys = *generated;
    }
    work_dir_ = std::filesystem::temp_directory_path() /
                ("ferry-curve-cluster-" + std::to_string(getpid()));
    std::filesystem::create_directories(work_dir_);
    const std::string secret = "a secret shared by tracker and agent";

    // The tracker knows `client_` and `other_client_`; the agent admits `client_` and
    // `stranger_` (whom the tracker does not know).
    tracker::TrackerConfig tracker_config;
    tracker_config.listen = "tcp://127.0.0.1:*";
    tracker_config.secret = secret;
    tracker_config.identity = tracker_keys_;
    tracker_config.agent_keys[agent_keys_.public_key] = "agent";
    tracker_config.client_keys[client_.public_key] = "client";
    tracker_config.client_keys[other_client_.public_key] = "other";
    tracker_config.scheduler.heartbeat_interval = 200ms;
    ASSERT_OK_AND_ASSIGN(tracker_, tracker::TrackerServer::Create(tracker_config));
    threads_.emplace_back([this] { (void)tracker_->Serve(stop_); });

    agent::AgentConfig agent_config;
    agent_config.listen = "tcp://127.0.0.1:*";
    agent_config.work_dir = (work_dir_ / "agent").string();
    agent_config.worker_executable = FERRY_AGENT_PATH;
    agent_config.identity = agent_keys_;
    agent_config.client_keys[client_.public_key] = "client";
    agent_config.client_keys[stranger_.public_key] = "stranger";
    agent_config.tracker = tracker_->endpoint();
    agent_config.tracker_key = tracker_keys_.public_key;
    agent_config.key = "cpu";
    agent_config.secret = secret;
    agent_config.heartbeat_interval = 200ms;
    ASSERT_OK_AND_ASSIGN(agent_, agent::Agent::Create(agent_config));
    threads_.emplace_back([this] { (void)agent_->Serve(stop_); });

    // Registered, as the client sees it.
    ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, ConnectAs(client_));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (true) {
      ASSERT_OK_AND_ASSIGN(rpc::TrackerStatus status, tracker.GetStatus());
      if (status.agents.size() == 1) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the agent did not register";
      std::this_thread::sleep_for(20ms);
    }
  }

  void TearDown() override {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    agent_.reset();
    tracker_.reset();
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }

  rpc::ConnectOptions OptionsFor(const rpc::CurveKeyPair& keys) const {
    rpc::ConnectOptions options;
    options.timeout = 20s;
    options.channel.curve_identity = keys;
    options.channel.curve_server_key = tracker_keys_.public_key;
    return options;
  }
  StatusOr<rpc::TrackerClient> ConnectAs(const rpc::CurveKeyPair& keys) const {
    return rpc::ConnectTracker(tracker_->endpoint(), OptionsFor(keys));
  }

  rpc::CurveKeyPair tracker_keys_, agent_keys_, client_, other_client_, stranger_;
  std::filesystem::path work_dir_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<tracker::TrackerServer> tracker_;
  std::unique_ptr<agent::Agent> agent_;
  std::vector<std::thread> threads_;
};

TEST_F(TrackerCurveClusterTest, AnAuthorizedClientRunsASessionTrustingOnlyItsTracker) {
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, ConnectAs(client_));
  rpc::DeviceRequest request;
  request.timeout = 10s;
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, tracker.Request("cpu", request));
  ASSERT_OK_AND_ASSIGN(PackedFunc echo, remote.GetFunction("ferry.echo"));
  const Value argument(std::string("over CURVE"));
  ASSERT_OK_AND_ASSIGN(Value back, echo.CallPacked({&argument, 1}));
  EXPECT_EQ(back.As<std::string>().value(), "over CURVE");
  EXPECT_TRUE(remote.Close().ok());
}

TEST_F(TrackerCurveClusterTest, AKeyTheTrackerRefusesGetsAClearErrorQuickly) {
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, ConnectAs(stranger_));
  rpc::DeviceRequest request;
  request.timeout = 30s;
  const auto start = std::chrono::steady_clock::now();
  StatusOr<rpc::RemoteSession> remote = tracker.Request("cpu", request);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().code(), StatusCode::kPermissionDenied) << remote.status().ToString();
  EXPECT_NE(remote.status().message().find("refused this client's key"), std::string::npos)
      << remote.status().ToString();
  EXPECT_LT(took, kRefusalBound);
}

TEST_F(TrackerCurveClusterTest, AKeyTheAgentRefusesGetsAClearErrorAndTheLeaseIsFreed) {
  // The tracker grants `other_client_` the agent, whose listener does not admit that key.
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient other, ConnectAs(other_client_));
  rpc::DeviceRequest request;
  request.timeout = 30s;
  const auto start = std::chrono::steady_clock::now();
  StatusOr<rpc::RemoteSession> refused = other.Request("cpu", request);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied) << refused.status().ToString();
  EXPECT_LT(took, kRefusalBound);

  // The agent is not left busy: the authorized client gets it.
  ASSERT_OK_AND_ASSIGN(rpc::TrackerClient tracker, ConnectAs(client_));
  request.timeout = 15s;
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, tracker.Request("cpu", request));
  EXPECT_TRUE(remote.Close().ok());
}

// The grant for one client, asked for by hand so its ticket can be presented by another.
struct RawGrant {
  std::string address, ticket, agent_key;
};

StatusOr<RawGrant> RequestGrant(const std::string& tracker, const rpc::ConnectOptions& options) {
  auto context = std::make_shared<zmq::context_t>(1);
  ASSIGN_OR_RETURN(std::unique_ptr<rpc::ZmqChannel> channel,
                   rpc::ZmqChannel::Connect(context, tracker, options.channel));
  const rpc::Deadline deadline = rpc::Clock::now() + 10s;
  rpc::MessageWriter w = rpc::MessageWriter::Request(rpc::MessageType::kRequestDevice, 1,
                                                     rpc::MillisecondsUntil(deadline), 4);
  w.packer().pack(std::string("cpu"));
  w.packer().pack_array(0);
  w.packer().pack(0);
  w.packer().pack(10000);
  RETURN_IF_ERROR(channel->Send(std::move(w).Finish(), deadline));
  ASSIGN_OR_RETURN(std::optional<rpc::Frames> frames, channel->Receive(deadline));
  if (!frames) return DeadlineExceededError("no grant");
  ASSIGN_OR_RETURN(rpc::ParsedMessage reply,
                   rpc::ParseMessage(std::move(*frames), rpc::ProtocolLimits{}));
  RETURN_IF_ERROR(reply.status);
  RETURN_IF_ERROR(rpc::CheckBodySize(reply, 5));
  RawGrant grant;
  ASSIGN_OR_RETURN(grant.address, rpc::ReadString(reply.item(0), "address"));
  ASSIGN_OR_RETURN(grant.ticket, rpc::ReadString(reply.item(1), "ticket"));
  ASSIGN_OR_RETURN(grant.agent_key, rpc::ReadString(reply.item(4), "agent key"));
  return grant;
}

TEST_F(TrackerCurveClusterTest, ATicketWorksOnlyForTheKeyItWasGrantedTo) {
  // The agent admits `stranger_`: the ticket, not the agent's list, must stop it from using
  // `client_`'s grant.
  ASSERT_OK_AND_ASSIGN(RawGrant grant, RequestGrant(tracker_->endpoint(), OptionsFor(client_)));
  EXPECT_EQ(grant.agent_key, agent_keys_.public_key);

  rpc::ConnectOptions thief = OptionsFor(stranger_);
  thief.channel.curve_server_key = grant.agent_key;
  thief.ticket = grant.ticket;
  thief.timeout = 10s;
  StatusOr<rpc::RemoteSession> stolen = rpc::Connect(grant.address, thief);
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.status().code(), StatusCode::kPermissionDenied) << stolen.status().ToString();
  EXPECT_NE(stolen.status().message().find("granted to another client"), std::string::npos)
      << stolen.status().ToString();

  rpc::ConnectOptions owner = OptionsFor(client_);
  owner.channel.curve_server_key = grant.agent_key;
  owner.ticket = grant.ticket;
  ASSERT_OK_AND_ASSIGN(rpc::RemoteSession remote, rpc::Connect(grant.address, owner));
  EXPECT_TRUE(remote.Close().ok());
}

}  // namespace
}  // namespace ferry
