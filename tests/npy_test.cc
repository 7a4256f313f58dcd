// Tests of the .npy reader and writer: round trips, files numpy wrote, files numpy reads, and
// malformed input (always a Status, never a crash).
#include "runtime/npy.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace ferry {
namespace {

const std::string kMagic("\x93NUMPY", 6);

template <typename T>
NDArray MakeArray(std::vector<int64_t> shape, DataType dtype, const std::vector<T>& values) {
  NDArray array = *NDArray::Empty(std::move(shape), dtype, Device::Cpu());
  EXPECT_EQ(array.NumBytes(), values.size() * sizeof(T));
  EXPECT_TRUE(array.CopyFromBytes(values.data(), values.size() * sizeof(T)).ok());
  return array;
}

std::string Bytes(const NDArray& array) {
  return std::string(static_cast<const char*>(array.data()), array.NumBytes());
}

void ExpectSameArray(const NDArray& actual, const NDArray& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  EXPECT_EQ(actual.dtype(), expected.dtype())
      << actual.dtype().ToString() << " vs " << expected.dtype().ToString();
  EXPECT_EQ(actual.device(), Device::Cpu());
  EXPECT_EQ(Bytes(actual), Bytes(expected));
}

// A .npy file with the given header dict (a newline is appended) and data.
std::string Npy(std::string_view dict, std::string_view data = "", int major = 1) {
  std::string header(dict);
  header += '\n';
  std::string out = kMagic;
  out += static_cast<char>(major);
  out += '\0';
  int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out += header;
  out += data;
  return out;
}

void ExpectInvalid(std::string_view bytes, std::string_view message_part = "") {
  StatusOr<NDArray> parsed = ParseNpy(bytes);
  ASSERT_FALSE(parsed.ok()) << "parsed " << parsed->ToString();
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << parsed.status().ToString();
  EXPECT_TRUE(parsed.status().message().starts_with("npy: ")) << parsed.status().message();
  EXPECT_NE(parsed.status().message().find(message_part), std::string::npos)
      << parsed.status().message() << " lacks '" << message_part << "'";
}

void ExpectUnimplemented(std::string_view bytes, std::string_view message_part = "") {
  StatusOr<NDArray> parsed = ParseNpy(bytes);
  ASSERT_FALSE(parsed.ok()) << "parsed " << parsed->ToString();
  EXPECT_EQ(parsed.status().code(), StatusCode::kUnimplemented) << parsed.status().ToString();
  EXPECT_TRUE(parsed.status().message().starts_with("npy: ")) << parsed.status().message();
  EXPECT_NE(parsed.status().message().find(message_part), std::string::npos)
      << parsed.status().message() << " lacks '" << message_part << "'";
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ferry_npy_XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ---- round trips ----

TEST(NpyTest, HeaderLooksLikeNumpys) {
  NDArray a = MakeArray<float>({2, 3}, DataType::Float32(), {0, 1, 2, 3, 4, 5});
  StatusOr<std::string> bytes = SerializeNpy(a);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  ASSERT_GE(bytes->size(), 10u);
  EXPECT_EQ(bytes->substr(0, 6), kMagic);
  EXPECT_EQ((*bytes)[6], 1);
  EXPECT_EQ((*bytes)[7], 0);
  size_t header_len = static_cast<uint8_t>((*bytes)[8]) | static_cast<uint8_t>((*bytes)[9]) << 8;
  size_t data_offset = 10 + header_len;
  EXPECT_EQ(data_offset % 64, 0u);
  EXPECT_EQ(bytes->size(), data_offset + 24);
  std::string header = bytes->substr(10, header_len);
  EXPECT_TRUE(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
      << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes->substr(data_offset), Bytes(a));
}

TEST(NpyTest, DescrsWritten) {
  struct Case {
    DataType dtype;
    std::string descr;
  };
  for (const Case& c : {Case{DataType::Float16(), "'<f2'"}, Case{DataType::Float64(), "'<f8'"},
                        Case{DataType::Int8(), "'|i1'"}, Case{DataType{kDLInt, 16, 1}, "'<i2'"},
                        Case{DataType::Int64(), "'<i8'"}, Case{DataType::UInt8(), "'|u1'"},
                        Case{DataType{kDLUInt, 64, 1}, "'<u8'"}, Case{DataType::Bool(), "'|b1'"}}) {
    NDArray a = *NDArray::Empty({1}, c.dtype, Device::Cpu());
    std::memset(a.data(), 0, a.NumBytes());
    StatusOr<std::string> bytes = SerializeNpy(a);
    ASSERT_TRUE(bytes.ok());
    EXPECT_NE(bytes->find("'descr': " + c.descr), std::string::npos) << c.dtype.ToString();
    EXPECT_NE(bytes->find("'shape': (1,)"), std::string::npos);
  }
}

TEST(NpyTest, RoundTripDtypesAndShapes) {
  std::vector<NDArray> arrays = {
      MakeArray<float>({2, 3}, DataType::Float32(), {0, 1.5f, -2, 3, 4e10f, -0.0f}),
      MakeArray<double>({}, DataType::Float64(), {3.25}),
      MakeArray<uint16_t>({3}, DataType::Float16(), {0x3c00, 0xc000, 0x7c00}),
      MakeArray<int8_t>({2, 2}, DataType::Int8(), {-128, -1, 0, 127}),
      MakeArray<int16_t>({2}, DataType{kDLInt, 16, 1}, {-30000, 30000}),
      MakeArray<int32_t>({1, 1, 3}, DataType::Int32(), {INT32_MIN, 0, INT32_MAX}),
      MakeArray<int64_t>({2}, DataType::Int64(), {INT64_MIN, INT64_MAX}),
      MakeArray<uint8_t>({4}, DataType::UInt8(), {0, 1, 128, 255}),
      MakeArray<uint16_t>({1}, DataType{kDLUInt, 16, 1}, {65535}),
      MakeArray<uint32_t>({2, 1}, DataType{kDLUInt, 32, 1}, {0, 4000000000u}),
      MakeArray<uint64_t>({1}, DataType{kDLUInt, 64, 1}, {UINT64_MAX}),
      MakeArray<uint8_t>({5}, DataType::Bool(), {1, 0, 0, 1, 1}),
      MakeArray<float>({0}, DataType::Float32(), {}),
      MakeArray<int32_t>({3, 0, 2}, DataType::Int32(), {}),
      MakeArray<uint8_t>({}, DataType::Bool(), {1}),
      MakeArray<float>({1, 2, 1, 2, 1, 1, 1, 1}, DataType::Float32(), {1, 2, 3, 4}),
  };
  TempDir dir;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const NDArray& a = arrays[i];
    SCOPED_TRACE(a.ToString());
    StatusOr<std::string> bytes = SerializeNpy(a);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    StatusOr<NDArray> parsed = ParseNpy(*bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    ExpectSameArray(*parsed, a);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(parsed->data()) % kAllocAlignment, 0u);

    std::string path = dir.File("a" + std::to_string(i) + ".npy");
    ASSERT_TRUE(SaveNpy(path, a).ok());
    EXPECT_EQ(ReadFile(path), *bytes);
    StatusOr<NDArray> loaded = LoadNpy(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    ExpectSameArray(*loaded, a);
  }
}

TEST(NpyTest, ViewsAndBorrowedArrays) {
  NDArray a = MakeArray<int32_t>({2, 3}, DataType::Int32(), {1, 2, 3, 4, 5, 6});
  NDArray view = *a.CreateView({3, 2}, DataType::Int32());
  StatusOr<NDArray> parsed = ParseNpy(*SerializeNpy(view));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(Bytes(*parsed), Bytes(a));

  std::vector<double> storage = {1, 2};
  NDArray borrowed = NDArray::Borrow(storage.data(), {2}, DataType::Float64(), Device::Cpu());
  ExpectSameArray(*ParseNpy(*SerializeNpy(borrowed)), borrowed);
}

TEST(NpyTest, WriteErrors) {
  StatusOr<std::string> null = SerializeNpy(NDArray());
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(null.status().message().starts_with("npy: "));

  for (DataType dtype : {DataType{kDLBfloat, 16, 1}, DataType{kDLFloat, 32, 4}}) {
    NDArray a = *NDArray::Empty({2}, dtype, Device::Cpu());
    StatusOr<std::string> bytes = SerializeNpy(a);
    ASSERT_FALSE(bytes.ok()) << dtype.ToString();
    EXPECT_EQ(bytes.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(bytes.status().message().find(dtype.ToString()), std::string::npos);
  }

  TempDir dir;
  NDArray a = MakeArray<float>({1}, DataType::Float32(), {1});
  Status missing_dir = SaveNpy(dir.File("no/such/dir/a.npy"), a);
  EXPECT_EQ(missing_dir.code(), StatusCode::kNotFound) << missing_dir.ToString();
  EXPECT_NE(missing_dir.message().find("no/such/dir/a.npy"), std::string::npos);
  EXPECT_FALSE(SaveNpy(dir.path(), a).ok());  // a directory
}

TEST(NpyTest, LoadErrors) {
  TempDir dir;
  StatusOr<NDArray> missing = LoadNpy(dir.File("missing.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing.npy"), std::string::npos);

  StatusOr<NDArray> directory = LoadNpy(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kInvalidArgument);

  NDArray a = MakeArray<float>({4}, DataType::Float32(), {1, 2, 3, 4});
  std::string bytes = *SerializeNpy(a);

  std::string truncated = dir.File("truncated.npy");
  WriteFile(truncated, std::string_view(bytes).substr(0, bytes.size() - 1));
  StatusOr<NDArray> t = LoadNpy(truncated);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(t.status().message().starts_with("npy: " + truncated + ": truncated data"))
      << t.status().message();

  std::string empty = dir.File("empty.npy");
  WriteFile(empty, "");
  EXPECT_EQ(LoadNpy(empty).status().code(), StatusCode::kInvalidArgument);

  std::string short_file = dir.File("short.npy");
  WriteFile(short_file, std::string_view(bytes).substr(0, 9));
  EXPECT_EQ(LoadNpy(short_file).status().code(), StatusCode::kInvalidArgument);

  std::string header_only = dir.File("header_only.npy");
  WriteFile(header_only, std::string_view(bytes).substr(0, 30));
  StatusOr<NDArray> h = LoadNpy(header_only);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("truncated header"), std::string::npos);

  // A huge shape in a small file is rejected before anything is allocated.
  std::string huge = dir.File("huge.npy");
  WriteFile(huge, Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1024), }",
                      "12345678"));
  StatusOr<NDArray> big = LoadNpy(huge);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("truncated data"), std::string::npos);
}

