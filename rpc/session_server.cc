#include "rpc/session_server.h"

#include <algorithm>
#include <cstring>

#include <openssl/crypto.h>

#include "rpc/value_codec.h"
#include "runtime/device_api.h"
#include "runtime/library_module.h"
#include "runtime/time_evaluator.h"
#include "runtime/value.h"

namespace ferry::rpc {
namespace {

Frames EmptyReply(uint64_t id) { return std::move(MessageWriter::Reply(id, Status::Ok(), 0)).Finish(); }

std::string_view ObjectKindName(size_t index) {
  static constexpr std::string_view kNames[] = {"array", "module", "function"};
  return kNames[index];
}

}  // namespace

const SessionServer::HandlerEntry SessionServer::kHandlers[] = {
    {MessageType::kCloseSession, &SessionServer::CloseSession},
    {MessageType::kGetGlobalFunction, &SessionServer::GetGlobalFunction},
    {MessageType::kGetModuleFunction, &SessionServer::GetModuleFunction},
    {MessageType::kCallFunction, &SessionServer::CallFunction},
    {MessageType::kReleaseHandles, &SessionServer::ReleaseHandles},
    {MessageType::kDeviceAttributes, &SessionServer::DeviceAttributes},
    {MessageType::kAllocArray, &SessionServer::AllocArray},
    {MessageType::kCopyToRemote, &SessionServer::CopyToRemote},
    {MessageType::kCopyFromRemote, &SessionServer::CopyFromRemote},
    {MessageType::kCopyRemoteToRemote, &SessionServer::CopyRemoteToRemote},
    {MessageType::kStreamSync, &SessionServer::StreamSync},
    {MessageType::kUploadBegin, &SessionServer::UploadBegin},
    {MessageType::kUploadChunk, &SessionServer::UploadChunk},
    {MessageType::kUploadEnd, &SessionServer::UploadEnd},
    {MessageType::kDownload, &SessionServer::Download},
    {MessageType::kListFiles, &SessionServer::ListFiles},
    {MessageType::kRemoveFile, &SessionServer::RemoveFile},
    {MessageType::kLoadModule, &SessionServer::LoadModule},
    {MessageType::kTimeEvaluator, &SessionServer::TimeEvaluator},
    {MessageType::kCallSequence, &SessionServer::CallSequence},
};

SessionServer::SessionServer(const FunctionRegistry* globals, SessionFiles* files,
                             SessionServerOptions options)
    : globals_(globals), files_(files), options_(std::move(options)) {}

std::optional<Frames> SessionServer::Handle(Frames request, std::string_view connection) {
  StatusOr<ParsedMessage> parsed = ParseMessage(std::move(request), options_.limits);
  if (!parsed.ok()) {
    // Without a parsed header there is no request id to answer; id 0 tells the client its
    // message was refused.
    return std::move(MessageWriter::Reply(0, parsed.status(), 0)).Finish();
  }
  const ParsedMessage& m = *parsed;
  if (m.type == MessageType::kReleaseHandles) {
    if (greeted_ && connection == connection_) (void)ReleaseHandles(m);
    return std::nullopt;
  }
  StatusOr<Frames> reply = [&]() -> StatusOr<Frames> {
    // The one catch of this request loop: a broken invariant becomes an error reply.
    try {
      return Dispatch(m, connection);
    } catch (const std::exception& e) {
      return InternalError(std::string("session server: ") + e.what());
    }
  }();
  if (!reply.ok()) return std::move(MessageWriter::Reply(m.request_id, reply.status(), 0)).Finish();
  return std::move(*reply);
}

StatusOr<Frames> SessionServer::Dispatch(const ParsedMessage& m, std::string_view connection) {
  RETURN_IF_ERROR(CheckRequestHeader(m, "this agent"));
  if (greeted_ && connection != connection_) {
    return PermissionDeniedError("this session belongs to the connection that opened it");
  }
  if (m.type == MessageType::kHello) return Hello(m, connection);
  if (!greeted_) return PermissionDeniedError("the session has not been opened with Hello");
  if (options_.on_request_start) options_.on_request_start(m.deadline_ms);
  for (const HandlerEntry& entry : kHandlers) {
    if (entry.type == m.type) return (this->*entry.handler)(m);
  }
  return UnimplementedError("a session does not serve " + std::string(MessageTypeName(m.type)));
}

uint64_t SessionServer::AddHandle(Object object) {
  const uint64_t handle = next_handle_++;
  handles_.emplace(handle, std::move(object));
  return handle;
}

template <typename T>
StatusOr<T> SessionServer::Lookup(const msgpack::object& encoded, std::string_view what) const {
  ASSIGN_OR_RETURN(uint64_t handle, ReadUint(encoded, what));
  auto it = handles_.find(handle);
  if (it == handles_.end()) {
    return NotFoundError(std::string(what) + " " + std::to_string(handle) +
                         " is not a live handle of this session");
  }
  if (const T* object = std::get_if<T>(&it->second)) return *object;
  return InvalidArgumentError(std::string(what) + " " + std::to_string(handle) + " is a " +
                              std::string(ObjectKindName(it->second.index())));
}

uint64_t SessionServer::PackValue(MessageWriter& writer, const Value& value,
                                  uint64_t inline_bytes) {
  if (PackPlainValue(writer, value)) return 0;
  auto& p = writer.packer();
  if (value.kind() == Value::Kind::kNDArray) {
    NDArray array = value.As<NDArray>().value();
    // A small CPU array comes with a copy of its bytes (taken now: the array may change with
    // the next request while ZeroMQ still sends the reply).
    const bool with_bytes = array.device().type == kDLCPU && array.NumBytes() <= inline_bytes;
    p.pack_array(with_bytes ? 6 : 5);
    p.pack(static_cast<uint8_t>(WireKind::kRemoteArray));
    p.pack(AddHandle(array));
    PackShape(p, array.shape());
    PackDataType(p, array.dtype());
    PackDevice(p, array.device());
    if (with_bytes) {
      p.pack(writer.AddFrame(
          CopyFrame(std::string_view(array.data_as<const char>(), array.NumBytes()))));
      return array.NumBytes();
    }
  } else if (value.kind() == Value::Kind::kModule) {
    Module module = value.As<Module>().value();
    p.pack_array(3);
    p.pack(static_cast<uint8_t>(WireKind::kModule));
    p.pack(AddHandle(module));
    p.pack(module.type_key());
  } else {
    p.pack_array(2);
    p.pack(static_cast<uint8_t>(WireKind::kFunction));
    p.pack(AddHandle(value.As<PackedFunc>().value()));
  }
  return 0;
}

StatusOr<Value> SessionServer::ReadValue(const msgpack::object& encoded,
                                         const ParsedMessage& message) const {
  ASSIGN_OR_RETURN(std::optional<Value> plain, ReadPlainValue(encoded, message));
  if (plain) return std::move(*plain);
  ASSIGN_OR_RETURN(WireKind kind, ReadWireKind(encoded));
  if (encoded.via.array.size < 2) return InvalidArgumentError("malformed message: value without handle");
  const msgpack::object& handle = encoded.via.array.ptr[1];
  switch (kind) {
    case WireKind::kRemoteArray: {
      ASSIGN_OR_RETURN(NDArray a, Lookup<NDArray>(handle, "array"));
      return Value(a);
    }
    case WireKind::kModule: {
      ASSIGN_OR_RETURN(Module mod, Lookup<Module>(handle, "module"));
      return Value(mod);
    }
    default: {
      ASSIGN_OR_RETURN(PackedFunc f, Lookup<PackedFunc>(handle, "function"));
      return Value(f);
    }
  }
}

StatusOr<SessionFiles*> SessionServer::Files() const {
  if (files_ == nullptr) return UnimplementedError("this session has no file storage");
  return files_;
}

StatusOr<Frames> SessionServer::Hello(const ParsedMessage& m, std::string_view connection) {
  if (greeted_) return PermissionDeniedError("the session is already open");
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(std::string token, ReadString(m.item(0), "session token"));
  if (!options_.token.empty() &&
      (token.size() != options_.token.size() ||
       CRYPTO_memcmp(token.data(), options_.token.data(), token.size()) != 0)) {
    return PermissionDeniedError("wrong session token");
  }
  greeted_ = true;
  connection_ = std::string(connection);
  if (options_.bulk_port == 0) return EmptyReply(m.request_id);
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 2);
  w.packer().pack(static_cast<uint64_t>(options_.bulk_port));
  w.packer().pack_bin(static_cast<uint32_t>(options_.bulk_key.size()));
  w.packer().pack_bin_body(options_.bulk_key.data(), static_cast<uint32_t>(options_.bulk_key.size()));
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::CloseSession(const ParsedMessage& m) {
  close_requested_ = true;
  handles_.clear();
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::GetGlobalFunction(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(std::string name, ReadString(m.item(0), "function name"));
  if (globals_ == nullptr) return NotFoundError("no global function '" + name + "'");
  ASSIGN_OR_RETURN(PackedFunc f, globals_->Get(name));
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  PackValue(w, Value(f));
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::GetModuleFunction(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 2));
  ASSIGN_OR_RETURN(Module module, Lookup<Module>(m.item(0), "module"));
  ASSIGN_OR_RETURN(std::string name, ReadString(m.item(1), "function name"));
  ASSIGN_OR_RETURN(PackedFunc f, module.GetFunction(name, /*query_imports=*/true));
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  PackValue(w, Value(f));
  return std::move(w).Finish();
}

StatusOr<Value> SessionServer::Invoke(const msgpack::object& function,
                                      const msgpack::object& encoded_args,
                                      const ParsedMessage& m) {
  ASSIGN_OR_RETURN(PackedFunc f, Lookup<PackedFunc>(function, "function"));
  ASSIGN_OR_RETURN(const msgpack::object* list, ReadArray(encoded_args, "arguments", 0));
  std::vector<Value> args;
  args.reserve(list->via.array.size);
  for (uint32_t i = 0; i < list->via.array.size; ++i) {
    StatusOr<Value> arg = ReadValue(list->via.array.ptr[i], m);
    if (!arg.ok()) return arg.status().WithContext("argument " + std::to_string(i));
    args.push_back(std::move(*arg));
  }
  return f.CallPacked(args);
}

StatusOr<Frames> SessionServer::CallFunction(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 2));
  // Optional: the largest CPU array result the client wants with its bytes.
  uint64_t inline_bytes = 0;
  if (m.body_size() >= 3) {
    ASSIGN_OR_RETURN(inline_bytes, ReadUint(m.item(2), "inline result bytes"));
    inline_bytes = std::min(inline_bytes, kMaxInlineResultBytes);
  }
  ASSIGN_OR_RETURN(Value result, Invoke(m.item(0), m.item(1), m));
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  PackValue(w, result, inline_bytes);
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::CallSequence(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 2));
  ASSIGN_OR_RETURN(const msgpack::object* calls, ReadArray(m.item(0), "calls", 0));
  const uint32_t count = calls->via.array.size;
  if (count > kMaxSequenceCalls) {
    return InvalidArgumentError("a call sequence of " + std::to_string(count) +
                                " calls exceeds the limit of " +
                                std::to_string(kMaxSequenceCalls));
  }
  // The most bytes of results that come inline, all results together.
  ASSIGN_OR_RETURN(uint64_t inline_budget, ReadUint(m.item(1), "inline result bytes"));
  inline_budget = std::min(inline_budget, kMaxInlineResultBytes);
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  w.packer().pack_array(count);
  for (uint32_t i = 0; i < count; ++i) {
    // Each result is packed as soon as its call returns: an inline copy then holds the bytes
    // as they were after this call, as if the calls had come one by one.
    StatusOr<Value> result = [&]() -> StatusOr<Value> {
      ASSIGN_OR_RETURN(const msgpack::object* call, ReadArray(calls->via.array.ptr[i], "call", 2));
      return Invoke(call->via.array.ptr[0], call->via.array.ptr[1], m);
    }();
    if (!result.ok()) {
      return result.status().WithContext("call " + std::to_string(i + 1) + " of " +
                                         std::to_string(count) + " of the sequence");
    }
    inline_budget -= PackValue(w, *result, inline_budget);
  }
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::ReleaseHandles(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(const msgpack::object* list, ReadArray(m.item(0), "handles", 0));
  for (uint32_t i = 0; i < list->via.array.size; ++i) {
    StatusOr<uint64_t> handle = ReadUint(list->via.array.ptr[i], "handle");
    if (handle.ok()) handles_.erase(*handle);
  }
  return Frames();
}

