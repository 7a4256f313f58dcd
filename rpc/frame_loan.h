// FrameLoan: frames over memory the caller keeps, sent without a copy, and the wait for
// ZeroMQ to let go of them.
//
// ZeroMQ sends a message from its I/O thread after zmq_msg_send has returned, and reads a
// zero-copy frame's bytes until it calls the frame's free function. A transfer that sends
// the caller's buffer that way (host-to-remote copies, upload chunks) must therefore not
// return before every such call has happened, whatever the outcome:
//
//   FrameLoan loan;
//   writer.AddFrame(loan.Frame(data + offset, size));   // no copy
//   ... send, await the replies ...
//   if (!loan.Wait(deadline)) { abandon the connection (which drops queued messages) }
//   // ~FrameLoan waits for the rest, so `data` may be freed once the loan is gone
//
// After the peer has acknowledged a frame, ZeroMQ has written it out and releases it within
// microseconds. A frame the peer never got is released when ZeroMQ drops it: when its
// connection is lost (the channel's heartbeat timeout ends a silent one) or its socket closes.
// Thread-safe: the free functions run on ZeroMQ's threads.
#ifndef FERRY_RPC_FRAME_LOAN_H_
#define FERRY_RPC_FRAME_LOAN_H_

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <zmq.hpp>

#include "rpc/channel.h"

namespace ferry::rpc {

class FrameLoan {
 public:
  FrameLoan();
  // Waits, without a bound, until ZeroMQ has released every frame of this loan.
  ~FrameLoan();
  FrameLoan(const FrameLoan&) = delete;
  FrameLoan& operator=(const FrameLoan&) = delete;

  // A frame over `size` bytes at `data`, which must stay valid and unchanged until the loan
  // is gone (or Wait returned true).
  zmq::message_t Frame(const void* data, size_t size);

  // Waits until every frame made so far has been released, or until `deadline`. Returns
  // whether all were.
  bool Wait(Deadline deadline);

  // Frames made and not yet released.
  size_t outstanding() const;

 private:
  // Shared with the free functions, so that a late one never touches a destroyed loan.
  struct State {
    mutable std::mutex mutex;
    std::condition_variable released;
    size_t outstanding = 0;
  };
  static void Release(void* data, void* hint);
  std::shared_ptr<State> state_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_FRAME_LOAN_H_
