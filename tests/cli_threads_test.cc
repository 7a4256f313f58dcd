// The kernel thread count end to end, as processes: `ferry time` / `ferry run --threads N`
// here and on an agent, FERRY_NUM_THREADS, bad counts (one line on stderr each), and
// `ferry-agent --threads N` reaching every session worker, where a session may change it
// through "ferry.set_threads" and read it through "ferry.get_threads".
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "rpc/client_session.h"
#include "tests/agent_test_process.h"
#include "tests/cli_test_fixture.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using testing::AgentProcess;

// Sets or unsets an environment variable until the end of the scope. The ferry and
// ferry-agent processes the tests start inherit it.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    Set(value);
  }
  ~ScopedVariable() { Set(saved_); }

 private:
  void Set(const std::optional<std::string>& value) {
    if (value) {
      setenv(name_, value->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  const char* name_;
  std::optional<std::string> saved_;
};

class CliThreadsTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    // No default identity from the user running the tests; no thread count from scripts/test.
    home_.emplace("HOME", dir_);
    threads_.emplace("FERRY_NUM_THREADS", std::nullopt);
    lib_ = Path("mlp.so");
    FerryOk({"build", "--zoo", "mlp", "-o", lib_});
  }
  void TearDown() override {
    if (agent_.pid() > 0) agent_.Stop(SIGTERM, 10s);
    threads_.reset();
    home_.reset();
    CliTest::TearDown();
  }

  std::vector<std::string> Time(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"time", lib_, "--repeat", "2", "--timeout", "30"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::optional<ScopedVariable> home_, threads_;
  std::string lib_;
  AgentProcess agent_;
};

TEST_F(CliThreadsTest, TimeAndRunHereWithThreads) {
  CommandResult r = FerryOk(Time({"--threads", "1"}));
  EXPECT_NE(r.out.find("2 repeats of 1 run(s), on 1 kernel thread:"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("mean "), std::string::npos) << r.out;
  r = FerryOk(Time({"--threads", "2"}));
  EXPECT_NE(r.out.find("on 2 kernel threads:"), std::string::npos) << r.out;

  const std::string input = WriteInput("x.npy", {1, 784}, 3);
  r = FerryOk({"run", lib_, "--input", "data=" + input, "--repeat", "1", "--threads", "3",
               "--output-dir", Path("out")});
  EXPECT_NE(r.out.find("on 3 kernel threads"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(Path("out/output_0.npy")));

  r = FerryOk({"time", "--help"});
  EXPECT_NE(r.out.find("--threads"), std::string::npos) << r.out;
  r = FerryOk({"run", "--help"});
  EXPECT_NE(r.out.find("--threads"), std::string::npos) << r.out;
}

TEST_F(CliThreadsTest, BadThreadCountsAreOneLineErrors) {
  for (const char* bad : {"0", "1025", "-1", "two", "2x", ""}) {
    SCOPED_TRACE(bad);
    const CommandResult r = FerryFails(Time({"--threads", bad}));
    EXPECT_NE(r.err.find("--threads='" + std::string(bad) +
                         "' is not a thread count from 1 to 1024"),
              std::string::npos)
        << r.err;
  }
}

TEST_F(CliThreadsTest, FerryNumThreadsIsTheDefaultHere) {
  {
    ScopedVariable threads("FERRY_NUM_THREADS", "2");
    CommandResult r = FerryOk(Time({}));
    EXPECT_NE(r.out.find("on 2 kernel threads:"), std::string::npos) << r.out;
    // --threads wins over the variable.
    r = FerryOk(Time({"--threads", "1"}));
    EXPECT_NE(r.out.find("on 1 kernel thread:"), std::string::npos) << r.out;
  }
  {
    ScopedVariable threads("FERRY_NUM_THREADS", "lots");
    CommandResult r = FerryFails(Time({}));
    EXPECT_NE(r.err.find("FERRY_NUM_THREADS='lots' is not a thread count"), std::string::npos)
        << r.err;
    // Not needed when --threads says it.
    FerryOk(Time({"--threads", "1"}));
  }
}

TEST_F(CliThreadsTest, AgentThreadsReachEverySessionWorker) {
  ASSERT_TRUE(agent_.Start(dir_, Path("work"), {"--threads", "3"}).ok()) << agent_.Log();

  {
    StatusOr<rpc::RemoteSession> session = rpc::Connect(agent_.endpoint());
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    StatusOr<PackedFunc> get = session->GetFunction("ferry.get_threads");
    StatusOr<PackedFunc> set = session->GetFunction("ferry.set_threads");
    ASSERT_TRUE(get.ok() && set.ok()) << get.status().ToString() << set.status().ToString();
    StatusOr<Value> threads = get->Call();
    ASSERT_TRUE(threads.ok()) << threads.status().ToString();
    EXPECT_EQ(threads->As<int>().value(), 3);
    // A session changes its own worker's count; bad counts come back as errors.
    ASSERT_TRUE(set->Call(2).ok());
    EXPECT_EQ(get->Call().value().As<int>().value(), 2);
    StatusOr<Value> refused = set->Call(0);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("is not from 1 to 1024"), std::string::npos)
        << refused.status().message();
    EXPECT_EQ(get->Call().value().As<int>().value(), 2);
  }

  // The next session starts from the agent's count again; --threads sets the session's.
  CommandResult r = FerryOk(Time({"--agent", agent_.endpoint()}));
  EXPECT_NE(r.out.find("on 3 kernel threads:"), std::string::npos) << r.out;
  r = FerryOk(Time({"--agent", agent_.endpoint(), "--threads", "1"}));
  EXPECT_NE(r.out.find("on 1 kernel thread:"), std::string::npos) << r.out;
  const std::string input = WriteInput("x.npy", {1, 784}, 5);
  r = FerryOk({"run", lib_, "--agent", agent_.endpoint(), "--input", "data=" + input,
               "--repeat", "1", "--threads", "2", "--output-dir", Path("out")});
  EXPECT_NE(r.out.find("on 2 kernel threads"), std::string::npos) << r.out;
  // The client's FERRY_NUM_THREADS does not govern the agent's workers.
  ScopedVariable client_threads("FERRY_NUM_THREADS", "1");
  r = FerryOk(Time({"--agent", agent_.endpoint()}));
  EXPECT_NE(r.out.find("on 3 kernel threads:"), std::string::npos) << r.out;
}

TEST_F(CliThreadsTest, AgentDefaultsToFerryNumThreadsAndRejectsBadCounts) {
  {
    ScopedVariable threads("FERRY_NUM_THREADS", "2");
    ASSERT_TRUE(agent_.Start(dir_, Path("work"), {}).ok()) << agent_.Log();
  }
  const CommandResult r = FerryOk(Time({"--agent", agent_.endpoint()}));
  EXPECT_NE(r.out.find("on 2 kernel threads:"), std::string::npos) << r.out;
  ASSERT_TRUE(agent_.Stop(SIGTERM, 10s).has_value());

  // A bad --threads or FERRY_NUM_THREADS stops the agent at start, with the reason.
  AgentProcess bad;
  Status started = bad.Start(dir_, Path("work2"), {"--threads", "0"});
  EXPECT_EQ(started.code(), StatusCode::kUnavailable) << started.ToString();
  EXPECT_NE(bad.Log().find("--threads='0' is not a thread count"), std::string::npos)
      << bad.Log();
  {
    ScopedVariable threads("FERRY_NUM_THREADS", "0x4");
    AgentProcess bad_variable;
    started = bad_variable.Start(dir_, Path("work3"), {});
    EXPECT_EQ(started.code(), StatusCode::kUnavailable) << started.ToString();
    EXPECT_NE(bad_variable.Log().find("FERRY_NUM_THREADS='0x4' is not a thread count"),
              std::string::npos)
        << bad_variable.Log();
  }
}

}  // namespace
}  // namespace ferry