// ---- reading what the format allows ----

TEST(NpyTest, HeaderSyntaxVariants) {
  std::string four(reinterpret_cast<const char*>(std::vector<int32_t>{1, 2, 3, 4}.data()), 16);
  // Key order, quotes, whitespace, no trailing comma, version 2.0 and 3.0, padding.
  for (const std::string& bytes : {
           Npy("{'shape': (2, 2), 'fortran_order': False, 'descr': '<i4'}", four),
           Npy("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2,2)}", four),
           Npy("  {  'descr' :'<i4' ,\n'fortran_order':False,\t'shape':( 2 , 2 , ) , }   ", four),
           Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", four, 2),
           Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", four, 3),
           Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 2L), }" +
                   std::string(100, ' '),
               four),
       }) {
    StatusOr<NDArray> parsed = ParseNpy(bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << bytes.substr(10);
    EXPECT_EQ(parsed->shape(), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(parsed->dtype(), DataType::Int32());
    EXPECT_EQ(Bytes(*parsed), four);
  }
  // One-byte types with any byte order; Fortran order where it is the same layout.
  for (const char* descr : {"'|u1'", "'<u1'", "'>u1'"}) {
    StatusOr<NDArray> parsed = ParseNpy(
        Npy(std::string("{'descr': ") + descr + ", 'fortran_order': False, 'shape': (3,)}", "abc"));
    ASSERT_TRUE(parsed.ok()) << descr << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->dtype(), DataType::UInt8());
  }
  for (const char* shape : {"(4,)", "(1, 4)", "(4, 1, 1)", "()", "(0, 3)"}) {
    std::string data = std::string(shape) == "()"       ? four.substr(0, 4)
                       : std::string(shape) == "(0, 3)" ? ""
                                                        : four;
    StatusOr<NDArray> parsed = ParseNpy(
        Npy(std::string("{'descr': '<i4', 'fortran_order': True, 'shape': ") + shape + "}", data));
    EXPECT_TRUE(parsed.ok()) << shape << ": " << parsed.status().ToString();
  }
}

