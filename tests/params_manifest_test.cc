// Tests of the params format and of the model library manifest.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "compiler/subprocess.h"
#include "runtime/binary_io.h"
#include "runtime/library_manifest.h"
#include "runtime/params.h"
#include "tests/graph_test_util.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using testing::ChainGraph;
using testing::ExpectGraphsEqual;
using testing::SampleParams;
using testing::SmallGraph;

// ---- Params format ----

// The body of a params blob with its CRC recomputed, so the parser gets past the checksum.
std::string WithCrc(std::string body) {
  BinaryWriter writer;
  writer.WriteRaw(body.data(), body.size());
  writer.WriteU32(Crc32(body));
  return writer.Release();
}

TEST(ParamsTest, RoundTrip) {
  const ParamMap params = SampleParams();
  StatusOr<std::string> bytes = SerializeParams(params);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  StatusOr<ParamMap> back = ParseParams(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  testing::ExpectSameParams(params, *back);
  EXPECT_EQ(*SerializeParams(*back), *bytes);
}

TEST(ParamsTest, EmptySetRoundTrips) {
  StatusOr<std::string> bytes = SerializeParams({});
  ASSERT_TRUE(bytes.ok());
  StatusOr<ParamMap> back = ParseParams(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->empty());
}

TEST(ParamsTest, FlippedByteIsAChecksumMismatch) {
  const std::string bytes = SerializeParams(SampleParams()).value();
  // Every byte after the magic and version: corruption anywhere is detected.
  for (size_t i = 12; i < bytes.size(); ++i) {
    std::string corrupt = bytes;
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x10);
    StatusOr<ParamMap> parsed = ParseParams(corrupt);
    ASSERT_FALSE(parsed.ok()) << "byte " << i;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("checksum"), std::string::npos)
        << "byte " << i << ": " << parsed.status().message();
  }
}

TEST(ParamsTest, TruncationIsAnError) {
  const std::string bytes = SerializeParams(SampleParams()).value();
  for (size_t length : {size_t{0}, size_t{3}, size_t{8}, size_t{11}, size_t{12}, size_t{13},
                        size_t{24}, bytes.size() / 2, bytes.size() - 5, bytes.size() - 1}) {
    StatusOr<ParamMap> parsed = ParseParams(std::string_view(bytes).substr(0, length));
    ASSERT_FALSE(parsed.ok()) << length;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << length;
    EXPECT_EQ(parsed.status().message().rfind("params: ", 0), 0u) << parsed.status().message();
  }
}

TEST(ParamsTest, BadMagic) {
  std::string bytes = SerializeParams(SampleParams()).value();
  bytes[0] = 'X';
  StatusOr<ParamMap> parsed = ParseParams(bytes);
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("magic"), std::string::npos)
      << parsed.status().message();
  EXPECT_EQ(ParseParams("not a params file at all").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParamsTest, UnsupportedVersion) {
  std::string bytes = SerializeParams(SampleParams()).value();
  bytes[8] = 7;  // version, little-endian u32 after the magic
  StatusOr<ParamMap> parsed = ParseParams(WithCrc(bytes.substr(0, bytes.size() - 4)));
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("version"), std::string::npos)
      << parsed.status().message();
}

TEST(ParamsTest, TrailingBytesAreRejected) {
  std::string body = SerializeParams(SampleParams()).value();
  body.resize(body.size() - 4);
  body += "junk";
  StatusOr<ParamMap> parsed = ParseParams(WithCrc(body));
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
}

TEST(ParamsTest, HugeDeclaredShapeIsRejectedWithoutAllocating) {
  BinaryWriter writer;
  writer.WriteRaw("FERRYPRM", 8);
  writer.WriteU32(1);
  writer.WriteU64(1);
  writer.WriteString("big");
  writer.WriteU8(kDLFloat);
  writer.WriteU8(32);
  writer.WriteU32(1);
  writer.WriteU64(2);
  writer.WriteI64(int64_t{1} << 30);
  writer.WriteI64(int64_t{1} << 30);
  writer.WriteU64(uint64_t{4} << 60);
  StatusOr<ParamMap> parsed = ParseParams(WithCrc(writer.Release()));
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("big"), std::string::npos) << parsed.status().message();
}

TEST(ParamsTest, DuplicateNamesAreRejected) {
  BinaryWriter writer;
  writer.WriteRaw("FERRYPRM", 8);
  writer.WriteU32(1);
  writer.WriteU64(2);
  for (int i = 0; i < 2; ++i) {
    writer.WriteString("twice");
    writer.WriteU8(kDLFloat);
    writer.WriteU8(32);
    writer.WriteU32(1);
    writer.WriteU64(1);
    writer.WriteI64(1);
    writer.WriteU64(4);
    writer.WriteRaw("\0\0\0\0", 4);
  }
  StatusOr<ParamMap> parsed = ParseParams(WithCrc(writer.Release()));
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("twice"), std::string::npos);
}

TEST(ParamsTest, SaveAndLoadFile) {
  StatusOr<compiler::TempDir> dir = compiler::TempDir::Create("ferry-graph-test-");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  const std::string path = dir->path() + "/model.params";
  ASSERT_TRUE(SaveParams(path, SampleParams()).ok());
  StatusOr<ParamMap> loaded = LoadParams(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  testing::ExpectSameParams(SampleParams(), *loaded);
}

TEST(ParamsTest, LoadMissingFileIsNotFound) {
  StatusOr<compiler::TempDir> dir = compiler::TempDir::Create("ferry-graph-test-");
  ASSERT_TRUE(dir.ok());
  StatusOr<ParamMap> loaded = LoadParams(dir->path() + "/missing.params");
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound) << loaded.status().ToString();
}

