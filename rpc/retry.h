// Retrying idempotent steps: the client's policy for a peer that is briefly gone.
//
// Only steps that cannot run twice are retried (docs/protocol.md, "Retries"): asking the
// tracker for a device or for its status (a tracker that lost the connection lost the request
// with it) and opening a session with an agent (nothing exists on the agent until it answers).
// A step is retried when it fails with kUnavailable, after a backoff that grows from
// `initial_backoff` by `multiplier` up to `max_backoff`, each wait drawn uniformly from
// [backoff/2, backoff] so that many clients cut off at once do not return at once. Retrying
// stops at the caller's deadline: a wait that would end past it is not begun, and the last
// kUnavailable is returned with the number of attempts.
#ifndef FERRY_RPC_RETRY_H_
#define FERRY_RPC_RETRY_H_

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "rpc/channel.h"
#include "runtime/status.h"

namespace ferry::rpc {

struct RetryPolicy {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  double multiplier = 2.0;
  // Attempts in all, the first included; 1 disables retrying. The deadline bounds them too.
  int max_attempts = 20;
};

// Draws the waits between attempts of one retried step. Not thread-safe; one per step.
class Backoff {
 public:
  explicit Backoff(const RetryPolicy& policy);

  // The wait before the next attempt, and grows the backoff for the one after.
  std::chrono::milliseconds Next();

 private:
  RetryPolicy policy_;
  std::chrono::milliseconds current_;
  std::minstd_rand random_;
};

// Runs `attempt` (given its 1-based number) until it returns anything but kUnavailable, the
// policy's attempts are spent, or the next wait would end past `deadline`. `interrupted`,
// when set, is asked before each wait; returning true stops with the last error.
// Returns the last attempt's result; a final kUnavailable after several attempts says how many.
template <typename T>
StatusOr<T> RetryUnavailable(const RetryPolicy& policy, Deadline deadline,
                             const std::function<StatusOr<T>(int attempt)>& attempt,
                             const std::function<bool()>& interrupted = nullptr) {
  Backoff backoff(policy);
  for (int n = 1;; ++n) {
    StatusOr<T> result = attempt(n);
    if (result.ok() || result.status().code() != StatusCode::kUnavailable) return result;
    const std::chrono::milliseconds wait = backoff.Next();
    if (n >= policy.max_attempts || Clock::now() + wait >= deadline ||
        (interrupted && interrupted())) {
      if (n == 1) return result;
      return result.status().WithContext("after " + std::to_string(n) + " attempts");
    }
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace ferry::rpc

#endif  // FERRY_RPC_RETRY_H_