StatusOr<Frames> SessionServer::DeviceAttributes(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(Device device, ReadDevice(m.item(0)));
  ferry::DeviceAttributes attrs;
  if (StatusOr<DeviceApi*> api = GetDeviceApi(device.type); api.ok()) {
    attrs = (*api)->GetAttributes(device);
  }
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 5);
  auto& p = w.packer();
  p.pack(attrs.exists);
  p.pack(attrs.name);
  p.pack(static_cast<uint64_t>(attrs.total_memory));
  p.pack(attrs.compute_units);
  p.pack(attrs.compute_version);
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::AllocArray(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 3));
  ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadIntArray(m.item(0), "shape"));
  ASSIGN_OR_RETURN(DataType dtype, ReadDataType(m.item(1)));
  ASSIGN_OR_RETURN(Device device, ReadDevice(m.item(2)));
  ASSIGN_OR_RETURN(int64_t elements, ShapeNumElements(shape));
  if (static_cast<uint64_t>(elements) > options_.max_array_bytes / dtype.bytes()) {
    return ResourceExhaustedError("array " + dtype.ToString() + ShapeToString(shape) +
                                  " exceeds the session's limit of " +
                                  std::to_string(options_.max_array_bytes) + " bytes");
  }
  ASSIGN_OR_RETURN(NDArray array, NDArray::Empty(shape, dtype, device));
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  PackValue(w, Value(array));
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::CopyToRemote(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 2));
  ASSIGN_OR_RETURN(NDArray array, Lookup<NDArray>(m.item(0), "array"));
  ASSIGN_OR_RETURN(uint64_t offset, ReadUint(m.item(1), "offset"));
  ASSIGN_OR_RETURN(const zmq::message_t* frame, m.Frame(1));
  if (offset > array.NumBytes() || frame->size() > array.NumBytes() - offset) {
    return InvalidArgumentError("copy of " + std::to_string(frame->size()) + " bytes at offset " +
                                std::to_string(offset) + " exceeds " + array.ToString());
  }
  if (array.device().type == kDLCPU) {
    std::memcpy(array.data_as<char>() + offset, frame->data(), frame->size());
  } else {
    ASSIGN_OR_RETURN(DeviceApi * api, GetDeviceApi(array.device().type));
    RETURN_IF_ERROR(api->Copy(frame->data(), Device::Cpu(), array.data_as<char>() + offset,
                              array.device(), frame->size()));
  }
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::CopyFromRemote(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 3));
  ASSIGN_OR_RETURN(NDArray array, Lookup<NDArray>(m.item(0), "array"));
  ASSIGN_OR_RETURN(uint64_t offset, ReadUint(m.item(1), "offset"));
  ASSIGN_OR_RETURN(uint64_t size, ReadUint(m.item(2), "size"));
  if (offset > array.NumBytes() || size > array.NumBytes() - offset ||
      size > options_.limits.max_frame_bytes) {
    return InvalidArgumentError("copy of " + std::to_string(size) + " bytes at offset " +
                                std::to_string(offset) + " exceeds " + array.ToString());
  }
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 0);
  if (array.device().type == kDLCPU) {
    w.AddFrame(ArrayFrame(array, offset, size));
  } else {
    zmq::message_t frame(size);
    ASSIGN_OR_RETURN(DeviceApi * api, GetDeviceApi(array.device().type));
    RETURN_IF_ERROR(api->Copy(array.data_as<char>() + offset, array.device(), frame.data(),
                              Device::Cpu(), size));
    w.AddFrame(std::move(frame));
  }
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::CopyRemoteToRemote(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 2));
  ASSIGN_OR_RETURN(NDArray from, Lookup<NDArray>(m.item(0), "array"));
  ASSIGN_OR_RETURN(NDArray to, Lookup<NDArray>(m.item(1), "array"));
  RETURN_IF_ERROR(to.CopyFrom(from));
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::StreamSync(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(Device device, ReadDevice(m.item(0)));
  ASSIGN_OR_RETURN(DeviceApi * api, GetDeviceApi(device.type));
  RETURN_IF_ERROR(api->Synchronize(device));
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::UploadBegin(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 3));
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::string label, ReadString(m.item(0), "file label"));
  ASSIGN_OR_RETURN(std::string digest, ReadString(m.item(1), "sha256"));
  ASSIGN_OR_RETURN(uint64_t size, ReadUint(m.item(2), "size"));
  if (size > options_.max_array_bytes) {
    return ResourceExhaustedError("upload of " + std::to_string(size) +
                                  " bytes exceeds the session's limit");
  }
  ASSIGN_OR_RETURN(bool complete, files->BeginUpload(label, digest, size));
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  w.packer().pack(complete);
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::UploadChunk(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 2));
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::string label, ReadString(m.item(0), "file label"));
  ASSIGN_OR_RETURN(uint64_t offset, ReadUint(m.item(1), "offset"));
  ASSIGN_OR_RETURN(const zmq::message_t* frame, m.Frame(1));
  RETURN_IF_ERROR(files->AppendUpload(
      label, offset, std::string_view(static_cast<const char*>(frame->data()), frame->size())));
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::UploadEnd(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::string label, ReadString(m.item(0), "file label"));
  RETURN_IF_ERROR(files->FinishUpload(label));
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::Download(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 3));
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::string label, ReadString(m.item(0), "file label"));
  ASSIGN_OR_RETURN(uint64_t offset, ReadUint(m.item(1), "offset"));
  ASSIGN_OR_RETURN(uint64_t max_bytes, ReadUint(m.item(2), "max bytes"));
  ASSIGN_OR_RETURN(std::string path, files->PathOf(label));
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return NotFoundError("cannot open file '" + label + "'");
  std::fseek(file, 0, SEEK_END);
  const uint64_t size = static_cast<uint64_t>(std::ftell(file));
  const uint64_t start = std::min(offset, size);
  const uint64_t count = std::min<uint64_t>({size - start, max_bytes, kChunkBytes});
  zmq::message_t chunk(count);
  std::fseek(file, static_cast<long>(start), SEEK_SET);
  const size_t read = std::fread(chunk.data(), 1, count, file);
  std::fclose(file);
  if (read != count) return UnavailableError("error reading file '" + label + "'");
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  w.packer().pack(size);
  w.AddFrame(std::move(chunk));
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::ListFiles(const ParsedMessage& m) {
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::vector<FileEntry> entries, files->List());
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  auto& p = w.packer();
  p.pack_array(static_cast<uint32_t>(entries.size()));
  for (const FileEntry& e : entries) {
    p.pack_array(2);
    p.pack(e.label);
    p.pack(e.size);
  }
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::RemoveFile(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::string label, ReadString(m.item(0), "file label"));
  RETURN_IF_ERROR(files->Remove(label));
  return EmptyReply(m.request_id);
}

