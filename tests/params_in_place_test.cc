// The formats behind using a library's parameters in place: params version 2 (aligned data),
// ParseParamsInPlace, manifest version 2 (parameters after the records, outside the
// checksum), ParseManifestInPlace, and reading both formats' version 1.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "runtime/binary_io.h"
#include "runtime/library_manifest.h"
#include "runtime/params.h"
#include "tests/graph_test_util.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using testing::SampleParams;
using testing::SmallGraph;

// `bytes` copied to `misalign` bytes past a 64-byte-aligned address. The buffer lives as long
// as the returned array.
struct PlacedBytes {
  NDArray buffer;
  std::string_view bytes;
};
PlacedBytes Place(std::string_view bytes, size_t misalign = 0) {
  NDArray buffer =
      NDArray::Empty({static_cast<int64_t>(bytes.size() + misalign + 1)}, DataType::UInt8(),
                     Device::Cpu())
          .value();
  char* at = buffer.data_as<char>() + misalign;
  std::memcpy(at, bytes.data(), bytes.size());
  return {buffer, std::string_view(at, bytes.size())};
}

bool Inside(const void* p, std::string_view range) {
  const char* c = static_cast<const char*>(p);
  return c >= range.data() && c < range.data() + range.size();
}

// An Object that records its destruction.
class Sentinel : public Object {
 public:
  explicit Sentinel(bool* destroyed) : destroyed_(destroyed) {}
  ~Sentinel() override { *destroyed_ = true; }

 private:
  bool* destroyed_;
};

// The params format of version 1 (no padding), as builds before version 2 wrote it.
std::string Version1Params(const ParamMap& params) {
  BinaryWriter w;
  w.WriteRaw("FERRYPRM", 8);
  w.WriteU32(1);
  w.WriteU64(params.size());
  for (const auto& [name, array] : params) {
    w.WriteString(name);
    w.WriteU8(array.dtype().code);
    w.WriteU8(array.dtype().bits);
    w.WriteU32(array.dtype().lanes);
    w.WriteU64(array.shape().size());
    for (int64_t d : array.shape()) w.WriteI64(d);
    w.WriteU64(array.NumBytes());
    w.WriteRaw(array.data(), array.NumBytes());
  }
  w.WriteU32(Crc32(w.buffer()));
  return w.Release();
}

// ---- Params ----

TEST(ParamsVersion2Test, EveryArrayIsAlignedWithinTheBytes) {
  const std::string bytes = SerializeParams(SampleParams()).value();
  EXPECT_EQ(bytes[8], 2) << "version";
  const PlacedBytes placed = Place(bytes);
  StatusOr<ParamMap> params = ParseParamsInPlace(placed.bytes, nullptr);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  testing::ExpectSameParams(*params, SampleParams());
  for (const auto& [name, array] : *params) {
    const auto offset = static_cast<const char*>(array.data()) - placed.bytes.data();
    EXPECT_EQ(offset % kParamsAlignment, 0u) << name << " at " << offset;
  }
}

TEST(ParamsInPlaceTest, AlignedBytesAreReferencedAndKeepTheOwnerAlive) {
  const PlacedBytes placed = Place(SerializeParams(SampleParams()).value());
  bool destroyed = false;
  ObjectPtr<Object> owner = MakeObject<Sentinel>(&destroyed);
  StatusOr<ParamMap> params = ParseParamsInPlace(placed.bytes, owner);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  testing::ExpectSameParams(*params, SampleParams());
  for (const auto& [name, array] : *params) {
    if (array.NumBytes() == 0) continue;
    EXPECT_TRUE(Inside(array.data(), placed.bytes)) << name << " was copied";
    EXPECT_EQ(array.device(), Device::Cpu());
  }
  owner = nullptr;
  EXPECT_FALSE(destroyed) << "the arrays hold the owner";
  params->clear();
  EXPECT_TRUE(destroyed) << "the last array released the owner";
}

TEST(ParamsInPlaceTest, UnalignedBytesAreCopied) {
  const PlacedBytes placed = Place(SerializeParams(SampleParams()).value(), 8);
  StatusOr<ParamMap> params = ParseParamsInPlace(placed.bytes, nullptr);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  testing::ExpectSameParams(*params, SampleParams());
  for (const auto& [name, array] : *params) {
    EXPECT_FALSE(Inside(array.data(), placed.bytes)) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(array.data()) % kAllocAlignment, 0u) << name;
  }
}

