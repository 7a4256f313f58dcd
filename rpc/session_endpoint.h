// SessionEndpoint: the client's end of one open session's connections: request ids,
// deadlines, pipelined requests, batched handle releases, and what a lost worker means. It
// knows messages, not values: the client value codec (client_value_codec.h) turns values into
// request bodies and replies into remote objects, and SessionCore (session_core.h) puts the
// two together.
//
// Calls are serialised by the call lock (Lock): Call takes it itself; a sequence of Send and
// Await (a chunk stream, chunk_stream.h) holds it throughout. Release alone needs no lock.
//
// A CURVE session may also have a bulk channel (sealed_channel.h; docs/protocol.md, "Bulk
// path"): the requests IsBulkMessageType names go there, everything else to the worker
// channel, with one sequence of request ids over both. Each channel's replies come in the
// order of its requests. Across the two, order holds because a caller awaits every bulk
// reply it needs before its next request elsewhere (copies and uploads return only once all
// their chunks are acknowledged); after a failed transfer, chunks still in flight may land
// after later requests on the worker channel.
#ifndef FERRY_RPC_SESSION_ENDPOINT_H_
#define FERRY_RPC_SESSION_ENDPOINT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "rpc/channel.h"
#include "rpc/message.h"
#include "rpc/sealed_channel.h"
#include "runtime/status.h"

namespace ferry::rpc {

class SessionEndpoint {
 public:
  // `worker` carries the session's requests; `agent` (may be null, e.g. in tests) is asked
  // why the worker went away when `worker` reports a disconnect; `bulk` (may be null: then
  // everything goes to `worker`) carries the bulk requests.
  SessionEndpoint(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
                  std::string session_id, std::chrono::milliseconds timeout,
                  std::unique_ptr<SealedChannel> bulk = nullptr);
  // Closes the session (Close) unless that happened already.
  ~SessionEndpoint();

  SessionEndpoint(const SessionEndpoint&) = delete;
  SessionEndpoint& operator=(const SessionEndpoint&) = delete;

  // Builds a request of `type` with `body_size` items packed by `pack`, sends it and waits
  // for the reply until the session's timeout. Errors: the remote status (same code, remote
  // message); kDeadlineExceeded; kUnavailable when the session is gone (with the agent's
  // reason when it knows one, e.g. "session worker died: SIGSEGV"). Takes the call lock.
  using PackBody = std::function<void(MessageWriter&)>;
  StatusOr<ParsedMessage> Call(MessageType type, uint32_t body_size, const PackBody& pack);

  // Pipelined form for bulk transfers: Send queues a request (on the bulk channel for bulk
  // types when there is one) and returns its id; replies come back in order on each channel,
  // so Await takes them oldest first. Errors of the bulk channel: its own (a reply that does
  // not open is kPermissionDenied, and every later bulk request fails the same way). Both
  // under the call lock.
  StatusOr<uint64_t> Send(MessageType type, uint32_t body_size, const PackBody& pack);
  //
  // With `payload_into` (not empty) and a bulk channel, a reply whose frame 1 is exactly
  // `payload_into.size()` bytes is opened straight into it (SealedChannel::ReceiveInto), and
  // that frame then refers to `payload_into` instead of owning a copy: compare its data()
  // before copying. The same holds for an earlier reply Await skips on the way (an abandoned
  // request's), which a later one then overwrites; after an error `payload_into` may hold any
  // bytes. Without a bulk channel it is ignored.
  StatusOr<ParsedMessage> Await(uint64_t request_id, std::span<char> payload_into = {});
  // Holds the call lock for a sequence of Send/Await.
  std::unique_lock<std::mutex> Lock() { return std::unique_lock(call_mutex_); }

  // Ends the session's use of its connections now: closes them (ZeroMQ drops the messages it
  // still holds, which releases lent frames; frame_loan.h) and makes every later call fail
  // with kUnavailable naming `why`. Returns that status. Under the call lock.
  Status Abandon(const std::string& why);

  // Queues `handle` for release with the next request. Thread-safe, never blocks on I/O.
  void Release(uint64_t handle);

  // Sends CloseSession (best effort, short deadline) and stops accepting calls. Takes the
  // call lock.
  Status Close();

  // Requests sent so far (one-way ReleaseHandles not counted); a reply's content is current
  // while this has not changed since. Under the call lock.
  uint64_t requests_sent() const { return requests_sent_; }
  // The chunk size the last transfer to the session (copies to remote arrays, uploads) or
  // from it (copies to the host, downloads) reached: where the next one starts (ChunkSizer in
  // chunk_stream.h); 0 before the first. Under the call lock.
  size_t* chunk_bytes_to_remote() { return &chunk_bytes_to_remote_; }
  size_t* chunk_bytes_to_host() { return &chunk_bytes_to_host_; }

  // Whether bulk requests go to a bulk channel. Its requests are sealed, so read whole,
  // before Send returns (frames lent to it, frame_loan.h, come back at once).
  bool has_bulk_path() const { return bulk_ != nullptr; }

  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  const std::string& session_id() const { return session_id_; }

 private:
  Status FlushReleases(Deadline deadline);
  // Turns a lost worker connection into the agent's account of what happened.
  Status DiagnoseLostWorker(const Status& lost);

  std::unique_ptr<Channel> worker_;
  std::unique_ptr<Channel> agent_;
  std::unique_ptr<SealedChannel> bulk_;
  std::string session_id_;
  std::chrono::milliseconds timeout_;

  std::mutex call_mutex_;
  uint64_t next_request_id_ = 1;
  uint64_t requests_sent_ = 0;
  size_t chunk_bytes_to_remote_ = 0;
  size_t chunk_bytes_to_host_ = 0;
  // Ids of requests sent on the bulk channel and not yet awaited (or abandoned).
  std::set<uint64_t> bulk_ids_;
  bool closed_ = false;
  Status lost_;  // set once the worker is gone; every later call returns it

  std::mutex release_mutex_;
  std::vector<uint64_t> pending_releases_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SESSION_ENDPOINT_H_