StatusOr<Frames> SessionServer::LoadModule(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 1));
  ASSIGN_OR_RETURN(SessionFiles * files, Files());
  ASSIGN_OR_RETURN(std::string label, ReadString(m.item(0), "file label"));
  // A path unique to the label's current content: the loader would hand back the library it
  // already loaded from the label's path, even after the label was given new content.
  ASSIGN_OR_RETURN(std::string path, files->LoadPathOf(label));
  StatusOr<Module> module = ferry::LoadModule(path);
  if (!module.ok()) {
    // The path is the agent's; the client knows the file by its label.
    return Status(module.status().code(), "loading '" + label + "': " + module.status().message());
  }
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  PackValue(w, Value(*module));
  return std::move(w).Finish();
}

StatusOr<Frames> SessionServer::TimeEvaluator(const ParsedMessage& m) {
  RETURN_IF_ERROR(CheckBodySize(m, 7));
  ASSIGN_OR_RETURN(Module module, Lookup<Module>(m.item(0), "module"));
  ASSIGN_OR_RETURN(std::string name, ReadString(m.item(1), "function name"));
  ASSIGN_OR_RETURN(Device device, ReadDevice(m.item(2)));
  TimeEvaluatorOptions options;
  int* fields[] = {&options.number, &options.repeat, &options.min_repeat_ms, &options.cooldown_ms};
  for (int i = 0; i < 4; ++i) {
    ASSIGN_OR_RETURN(int64_t v, ReadInt(m.item(3 + i), "time_evaluator option"));
    if (v < 0 || v > INT32_MAX) return InvalidArgumentError("time_evaluator option out of range");
    *fields[i] = static_cast<int>(v);
  }
  ASSIGN_OR_RETURN(PackedFunc timer, ferry::TimeEvaluator(module, name, device, options));
  MessageWriter w = MessageWriter::Reply(m.request_id, Status::Ok(), 1);
  PackValue(w, Value(timer));
  return std::move(w).Finish();
}

}  // namespace ferry::rpc