TEST(NpyTest, UnsupportedButWellFormed) {
  std::string four(16, '\0');
  ExpectUnimplemented(Npy("{'descr': '>i4', 'fortran_order': False, 'shape': (4,)}", four),
                      "big-endian");
  ExpectUnimplemented(Npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 2)}", four),
                      "fortran_order");
  ExpectUnimplemented(Npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", four),
                      "not supported");
  ExpectUnimplemented(Npy("{'descr': '<U1', 'fortran_order': False, 'shape': (4,)}", four));
  ExpectUnimplemented(Npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", four));
  ExpectUnimplemented(Npy("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,)}", four));
  ExpectUnimplemented(Npy("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (4,)}", four),
                      "structured");
  std::string v4 = Npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4,)}", four);
  v4[6] = 4;
  ExpectUnimplemented(v4, "version 4.0");
  std::string many_dims = "(" + std::string(40 * 3, ' ');
  for (int i = 0; i < 40; ++i) many_dims += "1, ";
  ExpectUnimplemented(Npy("{'descr': '<i4', 'fortran_order': False, 'shape': " + many_dims + ")}",
                          std::string(4, '\0')),
                      "dimensions");
}

// ---- malformed input ----

TEST(NpyTest, MalformedPreamble) {
  std::string good = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "abcd");
  ASSERT_TRUE(ParseNpy(good).ok());

  ExpectInvalid("", "empty");
  ExpectInvalid("hello, world", "bad magic");
  ExpectInvalid("\x93NUMPX\x01\x00\x10\x00", "bad magic");
  ExpectInvalid(std::string_view("\x93", 1), "truncated preamble");
  ExpectInvalid(good.substr(0, 6), "truncated preamble");
  ExpectInvalid(good.substr(0, 9), "truncated preamble");
  std::string v2 = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "abcd", 2);
  ExpectInvalid(v2.substr(0, 11), "truncated preamble");

  // Header length beyond the input, and beyond any sane header.
  ExpectInvalid(good.substr(0, 30), "truncated header");
  std::string overflow = good;
  overflow[8] = '\xff';
  overflow[9] = '\xff';
  ExpectInvalid(overflow, "truncated header");
  std::string overflow2 = v2;
  overflow2[8] = overflow2[9] = overflow2[10] = overflow2[11] = '\xff';
  ExpectInvalid(overflow2, "exceeds the limit");
  std::string zero_len = good.substr(0, 8) + std::string("\0\0", 2);
  ExpectInvalid(zero_len, "malformed header");
}

