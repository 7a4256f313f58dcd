#include "rpc/in_memory_channel.h"

#include <condition_variable>
#include <deque>
#include <mutex>

namespace ferry::rpc {
namespace {

// One direction of the pair.
struct Queue {
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<Frames> messages;
  bool writer_closed = false;
  bool reader_closed = false;
};

class InMemoryChannel final : public Channel {
 public:
  InMemoryChannel(std::shared_ptr<Queue> in, std::shared_ptr<Queue> out)
      : in_(std::move(in)), out_(std::move(out)) {}

  ~InMemoryChannel() override {
    {
      std::lock_guard lock(out_->mutex);
      out_->writer_closed = true;
    }
    out_->ready.notify_all();
    std::lock_guard lock(in_->mutex);
    in_->reader_closed = true;
  }

  Status Send(Frames frames, Deadline) override {
    {
      std::lock_guard lock(out_->mutex);
      if (out_->reader_closed) return UnavailableError("in-memory channel: peer closed");
      out_->messages.push_back(std::move(frames));
    }
    out_->ready.notify_one();
    return Status::Ok();
  }

  StatusOr<std::optional<Frames>> Receive(Deadline deadline) override {
    std::unique_lock lock(in_->mutex);
    in_->ready.wait_until(lock, deadline,
                          [&] { return !in_->messages.empty() || in_->writer_closed; });
    if (!in_->messages.empty()) {
      Frames frames = std::move(in_->messages.front());
      in_->messages.pop_front();
      return std::optional<Frames>(std::move(frames));
    }
    if (in_->writer_closed) return UnavailableError("in-memory channel: peer closed");
    return std::optional<Frames>();
  }

 private:
  std::shared_ptr<Queue> in_;
  std::shared_ptr<Queue> out_;
};

}  // namespace

std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>> MakeInMemoryChannelPair() {
  auto a_to_b = std::make_shared<Queue>();
  auto b_to_a = std::make_shared<Queue>();
  return {std::make_unique<InMemoryChannel>(b_to_a, a_to_b),
          std::make_unique<InMemoryChannel>(a_to_b, b_to_a)};
}

}  // namespace ferry::rpc
