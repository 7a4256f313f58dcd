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

  // Queues `handle` for release with the next request. Thread-safe, never blocks on I/O.
  void Release(uint64_t handle);

  // Encodes an argument: remote objects of this session as their handles, CPU arrays
  // inline, plain values as themselves. Errors: kInvalidArgument for objects of another
  // session or local modules and functions.
  Status PackArgument(MessageWriter& writer, const Value& value);
  // Decodes a result, wrapping handles into remote objects of this session.
  StatusOr<Value> ReadResult(const msgpack::object& encoded, const ParsedMessage& message);

  // Wraps a remote array handle (as AllocArray returns) into an NDArray.
  NDArray MakeRemoteArray(uint64_t handle, std::vector<int64_t> shape, DataType dtype,
                          Device remote_device);

  // Sends CloseSession (best effort, short deadline) and stops accepting calls.
  Status Close();

  // Whether bulk requests go to a bulk channel. Its requests are sealed, so read whole,
  // before Send returns: their frames may then refer to the caller's memory without a copy.
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
