// Little-endian binary encoding with bounds-checked decoding, used by the model library and
// parameter formats (docs/library-format.md).
//
// BinaryWriter appends to a string. BinaryReader reads from a borrowed byte range; every read
// returns kInvalidArgument ("truncated <what>") rather than running past the end, and
// ReadString/ReadCount enforce caller-given limits so a corrupt length cannot trigger a huge
// allocation.
#ifndef FERRY_RUNTIME_BINARY_IO_H_
#define FERRY_RUNTIME_BINARY_IO_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/status.h"

namespace ferry {

class BinaryWriter {
 public:
  void WriteU8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void WriteU32(uint32_t v) { WriteLittleEndian(v); }
  void WriteU64(uint64_t v) { WriteLittleEndian(v); }
  void WriteI64(int64_t v) { WriteLittleEndian(static_cast<uint64_t>(v)); }
  void WriteF64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    WriteLittleEndian(bits);
  }
  // u64 length, then the bytes.
  void WriteString(std::string_view s) {
    WriteU64(s.size());
    WriteRaw(s.data(), s.size());
  }
  void WriteRaw(const void* data, size_t size) {
    out_.append(static_cast<const char*>(data), size);
  }

  size_t size() const { return out_.size(); }
  std::string& buffer() { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  template <typename T>
  void WriteLittleEndian(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class BinaryReader {
 public:
  explicit BinaryReader(std::string_view data) : data_(data) {}

  StatusOr<uint8_t> ReadU8(std::string_view what);
  StatusOr<uint32_t> ReadU32(std::string_view what);
  StatusOr<uint64_t> ReadU64(std::string_view what);
  StatusOr<int64_t> ReadI64(std::string_view what);
  StatusOr<double> ReadF64(std::string_view what);
  // A length-prefixed string of at most max_size bytes.
  StatusOr<std::string> ReadString(std::string_view what, size_t max_size = 1 << 20);
  // A u64 count no larger than max_count. With `min_item_bytes`, the count is also refused
  // when that many items of at least that size cannot fit in the bytes that remain ("<what>
  // N needs at least B bytes, R remain"), so a corrupt count cannot make the caller allocate
  // for items the input cannot hold.
  StatusOr<uint64_t> ReadCount(std::string_view what, uint64_t max_count,
                               size_t min_item_bytes = 0);
  // A view of the next `size` bytes (valid as long as the underlying data).
  StatusOr<std::string_view> ReadRaw(std::string_view what, size_t size);

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  Status Truncated(std::string_view what) const;
  std::string_view data_;
  size_t pos_ = 0;
};

// CRC-32 (IEEE 802.3, the zlib polynomial) of `data`, continuing from `crc` (0 to start).
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

}  // namespace ferry

#endif  // FERRY_RUNTIME_BINARY_IO_H_
