#include "runtime/params.h"

#include "runtime/binary_io.h"
#include "runtime/file_util.h"

namespace ferry {
namespace {

constexpr std::string_view kMagic = "FERRYPRM";
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxParams = 1 << 20;
constexpr uint64_t kMaxRank = 32;

}  // namespace

StatusOr<std::string> SerializeParams(const ParamMap& params) {
  BinaryWriter writer;
  writer.WriteRaw(kMagic.data(), kMagic.size());
  writer.WriteU32(kVersion);
  writer.WriteU64(params.size());
  for (const auto& [name, array] : params) {
    ASSIGN_OR_RETURN(NDArray host, array.device().type == kDLCPU ? StatusOr<NDArray>(array)
                                                                 : array.CopyTo(Device::Cpu()));
    writer.WriteString(name);
    const DataType dtype = host.dtype();
    writer.WriteU8(dtype.code);
    writer.WriteU8(dtype.bits);
    writer.WriteU32(dtype.lanes);
    writer.WriteU64(host.shape().size());
    for (int64_t d : host.shape()) writer.WriteI64(d);
    writer.WriteU64(host.NumBytes());
    writer.WriteRaw(host.data(), host.NumBytes());
  }
  writer.WriteU32(Crc32(writer.buffer()));
  return writer.Release();
}

StatusOr<ParamMap> ParseParams(std::string_view bytes) {
  auto fail = [](const Status& s) { return s.WithContext("params"); };
  if (bytes.size() < kMagic.size() + 4 || bytes.substr(0, kMagic.size()) != kMagic) {
    return InvalidArgumentError("params: not a Ferry params file (bad magic)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 4);
  BinaryReader trailer(bytes.substr(bytes.size() - 4));
  ASSIGN_OR_RETURN(uint32_t stored_crc, trailer.ReadU32("checksum"));
  BinaryReader reader(body);
  RETURN_IF_ERROR(reader.ReadRaw("magic", kMagic.size()).status());
  StatusOr<uint32_t> version = reader.ReadU32("version");
  if (!version.ok()) return fail(version.status());
  if (*version != kVersion) {
    return InvalidArgumentError("params: format version " + std::to_string(*version) +
                                " is not supported (this build reads version 1)");
  }
  if (Crc32(body) != stored_crc) {
    return InvalidArgumentError("params: checksum mismatch (the file is truncated or corrupt)");
  }
  ParamMap params;
  StatusOr<uint64_t> count = reader.ReadCount("parameter count", kMaxParams);
  if (!count.ok()) return fail(count.status());
  for (uint64_t i = 0; i < *count; ++i) {
    StatusOr<NDArray> array = [&]() -> StatusOr<NDArray> {
      ASSIGN_OR_RETURN(std::string name, reader.ReadString("parameter name"));
      DataType dtype;
      ASSIGN_OR_RETURN(dtype.code, reader.ReadU8("dtype"));
      ASSIGN_OR_RETURN(dtype.bits, reader.ReadU8("dtype"));
      ASSIGN_OR_RETURN(uint32_t lanes, reader.ReadU32("dtype"));
      if (lanes == 0 || lanes > UINT16_MAX || dtype.bits == 0 || (dtype.bits * lanes) % 8 != 0) {
        return InvalidArgumentError("parameter '" + name + "' has an invalid dtype");
      }
      dtype.lanes = static_cast<uint16_t>(lanes);
      ASSIGN_OR_RETURN(uint64_t ndim, reader.ReadCount("rank", kMaxRank));
      std::vector<int64_t> shape(ndim);
      for (int64_t& d : shape) {
    ASSIGN_OR_RETURN(d, reader.ReadI64("shape"));
  }
      ASSIGN_OR_RETURN(int64_t elements, ShapeNumElements(shape));
      ASSIGN_OR_RETURN(uint64_t nbytes, reader.ReadU64("byte count"));
      if (elements > static_cast<int64_t>(reader.remaining() / dtype.bytes() + 1) ||
          nbytes != static_cast<uint64_t>(elements) * dtype.bytes()) {
        return InvalidArgumentError("parameter '" + name + "' declares " +
                                    std::to_string(nbytes) + " bytes for " + dtype.ToString() +
                                    ShapeToString(shape));
      }
      ASSIGN_OR_RETURN(std::string_view data, reader.ReadRaw("parameter data", nbytes));
      ASSIGN_OR_RETURN(NDArray array, NDArray::Empty(shape, dtype, Device::Cpu()));
      RETURN_IF_ERROR(array.CopyFromBytes(data.data(), data.size()));
      if (!params.emplace(name, array).second) {
        return InvalidArgumentError("parameter '" + name + "' appears twice");
      }
      return array;
    }();
    if (!array.ok()) return fail(array.status());
  }
  if (reader.remaining() != 0) {
    return InvalidArgumentError("params: " + std::to_string(reader.remaining()) +
                                " unexpected bytes after the last parameter");
  }
  return params;
}

Status SaveParams(const std::string& path, const ParamMap& params) {
  ASSIGN_OR_RETURN(std::string bytes, SerializeParams(params));
  return WriteFileAtomically(path, bytes);
}

StatusOr<ParamMap> LoadParams(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  StatusOr<ParamMap> params = ParseParams(bytes);
  if (!params.ok()) return params.status().WithContext(path);
  return params;
}

}  // namespace ferry
