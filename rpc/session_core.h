// SessionCore: the client's side of one open session: its channels, request ids, deadlines,
// batched handle releases, and the decoding of results into remote objects.
//
// RemoteSession (client_session.h) is the public handle; every remote object (module,
// function, array) holds an ObjectPtr to the core, so the session stays open while any of
// them lives, and their destructors queue handle releases that go out with the next request.
// Calls are serialised by a mutex, so remote objects may be used from several threads, one
// call at a time.
//
// A CURVE session may also have a bulk channel (sealed_channel.h; docs/protocol.md, "Bulk
// path"): the requests IsBulkMessageType names go there, everything else to the worker
// channel, with one sequence of request ids over both. Each channel's replies come in the
// order of its requests. Across the two, order holds because a caller awaits every bulk
// reply it needs before its next request elsewhere (copies and uploads return only once all
// their chunks are acknowledged); after a failed transfer, chunks still in flight may land
// after later requests on the worker channel.
#ifndef FERRY_RPC_SESSION_CORE_H_
#define FERRY_RPC_SESSION_CORE_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "rpc/channel.h"
#include "rpc/message.h"
#include "rpc/sealed_channel.h"
#include "runtime/device_api.h"
#include "runtime/object.h"
#include "runtime/value.h"

namespace ferry::rpc {

// When a local file last looked like this, its content had a known digest.
struct FileStamp {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// SHA-256 digests of local files a session uploaded. Thread-safe.
class FileDigestCache {
 public:
  std::optional<std::string> Find(const std::string& path, const FileStamp& stamp) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(path);
    if (it == entries_.end() || !(it->second.first == stamp)) return std::nullopt;
    return it->second.second;
  }
  void Remember(const std::string& path, const FileStamp& stamp, std::string digest) {
    std::lock_guard lock(mutex_);
    entries_[path] = {stamp, std::move(digest)};
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<FileStamp, std::string>> entries_;
};

class SessionCore : public Object {
 public:
  // `worker` carries the session's requests; `agent` (may be null, e.g. in tests) is asked
  // why the worker went away when `worker` reports a disconnect; `bulk` (may be null: then
  // everything goes to `worker`) carries the bulk requests.
  SessionCore(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
              std::string session_id, std::chrono::milliseconds timeout,
              std::unique_ptr<SealedChannel> bulk = nullptr);
  ~SessionCore() override;

  // Builds a request of `type` with `body_size` items packed by `pack`, sends it and waits
  // for the reply until the session's timeout. Errors: the remote status (same code, remote
  // message); kDeadlineExceeded; kUnavailable when the session is gone (with the agent's
  // reason when it knows one, e.g. "session worker died: SIGSEGV").
  using PackBody = std::function<void(MessageWriter&)>;
  StatusOr<ParsedMessage> Call(MessageType type, uint32_t body_size, const PackBody& pack);

  // Pipelined form for bulk transfers: Send queues a request (on the bulk channel for bulk
  // types when there is one) and returns its id; replies come back in order on each channel,
  // so Await takes them oldest first. Errors of the bulk channel: its own (a reply that does
  // not open is kPermissionDenied, and every later bulk request fails the same way).
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
  // with kUnavailable naming `why`. Returns that status. Holds the call lock.
  Status Abandon(const std::string& why);

  // Queues `handle` for release with the next request. Thread-safe, never blocks on I/O.
  void Release(uint64_t handle);

  // Encodes an argument: remote objects of this session as their handles, CPU arrays
  // inline, plain values as themselves. Errors: kInvalidArgument for objects of another
  // session or local modules and functions.
  Status PackArgument(MessageWriter& writer, const Value& value);
  // The arguments of a call as they are sent: each CPU array larger than kInlineArrayBytes is
  // replaced by a new array on the remote CPU holding a copy of it, streamed there in chunks
  // like any host-to-remote copy (so no frame carries more than a chunk and the worker holds
  // it once); everything else is passed as it is. Returns an empty vector when nothing
  // needed replacing. The new arrays' handles are released once the caller drops them.
  // Errors: those of AllocArray and of the copy. Takes the call lock itself.
  StatusOr<std::vector<Value>> StageArguments(std::span<const Value> args);
  // Decodes a result, wrapping handles into remote objects of this session. With
  // `accept_inline` (CallFunction replies, read under the call lock right after Await), an
  // array result that carries its bytes inline (docs/protocol.md, "Inline results") is
  // remembered until the next request, so that copying it to the host costs no round trip.
  StatusOr<Value> ReadResult(const msgpack::object& encoded, const ParsedMessage& message,
                             bool accept_inline = false);

