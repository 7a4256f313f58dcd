// The retry policy of idempotent client steps (rpc/retry.h): which codes are retried, the
// backoff's growth and spread, and the deadline and attempt bounds.
#include <gtest/gtest.h>

#include <set>

#include "rpc/retry.h"

namespace ferry::rpc {
namespace {

using namespace std::chrono_literals;

RetryPolicy FastPolicy() {
  RetryPolicy policy;
  policy.initial_backoff = 2ms;
  policy.max_backoff = 8ms;
  policy.max_attempts = 5;
  return policy;
}

TEST(BackoffTest, GrowsByTheMultiplierUpToTheCapAndDrawsFromTheUpperHalf) {
  RetryPolicy policy;
  policy.initial_backoff = 100ms;
  policy.max_backoff = 1000ms;
  Backoff backoff(policy);
  for (int64_t high : {100, 200, 400, 800, 1000, 1000}) {
    const int64_t wait = backoff.Next().count();
    EXPECT_GE(wait, high / 2);
    EXPECT_LE(wait, high);
  }
}

TEST(BackoffTest, WaitsAreSpread) {
  RetryPolicy policy;
  policy.initial_backoff = 1000ms;
  std::set<int64_t> firsts;
  for (int i = 0; i < 20; ++i) firsts.insert(Backoff(policy).Next().count());
  EXPECT_GT(firsts.size(), 1u) << "twenty clients would all come back at the same moment";
}

TEST(RetryTest, RetriesUnavailableUntilItSucceeds) {
  int calls = 0;
  StatusOr<int> result =
      RetryUnavailable<int>(FastPolicy(), Clock::now() + 5s, [&](int attempt) -> StatusOr<int> {
        EXPECT_EQ(attempt, ++calls);
        if (attempt < 3) return UnavailableError("connection lost");
        return 42;
      });
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, OtherErrorsEndAtOnce) {
  for (Status error : {DeadlineExceededError("late"), PermissionDeniedError("ticket reused"),
                       InvalidArgumentError("bad"), InternalError("bug")}) {
    int calls = 0;
    StatusOr<int> result =
        RetryUnavailable<int>(FastPolicy(), Clock::now() + 5s, [&](int) -> StatusOr<int> {
          ++calls;
          return error;
        });
    EXPECT_EQ(calls, 1) << error.ToString();
    EXPECT_EQ(result.status(), error);
  }
}

TEST(RetryTest, StopsAfterMaxAttemptsSayingHowMany) {
  int calls = 0;
  StatusOr<int> result =
      RetryUnavailable<int>(FastPolicy(), Clock::now() + 5s, [&](int) -> StatusOr<int> {
        ++calls;
        return UnavailableError("connection lost");
      });
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(result.status().message(), "after 5 attempts: connection lost");
}

TEST(RetryTest, NoWaitBeginsThatWouldEndPastTheDeadline) {
  RetryPolicy policy;
  policy.initial_backoff = 200ms;
  policy.max_attempts = 100;
  int calls = 0;
  const auto start = Clock::now();
  StatusOr<int> result = RetryUnavailable<int>(policy, start + 500ms, [&](int) -> StatusOr<int> {
    ++calls;
    return UnavailableError("connection lost");
  });
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_LE(Clock::now() - start, 500ms + 100ms);  // the wait itself is never begun late
  EXPECT_GE(calls, 2);
  EXPECT_LE(calls, 4);  // waits of at least 100, 200, 400 ms
}

TEST(RetryTest, OnceIsNotRetriedAndKeepsItsMessage) {
  RetryPolicy policy;
  policy.max_attempts = 1;
  StatusOr<int> result = RetryUnavailable<int>(policy, Clock::now() + 5s, [](int) -> StatusOr<int> {
    return UnavailableError("connection lost");
  });
  EXPECT_EQ(result.status().message(), "connection lost");
}

TEST(RetryTest, InterruptionStopsTheRetries) {
  int calls = 0;
  StatusOr<int> result = RetryUnavailable<int>(
      FastPolicy(), Clock::now() + 5s,
      [&](int) -> StatusOr<int> {
        ++calls;
        return UnavailableError("connection lost");
      },
      [&] { return calls == 2; });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ferry::rpc
