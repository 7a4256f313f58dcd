// CallSequence (docs/protocol.md, "Call sequences"): several calls in one round trip, run in
// order as if sent one by one, stopping at the first failure; small array results inline.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "rpc/client_session.h"
#include "rpc/message.h"
#include "rpc/value_codec.h"
#include "runtime/executor_module.h"
#include "runtime/file_util.h"
#include "tests/model_test_util.h"
#include "tests/rpc_session_fixture.h"

namespace ferry::rpc {
namespace {

using testing::TestLibraries;

// SessionTest with a function that counts its calls in the server, to see which calls of a
// sequence ran.
class CallSequenceTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    Add("test.count", [this](std::span<const Value>) -> StatusOr<Value> {
      return Value(int64_t{++counted_});
    });
  }
  std::atomic<int64_t> counted_{0};
};

TEST_F(CallSequenceTest, CallsRunInOrderInOneRoundTrip) {
  Start();
  PackedFunc add = Global("test.add");
  PackedFunc count = Global("test.count");
  PackedFunc echo = Global("test.echo");
  const int before = handled_.load();
  const std::vector<RemoteCall> calls = {{count, {}},
                                         {add, {Value(int64_t{40}), Value(int64_t{2})}},
                                         {count, {}},
                                         {echo, {Value(std::string("x"))}},
                                         {echo, {}}};
  ASSERT_OK_AND_ASSIGN(std::vector<Value> results, remote().CallSequence(calls));
  EXPECT_EQ(handled_.load() - before, 1);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].As<int64_t>().value(), 1);
  EXPECT_EQ(results[1].As<int64_t>().value(), 42);
  EXPECT_EQ(results[2].As<int64_t>().value(), 2);
  EXPECT_EQ(results[3].As<std::string>().value(), "x");
  EXPECT_TRUE(results[4].is_null());
  // An empty sequence is one round trip with no results.
  ASSERT_OK_AND_ASSIGN(std::vector<Value> none, remote().CallSequence({}));
  EXPECT_TRUE(none.empty());
}