TEST(NpyTest, MalformedHeader) {
  const std::string data = "abcd";
  for (const char* dict : {
           "",
           "{",
           "}",
           "[]",
           "{}",
           "{'descr': '<f4', 'fortran_order': False}",
           "{'descr': '<f4', 'shape': (1,)}",
           "{'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
           "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}}",
           "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<f4',, 'fortran_order': False, 'shape': (1,)}",
           "{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}",
           "{descr: '<f4', 'fortran_order': False, 'shape': (1,)}",
           "{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<f4\", 'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<\\f4', 'fortran_order': False, 'shape': (1,)}",
           "{'descr': u'<f4', 'fortran_order': False, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': 1}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1 1)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (a,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (+1,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (0x1,)}",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
       }) {
    SCOPED_TRACE(dict);
    ExpectInvalid(Npy(dict, data));
  }
  ExpectInvalid(
      Npy(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\0", 57), data));
}

TEST(NpyTest, NegativeDimension) {
  ExpectInvalid(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "abcd"),
                "negative dimension");
  ExpectInvalid(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", ""),
                "negative dimension");
}

TEST(NpyTest, BadDescr) {
  for (const char* descr : {"''", "'f4'", "'<'", "'<f'", "'<f3'", "'<f16'", "'<i3'", "'<b2'",
                            "'<x4'", "'#f4'", "'<f4 '", "'<f-4'", "'<u0'"}) {
    SCOPED_TRACE(descr);
    ExpectInvalid(
        Npy(std::string("{'descr': ") + descr + ", 'fortran_order': False, 'shape': (1,)}", "abcd"),
        "descr");
  }
}

TEST(NpyTest, DataLengthMustMatch) {
  std::string dict = "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3)}";
  ASSERT_TRUE(ParseNpy(Npy(dict, std::string(12, 'x'))).ok());
  ExpectInvalid(Npy(dict, std::string(11, 'x')), "truncated data");
  ExpectInvalid(Npy(dict, ""), "truncated data");
  ExpectInvalid(Npy(dict, std::string(13, 'x')), "unexpected bytes");
  // An overflowing element count or byte size.
  ExpectInvalid(Npy("{'descr': '<i2', 'fortran_order': False, 'shape': (4294967296, "
                    "4294967296)}"),
                "overflows");
  ExpectInvalid(Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}"),
                "too large");
}