TEST(ParamsInPlaceTest, TheChecksumIsNotComparedButTheStructureIs) {
  std::string bytes = SerializeParams(SampleParams()).value();
  // The last data byte before the CRC belongs to "steps" (sorted: empty, layer.weight, scale,
  // steps): a data byte, not structure.
  bytes[bytes.size() - 5] ^= 0x01;
  EXPECT_NE(ParseParams(bytes).status().message().find("checksum"), std::string::npos);
  const PlacedBytes placed = Place(bytes);
  StatusOr<ParamMap> params = ParseParamsInPlace(placed.bytes, nullptr);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_NE(params->at("steps").data_as<int64_t>()[3], SampleParams().at("steps").data_as<int64_t>()[3]);

  // Structure errors are still errors: truncation, a bad magic, an unknown version.
  const std::string good = SerializeParams(SampleParams()).value();
  for (size_t length : {size_t{0}, size_t{11}, size_t{40}, good.size() / 2, good.size() - 5}) {
    const PlacedBytes cut = Place(std::string_view(good).substr(0, length));
    StatusOr<ParamMap> parsed = ParseParamsInPlace(cut.bytes, nullptr);
    ASSERT_FALSE(parsed.ok()) << length;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().rfind("params: ", 0), 0u) << parsed.status().message();
  }
  std::string version = good;
  version[8] = 7;
  const PlacedBytes bad = Place(version);
  EXPECT_NE(ParseParamsInPlace(bad.bytes, nullptr).status().message().find("version 7"),
            std::string::npos);
}

TEST(ParamsInPlaceTest, NonZeroPaddingIsRejected) {
  std::string bytes = SerializeParams(SampleParams()).value();
  // The first entry ("empty", float32[0, 3]) ends its header at byte 8+4+8 + 8+5 + 1+1+4 +
  // 8+16 + 8 = 71; its padding runs to 128.
  ASSERT_EQ(bytes[100], '\0');
  bytes[100] = 1;
  const PlacedBytes placed = Place(bytes);
  StatusOr<ParamMap> parsed = ParseParamsInPlace(placed.bytes, nullptr);
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("padding"), std::string::npos)
      << parsed.status().message();
}

TEST(ParamsVersion1Test, StillParsesBothWays) {
  const std::string bytes = Version1Params(SampleParams());
  StatusOr<ParamMap> copied = ParseParams(bytes);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  testing::ExpectSameParams(*copied, SampleParams());
  const PlacedBytes placed = Place(bytes);
  StatusOr<ParamMap> in_place = ParseParamsInPlace(placed.bytes, nullptr);
  ASSERT_TRUE(in_place.ok()) << in_place.status().ToString();
  testing::ExpectSameParams(*in_place, SampleParams());
  // Re-serialising writes version 2.
  EXPECT_EQ(SerializeParams(*copied).value(), SerializeParams(SampleParams()).value());
}

// ---- Manifest ----

LibraryManifest TwoModels() {
  LibraryManifest manifest;
  ModelRecord a;
  a.key = "a";
  a.graph = SmallGraph();
  a.params_packaged = true;
  a.params_bytes = SerializeParams(SampleParams()).value();
  ModelRecord none;
  none.key = "none";
  none.graph = SmallGraph();
  ModelRecord b = a;
  b.key = "b";
  b.params_bytes = SerializeParams({{"bias", SampleParams().at("layer.weight")}}).value();
  manifest.models = {a, none, b};
  return manifest;
}

