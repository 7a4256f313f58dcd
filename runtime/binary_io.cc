#include "runtime/binary_io.h"

#include <array>

namespace ferry {

Status BinaryReader::Truncated(std::string_view what) const {
  return InvalidArgumentError("truncated data: cannot read " + std::string(what) + " at offset " +
                              std::to_string(pos_));
}

StatusOr<std::string_view> BinaryReader::ReadRaw(std::string_view what, size_t size) {
  if (size > remaining()) return Truncated(what);
  std::string_view out = data_.substr(pos_, size);
  pos_ += size;
  return out;
}

StatusOr<uint8_t> BinaryReader::ReadU8(std::string_view what) {
  ASSIGN_OR_RETURN(std::string_view raw, ReadRaw(what, 1));
  return static_cast<uint8_t>(raw[0]);
}

StatusOr<uint64_t> BinaryReader::ReadU64(std::string_view what) {
  ASSIGN_OR_RETURN(std::string_view raw, ReadRaw(what, 8));
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(raw[i]);
  return v;
}

StatusOr<uint32_t> BinaryReader::ReadU32(std::string_view what) {
  ASSIGN_OR_RETURN(std::string_view raw, ReadRaw(what, 4));
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(raw[i]);
  return v;
}

StatusOr<int64_t> BinaryReader::ReadI64(std::string_view what) {
  ASSIGN_OR_RETURN(uint64_t v, ReadU64(what));
  return static_cast<int64_t>(v);
}

StatusOr<double> BinaryReader::ReadF64(std::string_view what) {
  ASSIGN_OR_RETURN(uint64_t bits, ReadU64(what));
  double v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

StatusOr<std::string> BinaryReader::ReadString(std::string_view what, size_t max_size) {
  ASSIGN_OR_RETURN(uint64_t size, ReadU64(what));
  if (size > max_size) {
    return InvalidArgumentError(std::string(what) + " length " + std::to_string(size) +
                                " exceeds the limit of " + std::to_string(max_size));
  }
  ASSIGN_OR_RETURN(std::string_view raw, ReadRaw(what, size));
  return std::string(raw);
}

StatusOr<uint64_t> BinaryReader::ReadCount(std::string_view what, uint64_t max_count,
                                           size_t min_item_bytes) {
  ASSIGN_OR_RETURN(uint64_t count, ReadU64(what));
  if (count > max_count) {
    return InvalidArgumentError(std::string(what) + " " + std::to_string(count) +
                                " exceeds the limit of " + std::to_string(max_count));
  }
  // count <= max_count, so the product cannot overflow for the limits callers use; divide
  // instead to be safe for any.
  if (min_item_bytes > 0 && count > remaining() / min_item_bytes) {
    return InvalidArgumentError(std::string(what) + " " + std::to_string(count) +
                                " needs at least " + std::to_string(count) + " x " +
                                std::to_string(min_item_bytes) + " bytes, " +
                                std::to_string(remaining()) + " remain");
  }
  return count;
}

namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) crc = kCrcTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace ferry
