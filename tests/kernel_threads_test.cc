// The process-wide kernel thread count (runtime/kernel_threads.h): parsing of thread counts
// and FERRY_NUM_THREADS, the range SetKernelThreads accepts, that the count reaches OpenMP on
// the calling thread and on other threads at their next ApplyKernelThreads, and the session
// functions "ferry.set_threads" / "ferry.get_threads".
#include "runtime/kernel_threads.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <sched.h>

#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "runtime/function_registry.h"
#include "runtime/value.h"

namespace ferry {
namespace {

// Sets (or, with nullopt, unsets) FERRY_NUM_THREADS for one test and restores it after.
class ScopedThreadsVariable {
 public:
  explicit ScopedThreadsVariable(std::optional<std::string> value) {
    if (const char* old = std::getenv(kName)) saved_ = old;
    if (value) {
      setenv(kName, value->c_str(), 1);
    } else {
      unsetenv(kName);
    }
  }
  ~ScopedThreadsVariable() {
    if (saved_) {
      setenv(kName, saved_->c_str(), 1);
    } else {
      unsetenv(kName);
    }
  }

 private:
  static constexpr const char* kName = "FERRY_NUM_THREADS";
  std::optional<std::string> saved_;
};

int CpuCount() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  EXPECT_EQ(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
  return CPU_COUNT(&cpus);
}

// Restores the process-wide count each test found, so tests do not depend on their order.
class KernelThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = KernelThreads(); }
  void TearDown() override { EXPECT_TRUE(SetKernelThreads(saved_).ok()); }

 private:
  int saved_ = 1;
};

TEST(ParseKernelThreadsTest, AcceptsCountsFromOneTo1024) {
  for (const auto& [text, value] : {std::pair<const char*, int>{"1", 1}, {"4", 4}, {"0016", 16},
                                    {"1024", 1024}}) {
    StatusOr<int> parsed = ParseKernelThreads(text, "--threads");
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, value) << text;
  }
}

TEST(ParseKernelThreadsTest, RejectsMalformedAndOutOfRangeText) {
  for (const char* text : {"", "0", "1025", "9999", "-1", "+4", " 4", "4 ", "4x", "x4", "abc",
                           "0x10", "2.5", "99999999999999999999", "1e3"}) {
    StatusOr<int> parsed = ParseKernelThreads(text, "--threads");
    ASSERT_FALSE(parsed.ok()) << "'" << text << "' was accepted as " << *parsed;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(parsed.status().message(), "--threads='" + std::string(text) +
                                             "' is not a thread count from 1 to 1024");
  }
}

TEST(DefaultKernelThreadsTest, ReadsFerryNumThreads) {
  ScopedThreadsVariable variable("3");
  StatusOr<int> threads = DefaultKernelThreads();
  ASSERT_TRUE(threads.ok()) << threads.status().ToString();
  EXPECT_EQ(*threads, 3);
}

TEST(DefaultKernelThreadsTest, UnsetOrEmptyMeansTheCpuCount) {
  for (const std::optional<std::string>& value : {std::optional<std::string>(), std::optional<std::string>("")}) {
    ScopedThreadsVariable variable(value);
    StatusOr<int> threads = DefaultKernelThreads();
    ASSERT_TRUE(threads.ok()) << threads.status().ToString();
    EXPECT_EQ(*threads, CpuCount());
  }
}