// ---- Library manifest ----

LibraryManifest SampleManifest() {
  LibraryManifest manifest;
  ModelRecord graph_model;
  graph_model.key = "small";
  graph_model.executor = ExecutorKind::kGraph;
  graph_model.graph = SmallGraph();
  graph_model.params_packaged = true;
  graph_model.params_bytes = SerializeParams(SampleParams()).value();
  ModelRecord aot_model;
  aot_model.key = "chain";
  aot_model.executor = ExecutorKind::kAot;
  aot_model.graph = ChainGraph(3);
  aot_model.aot_entry = "chain_aot";
  aot_model.workspace_bytes = 8192;
  manifest.models = {graph_model, aot_model};
  return manifest;
}

TEST(LibraryManifestTest, RoundTrip) {
  const LibraryManifest manifest = SampleManifest();
  const std::string blob = SerializeManifest(manifest);
  EXPECT_EQ(blob.substr(0, 8), "FERRYLIB");
  StatusOr<LibraryManifest> back = ParseManifest(blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->models.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const ModelRecord& a = manifest.models[i];
    const ModelRecord& b = back->models[i];
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.executor, b.executor);
    ExpectGraphsEqual(a.graph, b.graph);
    EXPECT_EQ(a.params_packaged, b.params_packaged);
    EXPECT_EQ(a.params_bytes, b.params_bytes);
    EXPECT_EQ(a.aot_entry, b.aot_entry);
    EXPECT_EQ(a.workspace_bytes, b.workspace_bytes);
  }
  EXPECT_EQ(SerializeManifest(*back), blob);
}

TEST(LibraryManifestTest, CorruptPayloadByteIsAChecksumMismatch) {
  const std::string blob = SerializeManifest(SampleManifest());
  for (size_t offset : {size_t{28}, size_t{40}, blob.size() / 2, blob.size() - 1}) {
    std::string corrupt = blob;
    corrupt[offset] = static_cast<char>(corrupt[offset] ^ 0x04);
    StatusOr<LibraryManifest> parsed = ParseManifest(corrupt);
    ASSERT_FALSE(parsed.ok()) << offset;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("checksum"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(LibraryManifestTest, HeaderErrors) {
  const std::string blob = SerializeManifest(SampleManifest());
  std::string bad_magic = blob;
  bad_magic[3] = 'x';
  EXPECT_EQ(ParseManifest(bad_magic).status().code(), StatusCode::kInvalidArgument);
  std::string bad_version = blob;
  bad_version[8] = 3;  // the current version is 2
  StatusOr<LibraryManifest> version = ParseManifest(bad_version);
  EXPECT_EQ(version.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(version.status().message().find("version"), std::string::npos);
  std::string reserved = blob;
  reserved[12] = 1;
  EXPECT_EQ(ParseManifest(reserved).status().code(), StatusCode::kInvalidArgument);
  std::string huge_size = blob;
  huge_size[23] = static_cast<char>(0x7f);  // top byte of the u64 payload size
  EXPECT_EQ(ParseManifest(huge_size).status().code(), StatusCode::kInvalidArgument);
}

TEST(LibraryManifestTest, TruncationIsAnError) {
  const std::string blob = SerializeManifest(SampleManifest());
  for (size_t length : {size_t{0}, size_t{7}, size_t{8}, size_t{27}, size_t{28}, size_t{64},
                        blob.size() / 2, blob.size() - 1}) {
    StatusOr<LibraryManifest> parsed = ParseManifest(std::string_view(blob).substr(0, length));
    ASSERT_FALSE(parsed.ok()) << length;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << length;
    EXPECT_EQ(parsed.status().message().rfind("model library manifest", 0), 0u)
        << parsed.status().message();
  }
}

TEST(LibraryManifestTest, InvalidRecordsAreRejected) {
  LibraryManifest duplicate = SampleManifest();
  duplicate.models[1].key = duplicate.models[0].key;
  StatusOr<LibraryManifest> parsed = ParseManifest(SerializeManifest(duplicate));
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("twice"), std::string::npos);

  LibraryManifest no_entry = SampleManifest();
  no_entry.models[1].aot_entry.clear();
  EXPECT_EQ(ParseManifest(SerializeManifest(no_entry)).status().code(),
            StatusCode::kInvalidArgument);

  LibraryManifest negative = SampleManifest();
  negative.models[1].workspace_bytes = -1;
  EXPECT_EQ(ParseManifest(SerializeManifest(negative)).status().code(),
            StatusCode::kInvalidArgument);

  LibraryManifest bad_graph = SampleManifest();
  bad_graph.models[0].graph.outputs.clear();
  EXPECT_EQ(ParseManifest(SerializeManifest(bad_graph)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LibraryManifestTest, ExecutorKindNames) {
  EXPECT_EQ(ExecutorKindName(ExecutorKind::kGraph), "graph");
  EXPECT_EQ(ExecutorKindName(ExecutorKind::kAot), "aot");
  EXPECT_EQ(ParseExecutorKind("graph").value(), ExecutorKind::kGraph);
  EXPECT_EQ(ParseExecutorKind("aot").value(), ExecutorKind::kAot);
  StatusOr<ExecutorKind> bad = ParseExecutorKind("vm");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("graph"), std::string::npos);
  EXPECT_NE(bad.status().message().find("aot"), std::string::npos);
}

}  // namespace
}  // namespace ferry
