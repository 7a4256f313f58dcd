#include "rpc/frame_loan.h"

namespace ferry::rpc {

FrameLoan::FrameLoan() : state_(std::make_shared<State>()) {}

FrameLoan::~FrameLoan() {
  std::unique_lock lock(state_->mutex);
  state_->released.wait(lock, [&] { return state_->outstanding == 0; });
}

zmq::message_t FrameLoan::Frame(const void* data, size_t size) {
  {
    std::lock_guard lock(state_->mutex);
    ++state_->outstanding;
  }
  // Each frame holds a reference to the state until ZeroMQ releases it.
  auto* hint = new std::shared_ptr<State>(state_);
  try {
    return zmq::message_t(const_cast<void*>(data), size, &FrameLoan::Release, hint);
  } catch (...) {
    Release(nullptr, hint);  // ZeroMQ never took it
    throw;
  }
}

void FrameLoan::Release(void*, void* hint) {
  std::unique_ptr<std::shared_ptr<State>> state(static_cast<std::shared_ptr<State>*>(hint));
  {
    std::lock_guard lock((*state)->mutex);
    --(*state)->outstanding;
  }
  (*state)->released.notify_all();
}

bool FrameLoan::Wait(Deadline deadline) {
  std::unique_lock lock(state_->mutex);
  return state_->released.wait_until(lock, deadline, [&] { return state_->outstanding == 0; });
}

size_t FrameLoan::outstanding() const {
  std::lock_guard lock(state_->mutex);
  return state_->outstanding;
}

}  // namespace ferry::rpc