TEST(NpyTest, EveryTruncationIsAnError) {
  NDArray a = MakeArray<int16_t>({3, 2}, DataType{kDLInt, 16, 1}, {1, 2, 3, 4, 5, 6});
  std::string bytes = *SerializeNpy(a);
  for (size_t n = 0; n < bytes.size(); ++n) {
    StatusOr<NDArray> parsed = ParseNpy(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(parsed.ok()) << n;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << n;
  }
}

TEST(NpyTest, CorruptedBytesNeverCrash) {
  NDArray a = MakeArray<float>({2, 3}, DataType::Float32(), {1, 2, 3, 4, 5, 6});
  std::string good = *SerializeNpy(a);
  std::mt19937 rng(1234);
  const std::string alphabet = "0123456789(),:' -{}\n\xff\x00TrueFalse<>|fiub";
  size_t header_end = good.size() - 24;
  for (int trial = 0; trial < 5000; ++trial) {
    std::string bytes = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % header_end;
      if (rng() % 2) {
        bytes[pos] = alphabet[rng() % alphabet.size()];
      } else {
        bytes[pos] = static_cast<char>(rng() & 0xff);
      }
    }
    StatusOr<NDArray> parsed = ParseNpy(bytes);
    if (!parsed.ok()) {
      EXPECT_TRUE(parsed.status().message().starts_with("npy: ")) << parsed.status().message();
      EXPECT_TRUE(parsed.status().code() == StatusCode::kInvalidArgument ||
                  parsed.status().code() == StatusCode::kUnimplemented)
          << parsed.status().ToString();
    }
  }
}

// ---- interoperability with numpy ----

bool HaveNumpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

// Runs `script` with /usr/bin/python3, passing `dir` as argv[1]; returns the exit status.
int RunPython(const TempDir& dir, const std::string& script) {
  std::string path = dir.File("script.py");
  WriteFile(path, script);
  std::string command = "/usr/bin/python3 '" + path + "' '" + dir.path() + "'";
  return std::system(command.c_str());
}