TEST(ManifestVersion2Test, ParamsLieAlignedAfterTheRecordsAndAreReferenced) {
  const LibraryManifest manifest = TwoModels();
  const std::string serialized = SerializeManifest(manifest);
  EXPECT_EQ(serialized[8], 2) << "version";
  const PlacedBytes blob = Place(serialized);
  StatusOr<LibraryManifest> parsed = ParseManifestInPlace(blob.bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->models.size(), 3u);
  size_t previous_end = 0;  // offsets from the blob's start
  for (size_t i = 0; i < 3; ++i) {
    const ModelRecord& m = parsed->models[i];
    EXPECT_TRUE(m.params_bytes.empty()) << m.key << ": not copied";
    EXPECT_EQ(m.packaged_params(), manifest.models[i].params_bytes) << m.key;
    if (!m.params_packaged) {
      EXPECT_EQ(m.params_in_blob.data(), nullptr);
      continue;
    }
    ASSERT_TRUE(Inside(m.params_in_blob.data(), blob.bytes)) << m.key;
    const size_t offset = static_cast<size_t>(m.params_in_blob.data() - blob.bytes.data());
    EXPECT_EQ(offset % kParamsAlignment, 0u) << m.key;
    EXPECT_GT(offset, previous_end) << m.key << ": after the records and the previous model's";
    previous_end = offset + m.params_in_blob.size();
  }
  EXPECT_EQ(previous_end, blob.bytes.size()) << "the data ends the blob";
  // And every array of them is aligned in memory, so ParseParamsInPlace references it.
  StatusOr<ParamMap> params = ParseParamsInPlace(parsed->models[0].params_in_blob, nullptr);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  for (const auto& [name, array] : *params) {
    if (array.NumBytes() > 0) {
      EXPECT_TRUE(Inside(array.data(), blob.bytes)) << name;
    }
  }
  // The copying parse gives the same records, owning their bytes.
  StatusOr<LibraryManifest> copied = ParseManifest(serialized);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(copied->models[i].params_bytes, manifest.models[i].params_bytes);
    EXPECT_EQ(copied->models[i].params_in_blob.data(), nullptr);
  }
  EXPECT_EQ(SerializeManifest(*parsed), serialized);
  EXPECT_EQ(SerializeManifest(*copied), serialized);
}

