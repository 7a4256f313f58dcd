// Client-side stand-ins for objects living in a session: a remote Module, a remote
// PackedFunc and the DeviceApi behind remote arrays. Each holds its SessionCore and releases
// its handle when the last local reference goes away.
#ifndef FERRY_RPC_REMOTE_OBJECTS_H_
#define FERRY_RPC_REMOTE_OBJECTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "rpc/session_core.h"
#include "runtime/device_api.h"
#include "runtime/module.h"
#include "runtime/packed_func.h"

namespace ferry::rpc {

// A function in the session. Calling it sends CallFunction; arguments are staged and encoded
// by ClientValueCodec::StageArguments and PackArgument, and the result decoded by ReadResult
// (with its bytes, when it is a small array: docs/protocol.md, "Tensors in calls").
class RemoteFunctionNode final : public PackedFuncNode {
 public:
  RemoteFunctionNode(ObjectPtr<SessionCore> core, uint64_t handle)
      : core_(std::move(core)), handle_(handle) {}
  ~RemoteFunctionNode() override { core_->endpoint().Release(handle_); }
  StatusOr<Value> Call(std::span<const Value> args) const override;
  uint64_t handle() const { return handle_; }
  SessionCore* core() const { return core_.get(); }

 private:
  ObjectPtr<SessionCore> core_;
  uint64_t handle_;
};

// One call of a sequence: a function of the session and its arguments.
struct RemoteCall {
  PackedFunc function;
  std::vector<Value> args;
};

// Calls `calls` in order in one round trip (CallSequence, docs/protocol.md "Call sequences"):
// the session runs each as CallFunction would, stops at the first that fails and returns its
// error ("call K of N of the sequence: ..."; the calls before it took effect), or returns
// every result. Arguments are staged as for a single call; small array results come inline
// (up to the codec's inline_result_bytes, all of them together), valid until the next request.
// Errors: kInvalidArgument for more than kMaxSequenceCalls calls or a function of another
// session; those of the calls.
StatusOr<std::vector<Value>> CallSequence(SessionCore& core, std::span<const RemoteCall> calls);

// A module in the session (type key "rpc:<remote type key>"). GetFunction asks the session
// once per name and caches the answer; a transport failure yields a function that returns
// that failure when called, so the caller sees why.
class RemoteModuleNode final : public ModuleNode {
 public:
  RemoteModuleNode(ObjectPtr<SessionCore> core, uint64_t handle, std::string remote_type_key)
      : core_(std::move(core)), handle_(handle), remote_type_key_(std::move(remote_type_key)) {}
  ~RemoteModuleNode() override { core_->endpoint().Release(handle_); }

  std::string type_key() const override { return "rpc:" + remote_type_key_; }
  std::optional<PackedFunc> GetFunction(const std::string& name) override;
  uint64_t handle() const { return handle_; }
  SessionCore* core() const { return core_.get(); }

 private:
  ObjectPtr<SessionCore> core_;
  uint64_t handle_;
  std::string remote_type_key_;
  std::mutex cache_mutex_;
  std::map<std::string, PackedFunc> cache_;
};

// The DeviceApi of a session's remote devices. A remote array's data pointer is its handle.
// Copies between host and remote memory stream in chunks of at most kChunkBytes sized to the
// link, kCopyWindow in flight (chunk_stream.h), so neither side holds a second full copy;
// host-to-remote chunks are sent from the caller's buffer without a copy, and a copy to the
// host of a small call result that came inline costs no request. Remote-to-remote copies
// stay remote.
class RemoteDeviceApi final : public DeviceApi {
 public:
  explicit RemoteDeviceApi(SessionCore* core) : core_(core) {}

  // Remote arrays come from RemoteSession::Empty: kUnimplemented.
  StatusOr<void*> Allocate(Device device, size_t bytes, size_t alignment) override;
  void Free(Device device, void* ptr) override;
  Status Copy(const void* from, Device from_device, void* to, Device to_device,
              size_t bytes) override;
  Status Synchronize(Device device) override;
  DeviceAttributes GetAttributes(Device device) override;

 private:
  Status CopyToRemote(const char* from, uint64_t handle, size_t bytes);
  Status CopyFromRemote(uint64_t handle, char* to, size_t bytes);
  SessionCore* core_;  // owns this API
};

}  // namespace ferry::rpc

#endif  // FERRY_RPC_REMOTE_OBJECTS_H_