TEST(NpyNumpyTest, ReadsFilesNumpyWrote) {
  if (!HaveNumpy()) GTEST_SKIP() << "/usr/bin/python3 has no numpy";
  TempDir dir;
  ASSERT_EQ(RunPython(dir, R"(
import sys, numpy as np
d = sys.argv[1]
np.save(d + '/f32.npy', np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
np.save(d + '/f64_scalar.npy', np.float64(-2.5))
np.save(d + '/f16.npy', np.array([1.0, -2.0, 0.5], dtype=np.float16))
np.save(d + '/i8.npy', np.array([-128, -1, 0, 127], dtype=np.int8))
np.save(d + '/i16.npy', np.array([[-300], [300]], dtype=np.int16))
np.save(d + '/i32.npy', np.arange(24, dtype=np.int32).reshape(2, 3, 4))
np.save(d + '/i64.npy', np.array([-(2**62), 2**62], dtype=np.int64))
np.save(d + '/u8.npy', np.array([0, 255], dtype=np.uint8))
np.save(d + '/u16.npy', np.array([65535], dtype=np.uint16))
np.save(d + '/u32.npy', np.array([4000000000], dtype=np.uint32))
np.save(d + '/u64.npy', np.array([2**64 - 1], dtype=np.uint64))
np.save(d + '/bool.npy', np.array([[True, False], [False, True]]))
np.save(d + '/empty.npy', np.zeros((0, 3), dtype=np.float32))
np.save(d + '/fortran_1d.npy', np.asfortranarray(np.arange(3, dtype=np.float32).reshape(1, 3)))
np.save(d + '/fortran.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(d + '/big_endian.npy', np.arange(3, dtype='>i4'))
np.save(d + '/complex.npy', np.arange(3, dtype=np.complex64))
for v in [(2, 0), (3, 0)]:
    with open(d + '/v%d.npy' % v[0], 'wb') as f:
        np.lib.format.write_array(f, np.arange(4, dtype=np.float64).reshape(2, 2), version=v)
)"),
            0);

  auto load = [&](const std::string& name) {
    StatusOr<NDArray> a = LoadNpy(dir.File(name));
    EXPECT_TRUE(a.ok()) << name << ": " << a.status().ToString();
    if (a.ok()) {
      // ParseNpy of the same bytes agrees with LoadNpy.
      StatusOr<NDArray> parsed = ParseNpy(ReadFile(dir.File(name)));
      EXPECT_TRUE(parsed.ok());
      if (parsed.ok()) ExpectSameArray(*parsed, *a);
    }
    return a;
  };

  ExpectSameArray(*load("f32.npy"),
                  MakeArray<float>({2, 3}, DataType::Float32(), {0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));
  ExpectSameArray(*load("f64_scalar.npy"), MakeArray<double>({}, DataType::Float64(), {-2.5}));
  ExpectSameArray(*load("f16.npy"),
                  MakeArray<uint16_t>({3}, DataType::Float16(), {0x3c00, 0xc000, 0x3800}));
  ExpectSameArray(*load("i8.npy"), MakeArray<int8_t>({4}, DataType::Int8(), {-128, -1, 0, 127}));
  ExpectSameArray(*load("i16.npy"),
                  MakeArray<int16_t>({2, 1}, DataType{kDLInt, 16, 1}, {-300, 300}));
  std::vector<int32_t> iota(24);
  for (int i = 0; i < 24; ++i) iota[i] = i;
  ExpectSameArray(*load("i32.npy"), MakeArray<int32_t>({2, 3, 4}, DataType::Int32(), iota));
  ExpectSameArray(*load("i64.npy"), MakeArray<int64_t>({2}, DataType::Int64(),
                                                       {-(int64_t{1} << 62), int64_t{1} << 62}));
  ExpectSameArray(*load("u8.npy"), MakeArray<uint8_t>({2}, DataType::UInt8(), {0, 255}));
  ExpectSameArray(*load("u16.npy"), MakeArray<uint16_t>({1}, DataType{kDLUInt, 16, 1}, {65535}));
  ExpectSameArray(*load("u32.npy"),
                  MakeArray<uint32_t>({1}, DataType{kDLUInt, 32, 1}, {4000000000u}));
  ExpectSameArray(*load("u64.npy"),
                  MakeArray<uint64_t>({1}, DataType{kDLUInt, 64, 1}, {UINT64_MAX}));
  ExpectSameArray(*load("bool.npy"), MakeArray<uint8_t>({2, 2}, DataType::Bool(), {1, 0, 0, 1}));
  ExpectSameArray(*load("empty.npy"), MakeArray<float>({0, 3}, DataType::Float32(), {}));
  ExpectSameArray(*load("fortran_1d.npy"),
                  MakeArray<float>({1, 3}, DataType::Float32(), {0, 1, 2}));
  ExpectSameArray(*load("v2.npy"), MakeArray<double>({2, 2}, DataType::Float64(), {0, 1, 2, 3}));
  ExpectSameArray(*load("v3.npy"), MakeArray<double>({2, 2}, DataType::Float64(), {0, 1, 2, 3}));

  for (const char* name : {"fortran.npy", "big_endian.npy", "complex.npy"}) {
    StatusOr<NDArray> a = LoadNpy(dir.File(name));
    ASSERT_FALSE(a.ok()) << name;
    EXPECT_EQ(a.status().code(), StatusCode::kUnimplemented) << a.status().ToString();
  }
}

TEST(NpyNumpyTest, NumpyReadsWhatFerryWrote) {
  if (!HaveNumpy()) GTEST_SKIP() << "/usr/bin/python3 has no numpy";
  TempDir dir;
  std::vector<int32_t> iota(24);
  for (int i = 0; i < 24; ++i) iota[i] = i - 12;
  ASSERT_TRUE(SaveNpy(dir.File("f32.npy"),
                      MakeArray<float>({2, 3}, DataType::Float32(), {0, 0.5f, 1, 1.5f, 2, -2.5f}))
                  .ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("f64_scalar.npy"), MakeArray<double>({}, DataType::Float64(), {7})).ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("f16.npy"), MakeArray<uint16_t>({2}, DataType::Float16(), {0x3c00, 0xc000}))
          .ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("i32.npy"), MakeArray<int32_t>({2, 3, 4}, DataType::Int32(), iota)).ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("i8.npy"), MakeArray<int8_t>({3}, DataType::Int8(), {-5, 0, 5})).ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("u64.npy"), MakeArray<uint64_t>({1}, DataType{kDLUInt, 64, 1}, {UINT64_MAX}))
          .ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("bool.npy"), MakeArray<uint8_t>({3}, DataType::Bool(), {1, 0, 1})).ok());
  ASSERT_TRUE(
      SaveNpy(dir.File("empty.npy"), MakeArray<int64_t>({2, 0}, DataType::Int64(), {})).ok());

  EXPECT_EQ(RunPython(dir, R"(
import sys, numpy as np
d = sys.argv[1]
def check(name, expected):
    a = np.load(d + '/' + name, allow_pickle=False)
    assert a.dtype == expected.dtype, (name, a.dtype, expected.dtype)
    assert a.shape == expected.shape, (name, a.shape, expected.shape)
    assert np.array_equal(a, expected), (name, a, expected)
    assert a.flags['C_CONTIGUOUS']
check('f32.npy', np.array([[0, 0.5, 1], [1.5, 2, -2.5]], dtype=np.float32))
check('f64_scalar.npy', np.float64(7) * np.ones((), dtype=np.float64))
check('f16.npy', np.array([1, -2], dtype=np.float16))
check('i32.npy', (np.arange(24, dtype=np.int32) - 12).reshape(2, 3, 4))
check('i8.npy', np.array([-5, 0, 5], dtype=np.int8))
check('u64.npy', np.array([2**64 - 1], dtype=np.uint64))
check('bool.npy', np.array([True, False, True]))
check('empty.npy', np.zeros((2, 0), dtype=np.int64))
with open(d + '/f32.npy', 'rb') as f:
    assert np.lib.format.read_magic(f) == (1, 0)
)"),
            0);
}

}  // namespace
}  // namespace ferry
