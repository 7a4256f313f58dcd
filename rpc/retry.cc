#include "rpc/retry.h"

#include <algorithm>

namespace ferry::rpc {

Backoff::Backoff(const RetryPolicy& policy)
    : policy_(policy), current_(policy.initial_backoff), random_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::Next() {
  const int64_t high = std::max<int64_t>(current_.count(), 1);
  std::uniform_int_distribution<int64_t> draw(high / 2, high);
  const std::chrono::milliseconds wait(draw(random_));
  const auto grown =
      static_cast<int64_t>(static_cast<double>(current_.count()) * policy_.multiplier);
  current_ = std::min(policy_.max_backoff, std::chrono::milliseconds(std::max(grown, high)));
  return wait;
}

}  // namespace ferry::rpc