TEST_F(CallSequenceTest, TheFirstFailureStopsTheSequenceAndNamesItsCall) {
  Start();
  PackedFunc count = Global("test.count");
  const std::vector<RemoteCall> calls = {{count, {}}, {Global("test.fail"), {}}, {count, {}}};
  StatusOr<std::vector<Value>> results = remote().CallSequence(calls);
  EXPECT_EQ(results.status().code(), StatusCode::kResourceExhausted) << results.status().ToString();
  EXPECT_NE(results.status().message().find("call 2 of 3"), std::string::npos)
      << results.status().ToString();
  EXPECT_NE(results.status().message().find("remote says no"), std::string::npos);
  EXPECT_EQ(counted_.load(), 1);  // the call before ran, the one after did not
  // An argument of the wrong type fails its call the same way.
  const std::vector<RemoteCall> bad = {{Global("test.add"), {Value(std::string("x")), Value(1)}}};
  EXPECT_EQ(remote().CallSequence(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(count.Call().value().As<int64_t>().value(), 2);  // the session goes on
}

TEST_F(CallSequenceTest, FunctionsOfOtherSessionsAndTooManyCallsAreRefusedBeforeSending) {
  Start();
  const int before = handled_.load();
  const PackedFunc local([](std::span<const Value>) -> StatusOr<Value> { return Value(); });
  const std::vector<RemoteCall> foreign = {{Global("test.count"), {}}, {local, {}}};
  StatusOr<std::vector<Value>> refused = remote().CallSequence(foreign);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("call 2"), std::string::npos);
  const std::vector<RemoteCall> many(kMaxSequenceCalls + 1, RemoteCall{Global("test.count"), {}});
  EXPECT_EQ(remote().CallSequence(many).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(handled_.load() - before, 2);  // only the two GetFunction requests
  EXPECT_EQ(counted_.load(), 0);
}

TEST_F(CallSequenceTest, AnArgumentThatCannotBeSentRunsNothingOfItsCall) {
  Start();
  PackedFunc count = Global("test.count");
  // A null array cannot be sent: the call goes out with a handle no session has.
  const std::vector<RemoteCall> calls = {{count, {}}, {Global("test.echo"), {Value(NDArray())}}};
  StatusOr<std::vector<Value>> results = remote().CallSequence(calls);
  EXPECT_EQ(results.status().code(), StatusCode::kInvalidArgument) << results.status().ToString();
  EXPECT_NE(results.status().message().find("null array"), std::string::npos);
  EXPECT_EQ(counted_.load(), 1);
}

TEST_F(CallSequenceTest, MalformedSequencesGetErrorsAndTheSessionGoesOn) {
  Start();
  auto call = [&](const std::function<void(MessageWriter&)>& pack) {
    return core_->endpoint().Call(MessageType::kCallSequence, 2, pack).status();
  };
  // Not a list of calls; a call that is not [function, [args]]; a dead handle.
  EXPECT_EQ(call([](MessageWriter& w) {
              w.packer().pack(7);
              w.packer().pack(0);
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(call([](MessageWriter& w) {
              w.packer().pack_array(1);
              w.packer().pack_array(1);
              w.packer().pack(1);
              w.packer().pack(0);
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(call([](MessageWriter& w) {
              w.packer().pack_array(1);
              w.packer().pack_array(2);
              w.packer().pack(uint64_t{999999});
              w.packer().pack_array(0);
              w.packer().pack(0);
            }).code(),
            StatusCode::kNotFound);
  // Over the limit, whatever the calls hold.
  EXPECT_EQ(call([](MessageWriter& w) {
              w.packer().pack_array(kMaxSequenceCalls + 1);
              for (size_t i = 0; i <= kMaxSequenceCalls; ++i) w.packer().pack(0);
              w.packer().pack(0);
            }).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(counted_.load(), 0);
  EXPECT_EQ(Global("test.add").Call(1, 1).value().As<int64_t>().value(), 2);
}

TEST_F(CallSequenceTest, AModelRunsInOneRoundTripWithItsOutputInline) {
  Start();
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(path));
  const NDArray input = testing::RandomArray({1, 784}, 12);
  ASSERT_OK_AND_ASSIGN(NDArray expected, testing::RunLibraryModel(path, "mlp", input));
  ASSERT_OK(remote().UploadBytes(bytes, "mlp.so"));
  ASSERT_OK_AND_ASSIGN(Module lib, remote().LoadModule("mlp.so"));
  ASSERT_OK_AND_ASSIGN(ExecutorModule gmod, ExecutorModule::Create(lib, "mlp", remote().Cpu(0)));
  ASSERT_OK_AND_ASSIGN(PackedFunc set_input, gmod.module().GetFunction("set_input"));
  ASSERT_OK_AND_ASSIGN(PackedFunc run, gmod.module().GetFunction("run"));
  ASSERT_OK_AND_ASSIGN(PackedFunc get_output, gmod.module().GetFunction("get_output"));

  const int before = handled_.load();
  const std::vector<RemoteCall> calls = {{set_input, {Value(std::string("data")), Value(input)}},
                                         {run, {}},
                                         {get_output, {Value(int64_t{0})}},
                                         {get_output, {Value(int64_t{0})}}};
  ASSERT_OK_AND_ASSIGN(std::vector<Value> results, remote().CallSequence(calls));
  ASSERT_EQ(results.size(), 4u);
  // Both outputs came inline: copying them to the host costs no request.
  for (int i : {2, 3}) {
    ASSERT_OK_AND_ASSIGN(NDArray output, results[i].As<NDArray>());
    EXPECT_TRUE(output.device().is_remote());
    ASSERT_OK_AND_ASSIGN(NDArray host, output.CopyTo(Device::Cpu()));
    EXPECT_TRUE(SameBytes(host, expected)) << "result " << i;
  }
  EXPECT_EQ(handled_.load() - before, 1);
}

}  // namespace
}  // namespace ferry::rpc
