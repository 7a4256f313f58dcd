#include "runtime/params.h"

#include <cstdint>

#include "runtime/binary_io.h"
#include "runtime/file_util.h"

namespace ferry {
namespace {

constexpr std::string_view kMagic = "FERRYPRM";
// Written: data aligned to kParamsAlignment. Version 1 (compact, unaligned) is still read.
constexpr uint32_t kVersion = 2;
constexpr uint32_t kUnalignedVersion = 1;
constexpr uint64_t kMaxParams = 1 << 20;
constexpr uint64_t kMaxRank = 32;
constexpr size_t kCrcBytes = 4;

// Zero bytes that bring `position` to the next multiple of kParamsAlignment.
size_t PaddingAt(size_t position) {
  return (kParamsAlignment - position % kParamsAlignment) % kParamsAlignment;
}

// How Parse produces arrays.
struct ParseMode {
  bool verify_checksum;
  // Reference aligned data in place (keeping `owner` alive) instead of copying it.
  bool in_place;
  ObjectPtr<Object> owner;
};

// The array of one entry's data: in place when asked and aligned in memory, else a copy.
StatusOr<NDArray> MakeArray(std::string_view data, std::vector<int64_t> shape, DataType dtype,
                            const ParseMode& mode) {
  const bool aligned = reinterpret_cast<uintptr_t>(data.data()) % kAllocAlignment == 0;
  if (mode.in_place && aligned) {
    // No API: nothing is freed and copies go through the CPU's. The data is never written
    // through this array (params.h), so dropping const is safe even for read-only memory.
    return NDArray::Adopt(const_cast<char*>(data.data()), std::move(shape), dtype, Device::Cpu(),
                          nullptr, mode.owner);
  }
  ASSIGN_OR_RETURN(NDArray array, NDArray::Empty(std::move(shape), dtype, Device::Cpu()));
  RETURN_IF_ERROR(array.CopyFromBytes(data.data(), data.size()));
  return array;
}

// One entry: name, dtype, shape, byte count, (version 2) padding, data.
Status ParseEntry(BinaryReader& reader, uint32_t version, const ParseMode& mode,
                  ParamMap& params) {
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
    return InvalidArgumentError("parameter '" + name + "' declares " + std::to_string(nbytes) +
                                " bytes for " + dtype.ToString() + ShapeToString(shape));
  }
  if (version != kUnalignedVersion) {
    ASSIGN_OR_RETURN(std::string_view padding,
                     reader.ReadRaw("parameter padding", PaddingAt(reader.position())));
    if (padding.find_first_not_of('\0') != std::string_view::npos) {
      return InvalidArgumentError("parameter '" + name + "' has non-zero alignment padding");
    }
  }
  ASSIGN_OR_RETURN(std::string_view data, reader.ReadRaw("parameter data", nbytes));
  ASSIGN_OR_RETURN(NDArray array, MakeArray(data, std::move(shape), dtype, mode));
  if (!params.emplace(name, std::move(array)).second) {
    return InvalidArgumentError("parameter '" + name + "' appears twice");
  }
  return Status::Ok();
}

StatusOr<ParamMap> Parse(std::string_view bytes, const ParseMode& mode) {
  auto fail = [](const Status& s) { return s.WithContext("params"); };
  if (bytes.size() < kMagic.size() + kCrcBytes || bytes.substr(0, kMagic.size()) != kMagic) {
    return InvalidArgumentError("params: not a Ferry params file (bad magic)");
  }
  // The reader stops before the checksum, which ends the bytes.
  BinaryReader reader(bytes.substr(0, bytes.size() - kCrcBytes));
  RETURN_IF_ERROR(reader.ReadRaw("magic", kMagic.size()).status());
  StatusOr<uint32_t> version = reader.ReadU32("version");
  if (!version.ok()) return fail(version.status());
  if (*version != kVersion && *version != kUnalignedVersion) {
    return InvalidArgumentError("params: format version " + std::to_string(*version) +
                                " is not supported (this build reads versions 1 and 2)");
  }
  if (mode.verify_checksum) RETURN_IF_ERROR(VerifyParamsChecksum(bytes));
  ParamMap params;
  StatusOr<uint64_t> count = reader.ReadCount("parameter count", kMaxParams);
  if (!count.ok()) return fail(count.status());
  for (uint64_t i = 0; i < *count; ++i) {
    Status status = ParseEntry(reader, *version, mode, params);
    if (!status.ok()) return fail(status);
  }
  if (reader.remaining() != 0) {
    return InvalidArgumentError("params: " + std::to_string(reader.remaining()) +
                                " unexpected bytes after the last parameter");
  }
  return params;
}

}  // namespace

StatusOr<std::string> SerializeParams(const ParamMap& params) {
  static constexpr char kZeros[kParamsAlignment] = {};
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
    writer.WriteRaw(kZeros, PaddingAt(writer.size()));
    writer.WriteRaw(host.data(), host.NumBytes());
  }
  writer.WriteU32(Crc32(writer.buffer()));
  return writer.Release();
}

StatusOr<ParamMap> ParseParams(std::string_view bytes) {
  return Parse(bytes, ParseMode{true, false, nullptr});
}

StatusOr<ParamMap> ParseParamsInPlace(std::string_view bytes, ObjectPtr<Object> owner) {
  return Parse(bytes, ParseMode{false, true, std::move(owner)});
}

Status VerifyParamsChecksum(std::string_view bytes) {
  if (bytes.size() < kCrcBytes) {
    return InvalidArgumentError("params: " + std::to_string(bytes.size()) +
                                " bytes cannot hold the checksum");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kCrcBytes);
  BinaryReader trailer(bytes.substr(body.size()));
  ASSIGN_OR_RETURN(uint32_t stored_crc, trailer.ReadU32("checksum"));
  if (Crc32(body) != stored_crc) {
    return InvalidArgumentError("params: checksum mismatch (the file is truncated or corrupt)");
  }
  return Status::Ok();
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