  // A new array on remote device `device` (marked remote; AllocArray). Errors: the remote
  // ones (kResourceExhausted past the session's limit, kInvalidArgument for a bad shape).
  StatusOr<NDArray> AllocArray(const std::vector<int64_t>& shape, DataType dtype, Device device);
  // Wraps a remote array handle (as AllocArray returns) into an NDArray.
  NDArray MakeRemoteArray(uint64_t handle, std::vector<int64_t> shape, DataType dtype,
                          Device remote_device);

  // When no request has been sent since the reply that carried array `handle`'s bytes inline,
  // copies its first `bytes` bytes to `to` and returns true (no round trip); else false.
  // Holds the call lock.
  bool CopyInlineResult(uint64_t handle, void* to, size_t bytes);
  // The largest CPU array result a call asks to receive inline; 0 asks for none.
  uint64_t inline_result_bytes() const { return inline_result_bytes_; }
  void set_inline_result_bytes(uint64_t bytes) { inline_result_bytes_ = bytes; }
  // The chunk size the last transfer to the session (copies to remote arrays, uploads) or
  // from it (copies to the host, downloads) reached: where the next one starts (ChunkSizer in
  // chunk_stream.h); 0 before the first. Used under the call lock.
  size_t* chunk_bytes_to_remote() { return &chunk_bytes_to_remote_; }
  size_t* chunk_bytes_to_host() { return &chunk_bytes_to_host_; }
  // Requests sent so far (one-way ReleaseHandles not counted). Holds the call lock.
  uint64_t requests_sent() const { return requests_sent_; }

  // Sends CloseSession (best effort, short deadline) and stops accepting calls.
  Status Close();

  // Whether bulk requests go to a bulk channel. Its requests are sealed, so read whole,
  // before Send returns (frames lent to it, frame_loan.h, come back at once).
  bool has_bulk_path() const { return bulk_ != nullptr; }

  DeviceApi* device_api() const { return device_api_.get(); }
  std::chrono::milliseconds timeout() const { return timeout_; }
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  const std::string& session_id() const { return session_id_; }
  FileDigestCache& digest_cache() { return digest_cache_; }

 private:
  Status FlushReleases(Deadline deadline);
  // Turns a lost worker connection into the agent's account of what happened.
  Status DiagnoseLostWorker(const Status& lost);

  std::unique_ptr<Channel> worker_;
  std::unique_ptr<Channel> agent_;
  std::unique_ptr<SealedChannel> bulk_;
  std::string session_id_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<DeviceApi> device_api_;

  std::mutex call_mutex_;
  uint64_t next_request_id_ = 1;
  uint64_t requests_sent_ = 0;
  size_t chunk_bytes_to_remote_ = 0;
  size_t chunk_bytes_to_host_ = 0;
  uint64_t inline_result_bytes_ = kInlineResultBytes;
  // The bytes of the last array result that came inline, valid while requests_sent_ is
  // still `after_request`.
  struct InlineResult {
    uint64_t handle = 0;
    uint64_t after_request = 0;
    zmq::message_t bytes;
  };
  std::optional<InlineResult> inline_result_;
  // Ids of requests sent on the bulk channel and not yet awaited (or abandoned).
  std::set<uint64_t> bulk_ids_;
  bool closed_ = false;
  Status lost_;  // set once the worker is gone; every later call returns it

  std::mutex release_mutex_;
  std::vector<uint64_t> pending_releases_;

  FileDigestCache digest_cache_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SESSION_CORE_H_