TEST(ManifestVersion2Test, ParamBytesAreOutsideTheHeaderChecksum) {
  std::string serialized = SerializeManifest(TwoModels());
  serialized[serialized.size() - 5] ^= 0x02;  // a data byte of the last model's params
  StatusOr<LibraryManifest> verified = ParseManifest(serialized);
  EXPECT_EQ(verified.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(verified.status().message().find("model 2: params: checksum"), std::string::npos)
      << verified.status().message();
  EXPECT_TRUE(ParseManifestInPlace(serialized).ok()) << "loading does not read the data";
  // The records still are covered.
  std::string records = SerializeManifest(TwoModels());
  records[40] ^= 0x02;
  EXPECT_NE(ParseManifestInPlace(records).status().message().find("checksum"), std::string::npos);
}

// A version 2 blob of one model of SmallGraph whose record places its params at
// `offset`+`size`; `data` follows the records (after zero padding up to `data_at`).
std::string Version2Blob(bool packaged, uint64_t offset, uint64_t size, uint64_t data_at,
                         std::string_view data) {
  BinaryWriter payload;
  payload.WriteU64(1);
  payload.WriteString("m");
  payload.WriteU8(0);
  SmallGraph().Serialize(payload);
  payload.WriteU8(packaged ? 1 : 0);
  payload.WriteU64(offset);
  payload.WriteU64(size);
  payload.WriteString("");
  payload.WriteI64(0);
  BinaryWriter blob;
  blob.WriteRaw("FERRYLIB", 8);
  blob.WriteU32(2);
  blob.WriteU32(0);
  blob.WriteU64(payload.size());
  blob.WriteU32(Crc32(payload.buffer()));
  blob.WriteRaw(payload.buffer().data(), payload.size());
  if (blob.size() < data_at) blob.buffer().resize(data_at, '\0');
  blob.WriteRaw(data.data(), data.size());
  return blob.Release();
}

TEST(ManifestVersion2Test, MisplacedParamsAreRejected) {
  const std::string params = SerializeParams({{"bias", SampleParams().at("layer.weight")}}).value();
  const std::string good = Version2Blob(true, 1024, params.size(), 1024, params);
  ASSERT_TRUE(ParseManifest(good).ok()) << ParseManifest(good).status().ToString();
  struct Case {
    std::string blob;
    const char* says;
  };
  const Case cases[] = {
      {Version2Blob(true, 1000, params.size(), 1000, params), "multiple of 64"},
      {Version2Blob(true, 1024, params.size() + 1, 1024, params), "past the end"},
      {Version2Blob(true, uint64_t{1} << 62, params.size(), 1024, params), "past the end"},
      {Version2Blob(true, 1024, ~uint64_t{0} - 512, 1024, params), "past the end"},
      {Version2Blob(true, 0, params.size(), 1024, params), "overlap the records"},
      {Version2Blob(false, 1024, params.size(), 1024, params), "not packaged"},
  };
  for (const Case& c : cases) {
    for (auto parse : {&ParseManifest, &ParseManifestInPlace}) {
      StatusOr<LibraryManifest> parsed = parse(c.blob);
      ASSERT_FALSE(parsed.ok()) << c.says;
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(parsed.status().message().rfind("model library manifest", 0), 0u)
          << parsed.status().message();
      EXPECT_NE(parsed.status().message().find(c.says), std::string::npos)
          << parsed.status().message();
    }
  }
  // Truncated anywhere in the parameter data: an error, never a read past the end.
  for (size_t length : {size_t{1024}, size_t{1030}, good.size() - 1}) {
    StatusOr<LibraryManifest> parsed = ParseManifestInPlace(std::string_view(good).substr(0, length));
    EXPECT_NE(parsed.status().message().find("past the end"), std::string::npos) << length;
  }
}

// The manifest format of version 1 (params inline, inside the checksum).
std::string Version1Blob(const LibraryManifest& manifest) {
  BinaryWriter payload;
  payload.WriteU64(manifest.models.size());
  for (const ModelRecord& m : manifest.models) {
    payload.WriteString(m.key);
    payload.WriteU8(static_cast<uint8_t>(m.executor));
    m.graph.Serialize(payload);
    payload.WriteU8(m.params_packaged ? 1 : 0);
    payload.WriteString(m.params_bytes);
    payload.WriteString(m.aot_entry);
    payload.WriteI64(m.workspace_bytes);
  }
  BinaryWriter blob;
  blob.WriteRaw("FERRYLIB", 8);
  blob.WriteU32(1);
  blob.WriteU32(0);
  blob.WriteU64(payload.size());
  blob.WriteU32(Crc32(payload.buffer()));
  blob.WriteRaw(payload.buffer().data(), payload.size());
  return blob.Release();
}

TEST(ManifestVersion1Test, StillParsesBothWays) {
  LibraryManifest manifest = TwoModels();
  for (ModelRecord& m : manifest.models) {
    if (m.params_packaged) m.params_bytes = Version1Params(ParseParams(m.params_bytes).value());
  }
  const std::string v1 = Version1Blob(manifest);
  StatusOr<LibraryManifest> copied = ParseManifest(v1);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  const PlacedBytes blob = Place(v1);
  StatusOr<LibraryManifest> in_place = ParseManifestInPlace(blob.bytes);
  ASSERT_TRUE(in_place.ok()) << in_place.status().ToString();
  for (size_t i = 0; i < manifest.models.size(); ++i) {
    EXPECT_EQ(copied->models[i].params_bytes, manifest.models[i].params_bytes);
    EXPECT_EQ(in_place->models[i].packaged_params(),
              manifest.models[i].params_packaged ? manifest.models[i].params_bytes : "");
  }
  StatusOr<ParamMap> params = ParseParamsInPlace(in_place->models[0].packaged_params(), nullptr);
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  testing::ExpectSameParams(*params, SampleParams());
  // Version 1's checksum covers its parameters, and loading verifies it.
  std::string corrupt = v1;
  corrupt[corrupt.size() - 40] ^= 0x01;
  EXPECT_NE(ParseManifestInPlace(corrupt).status().message().find("checksum"), std::string::npos);
}

// Found by library_manifest_fuzz: a version 1 manifest whose header checksum holds but whose
// parameters' own does not was accepted by the verifying parse, and the version 2 manifest it
// serialised to was then refused. The verifying parse checks both, as for version 2.
TEST(ManifestVersion1Test, TheVerifyingParseChecksTheParametersOwnChecksum) {
  LibraryManifest manifest = TwoModels();
  ModelRecord& packaged = manifest.models[0];
  ASSERT_TRUE(packaged.params_packaged);
  packaged.params_bytes = Version1Params(ParseParams(packaged.params_bytes).value());
  packaged.params_bytes.back() ^= 0x01;  // the params' CRC-32, inside the header's checksum
  const std::string v1 = Version1Blob(manifest);
  StatusOr<LibraryManifest> verified = ParseManifest(v1);
  EXPECT_EQ(verified.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(verified.status().message().find("params: checksum mismatch"), std::string::npos)
      << verified.status().ToString();
  // Loading relies on the header's checksum, which holds.
  const PlacedBytes blob = Place(v1);
  EXPECT_TRUE(ParseManifestInPlace(blob.bytes).ok());
}

}  // namespace
}  // namespace ferry