TEST(DefaultKernelThreadsTest, MalformedFerryNumThreadsIsAnError) {
  for (const char* text : {"abc", "0", "-2", "1025", "4 threads", "2.0"}) {
    ScopedThreadsVariable variable(text);
    StatusOr<int> threads = DefaultKernelThreads();
    ASSERT_FALSE(threads.ok()) << text << " gave " << *threads;
    EXPECT_EQ(threads.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(threads.status().message(),
              "FERRY_NUM_THREADS='" + std::string(text) + "' is not a thread count from 1 to 1024");
  }
}

TEST_F(KernelThreadsTest, SetRejectsCountsOutOfRangeAndKeepsTheCount) {
  ASSERT_TRUE(SetKernelThreads(2).ok());
  for (int bad : {0, -1, 1025, 1 << 20}) {
    const Status status = SetKernelThreads(bad);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(status.message(),
              "thread count " + std::to_string(bad) + " is not from 1 to 1024");
    EXPECT_EQ(KernelThreads(), 2);
    EXPECT_EQ(omp_get_max_threads(), 2);
  }
  EXPECT_TRUE(SetKernelThreads(1).ok());
  EXPECT_TRUE(SetKernelThreads(1024).ok());
  EXPECT_EQ(KernelThreads(), 1024);
}

TEST_F(KernelThreadsTest, SetAppliesToTheCallingThread) {
  ASSERT_TRUE(SetKernelThreads(3).ok());
  EXPECT_EQ(KernelThreads(), 3);
  EXPECT_EQ(omp_get_max_threads(), 3);
  int team = 0;
#pragma omp parallel
  {
#pragma omp single
    team = omp_get_num_threads();
  }
  EXPECT_EQ(team, 3);
  ASSERT_TRUE(SetKernelThreads(1).ok());
  EXPECT_EQ(omp_get_max_threads(), 1);
}

// As in a session worker, which links no BLAS: OpenBLAS arrives later, brought in privately
// by a model library (dlopen RTLD_LOCAL), after the count was set.
TEST_F(KernelThreadsTest, AnOpenBlasLoadedLocallyLaterTakesTheCount) {
  ASSERT_EQ(dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD), nullptr)
      << "this test binary must not link OpenBLAS itself (tests/threads.cmake)";
  ASSERT_TRUE(SetKernelThreads(1).ok());
  void* blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(blas, nullptr) << dlerror();
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(blas, "openblas_get_num_threads"));
  ASSERT_NE(get, nullptr);
  ApplyKernelThreads();  // what every run does
  EXPECT_EQ(get(), 1);
  ASSERT_TRUE(SetKernelThreads(2).ok());
  EXPECT_EQ(get(), 2);
  ASSERT_TRUE(SetKernelThreads(1).ok());
  EXPECT_EQ(get(), 1);
  dlclose(blas);
}

TEST_F(KernelThreadsTest, OtherThreadsTakeTheCountAtTheirNextApply) {
  ASSERT_TRUE(SetKernelThreads(3).ok());
  std::promise<void> changed;
  std::shared_future<void> changed_future = changed.get_future().share();
  std::promise<int> first, second;
  std::future<int> first_future = first.get_future(), second_future = second.get_future();
  std::thread other([&] {
    ApplyKernelThreads();
    first.set_value(omp_get_max_threads());
    changed_future.wait();
    ApplyKernelThreads();
    second.set_value(omp_get_max_threads());
  });
  EXPECT_EQ(first_future.get(), 3);
  ASSERT_TRUE(SetKernelThreads(2).ok());
  changed.set_value();
  EXPECT_EQ(second_future.get(), 2);
  other.join();

  // A thread started after the change gets it at its first apply.
  int fresh = 0;
  std::thread late([&] {
    ApplyKernelThreads();
    fresh = omp_get_max_threads();
  });
  late.join();
  EXPECT_EQ(fresh, 2);
}

TEST_F(KernelThreadsTest, SessionFunctionsSetAndGetTheCount) {
  FunctionRegistry registry;
  ASSERT_TRUE(RegisterKernelThreadFunctions(registry).ok());
  StatusOr<PackedFunc> set = registry.Get("ferry.set_threads");
  StatusOr<PackedFunc> get = registry.Get("ferry.get_threads");
  ASSERT_TRUE(set.ok() && get.ok());

  ASSERT_TRUE(set->Call(2).ok());
  EXPECT_EQ(KernelThreads(), 2);
  EXPECT_EQ(omp_get_max_threads(), 2);
  StatusOr<Value> got = get->Call();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->As<int>().value(), 2);

  for (int64_t bad : {int64_t{0}, int64_t{1025}, int64_t{1} << 40}) {
    StatusOr<Value> refused = set->Call(bad);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("is not from 1 to 1024"), std::string::npos)
        << refused.status().message();
  }
  EXPECT_EQ(set->Call(std::string("4")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(set->Call().status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(get->Call(1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KernelThreads(), 2);

  // Registering twice is refused: the names are taken.
  EXPECT_EQ(RegisterKernelThreadFunctions(registry).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ferry
