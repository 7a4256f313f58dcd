// Unit tests of the runtime's binary encoding (runtime/binary_io.h): round trips, truncated
// input, count and size limits, CRC-32.
#include "runtime/binary_io.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace ferry {
namespace {

TEST(BinaryIoTest, RoundTrip) {
  BinaryWriter w;
  w.WriteU8(0xab);
  w.WriteU32(0xdeadbeef);
  w.WriteU64(0x0123456789abcdefULL);
  w.WriteI64(-42);
  w.WriteF64(-1.25);
  w.WriteString("hello");
  w.WriteString("");
  w.WriteRaw("xyz", 3);
  EXPECT_EQ(w.size(), 1u + 4 + 8 + 8 + 8 + (8 + 5) + 8 + 3);
  std::string bytes = w.Release();
  // Little-endian on the wire.
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 0xef);
  EXPECT_EQ(static_cast<uint8_t>(bytes[4]), 0xde);

  BinaryReader r(bytes);
  EXPECT_EQ(*r.ReadU8("u8"), 0xab);
  EXPECT_EQ(*r.ReadU32("u32"), 0xdeadbeefu);
  EXPECT_EQ(*r.ReadU64("u64"), 0x0123456789abcdefULL);
  EXPECT_EQ(*r.ReadI64("i64"), -42);
  EXPECT_EQ(*r.ReadF64("f64"), -1.25);
  EXPECT_EQ(*r.ReadString("s"), "hello");
  EXPECT_EQ(*r.ReadString("empty"), "");
  EXPECT_EQ(*r.ReadRaw("raw", 3), "xyz");
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.position(), bytes.size());
}

TEST(BinaryIoTest, TruncatedReads) {
  BinaryWriter w;
  w.WriteU32(7);
  std::string bytes = w.Release();
  BinaryReader r(std::string_view(bytes).substr(0, 3));
  StatusOr<uint32_t> v = r.ReadU32("count");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "truncated data: cannot read count at offset 0");
  EXPECT_EQ(r.position(), 0u);  // a failed read consumes nothing

  BinaryReader empty("");
  EXPECT_FALSE(empty.ReadU8("byte").ok());
  EXPECT_FALSE(empty.ReadU64("u64").ok());
  EXPECT_FALSE(empty.ReadF64("f64").ok());
  EXPECT_TRUE(empty.ReadRaw("nothing", 0).ok());

  // A string whose length runs past the end.
  BinaryWriter s;
  s.WriteU64(10);
  s.WriteRaw("abc", 3);
  std::string sbytes = s.Release();
  BinaryReader sr(sbytes);
  StatusOr<std::string> str = sr.ReadString("name");
  ASSERT_FALSE(str.ok());
  EXPECT_EQ(str.status().message(), "truncated data: cannot read name at offset 8");

  BinaryReader over(sbytes);
  EXPECT_FALSE(over.ReadRaw("block", 12).ok());
  EXPECT_TRUE(over.ReadRaw("block", 11).ok());
}

TEST(BinaryIoTest, Limits) {
  BinaryWriter w;
  w.WriteString(std::string(100, 'x'));
  w.WriteU64(1000);
  std::string bytes = w.Release();
  BinaryReader r(bytes);
  StatusOr<std::string> s = r.ReadString("label", 10);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "label length 100 exceeds the limit of 10");

  BinaryReader r2(bytes);
  EXPECT_EQ(r2.ReadString("label", 100)->size(), 100u);
  StatusOr<uint64_t> count = r2.ReadCount("tensors", 999);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().message(), "tensors 1000 exceeds the limit of 999");
  BinaryReader r3(std::string_view(bytes).substr(108));
  EXPECT_EQ(*r3.ReadCount("tensors", 1000), 1000u);

  // With a minimum item size, a count the remaining bytes cannot hold is refused.
  BinaryWriter w2;
  w2.WriteU64(3);
  const std::string three = w2.Release() + std::string(12, 'x');
  BinaryReader fits(three);
  EXPECT_EQ(*fits.ReadCount("items", 10, 4), 3u);
  BinaryReader too_many(three);
  StatusOr<uint64_t> refused = too_many.ReadCount("items", 10, 5);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "items 3 needs at least 3 x 5 bytes, 12 remain");
}

TEST(BinaryIoTest, Crc32) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  // Continuing from a previous CRC equals the CRC of the whole.
  EXPECT_EQ(Crc32("6789", Crc32("12345")), 0xCBF43926u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

}  // namespace
}  // namespace ferry
