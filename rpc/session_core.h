// SessionCore: the client's side of one open session: its channels, request ids, deadlines,
// batched handle releases, and the decoding of results into remote objects.
//
// RemoteSession (client_session.h) is the public handle; every remote object (module,
// function, array) holds an ObjectPtr to the core, so the session stays open while any of
// them lives, and their destructors queue handle releases that go out with the next request.
// Calls are serialised by a mutex, so remote objects may be used from several threads, one
// call at a time.
#ifndef FERRY_RPC_SESSION_CORE_H_
#define FERRY_RPC_SESSION_CORE_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rpc/channel.h"
#include "rpc/message.h"
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
  // why the worker went away when `worker` reports a disconnect.
  SessionCore(std::unique_ptr<Channel> worker, std::unique_ptr<Channel> agent,
              std::string session_id, std::chrono::milliseconds timeout);
  ~SessionCore() override;

  // Builds a request of `type` with `body_size` items packed by `pack`, sends it and waits
  // for the reply until the session's timeout. Errors: the remote status (same code, remote
  // message); kDeadlineExceeded; kUnavailable when the session is gone (with the agent's
  // reason when it knows one, e.g. "session worker died: SIGSEGV").
  using PackBody = std::function<void(MessageWriter&)>;
  StatusOr<ParsedMessage> Call(MessageType type, uint32_t body_size, const PackBody& pack);

  // Pipelined form for bulk transfers: Send queues a request and returns its id; replies
  // come back in order, so Await takes them oldest first.
  StatusOr<uint64_t> Send(MessageType type, uint32_t body_size, const PackBody& pack);
  StatusOr<ParsedMessage> Await(uint64_t request_id);
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
  std::string session_id_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<DeviceApi> device_api_;

  std::mutex call_mutex_;
  uint64_t next_request_id_ = 1;
  bool closed_ = false;
  Status lost_;  // set once the worker is gone; every later call returns it

  std::mutex release_mutex_;
  std::vector<uint64_t> pending_releases_;

  FileDigestCache digest_cache_;
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_SESSION_CORE_H_
