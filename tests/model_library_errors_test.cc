// Bad input to the model library path: files that are not (whole, uncorrupted) Ferry model
// libraries, exports that must fail, and graph builder mistakes. Each must be an error value,
// never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "compiler/export_library.h"
#include "compiler/graph_builder.h"
#include "compiler/zoo.h"
#include "runtime/file_util.h"
#include "runtime/library_module.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using testing::TestLibraries;

// Writes `bytes` to a fresh path in the test directory and returns it.
std::string WriteCopy(const std::string& stem, const std::string& bytes) {
  const std::string path = TestLibraries::Get().UniquePath(stem);
  EXPECT_TRUE(WriteFileAtomically(path, bytes).ok());
  return path;
}

// ---- Loading ----

TEST(LoadModuleErrorTest, MissingFileIsNotFound) {
  const StatusOr<Module> lib = LoadModule(TestLibraries::dir() + "/no_such_library.so");
  EXPECT_EQ(lib.status().code(), StatusCode::kNotFound) << lib.status().ToString();
}

TEST(LoadModuleErrorTest, TruncatedLibrariesAreRejected) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(path));
  ASSERT_GT(bytes.size(), 4096u);
  for (size_t length : {size_t{0}, size_t{10}, size_t{100}, size_t{1000}, bytes.size() / 2,
                        bytes.size() - 1024, bytes.size() - 1}) {
    const std::string copy = WriteCopy("truncated", bytes.substr(0, length));
    const StatusOr<Module> lib = LoadModule(copy);
    EXPECT_EQ(lib.status().code(), StatusCode::kInvalidArgument)
        << length << " bytes: " << lib.status().ToString();
  }
}

TEST(LoadModuleErrorTest, TextFileIsRejected) {
  const std::string path = WriteCopy("text", "this is not a shared library\n");
  const StatusOr<Module> lib = LoadModule(path);
  EXPECT_EQ(lib.status().code(), StatusCode::kInvalidArgument) << lib.status().ToString();
}

TEST(LoadModuleErrorTest, DirectoryIsRejected) {
  const StatusOr<Module> lib = LoadModule(TestLibraries::dir());
  EXPECT_EQ(lib.status().code(), StatusCode::kInvalidArgument) << lib.status().ToString();
}

TEST(LoadModuleErrorTest, ForeignSharedObjectIsNotAFerryLibrary) {
  std::string libm;
  for (const char* candidate :
       {"/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6", "/lib64/libm.so.6"}) {
    if (std::filesystem::exists(candidate)) {
      libm = candidate;
      break;
    }
  }
  if (libm.empty()) GTEST_SKIP() << "no libm.so.6 found";
  const StatusOr<Module> lib = LoadModule(libm);
  EXPECT_EQ(lib.status().code(), StatusCode::kInvalidArgument) << lib.status().ToString();
  EXPECT_NE(lib.status().message().find("not a Ferry model library"), std::string::npos)
      << lib.status().message();
}

TEST(LoadModuleErrorTest, CorruptManifestIsAChecksumMismatch) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(path));
  const size_t magic = bytes.find("FERRYLIB");
  ASSERT_NE(magic, std::string::npos);
  EXPECT_EQ(bytes.find("FERRYLIB", magic + 1), std::string::npos) << "one manifest";
  std::string corrupt = bytes;
  corrupt[magic + 40] = static_cast<char>(corrupt[magic + 40] ^ 0x20);
  const StatusOr<Module> lib = LoadModule(WriteCopy("corrupt", corrupt));
  EXPECT_EQ(lib.status().code(), StatusCode::kInvalidArgument) << lib.status().ToString();
  EXPECT_NE(lib.status().message().find("checksum"), std::string::npos) << lib.status().message();

  // A damaged header: a wrong version.
  std::string bad_version = bytes;
  bad_version[magic + 8] = 9;
  const StatusOr<Module> versioned = LoadModule(WriteCopy("version", bad_version));
  EXPECT_EQ(versioned.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(versioned.status().message().find("version"), std::string::npos)
      << versioned.status().message();

  // The intact bytes under another name still load.
  EXPECT_TRUE(LoadModule(WriteCopy("intact", bytes)).ok());
}

// ---- Exporting ----

TEST(ExportErrorTest, DuplicateKeys) {
  const compiler::Model& mlp = TestLibraries::Get().Model("mlp");
  const compiler::ModelBuild builds[] = {{&mlp, ExecutorKind::kGraph}, {&mlp, ExecutorKind::kAot}};
  const std::string path = TestLibraries::Get().UniquePath("duplicate");
  const Status status = compiler::ExportLibrary(builds, path);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("'mlp'"), std::string::npos) << status.message();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ExportErrorTest, InvalidModels) {
  const std::string path = TestLibraries::Get().UniquePath("invalid");
  EXPECT_EQ(compiler::ExportLibrary({}, path).code(), StatusCode::kInvalidArgument);
  const compiler::ModelBuild null_model[] = {{nullptr, ExecutorKind::kGraph}};
  EXPECT_EQ(compiler::ExportLibrary(null_model, path).code(), StatusCode::kInvalidArgument);

  compiler::Model missing = TestLibraries::Get().Model("mlp");
  missing.params.erase("fc2.weight");
  const compiler::ModelBuild missing_build[] = {{&missing, ExecutorKind::kGraph}};
  Status status = compiler::ExportLibrary(missing_build, path);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("fc2.weight"), std::string::npos) << status.message();

  compiler::Model empty_key = TestLibraries::Get().Model("mlp");
  empty_key.key = "";
  const compiler::ModelBuild empty_build[] = {{&empty_key, ExecutorKind::kGraph}};
  EXPECT_EQ(compiler::ExportLibrary(empty_build, path).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ExportErrorTest, SeparateParamsNeedDistinctNames) {
  compiler::Model a = TestLibraries::Get().Model("mlp");
  compiler::Model b = TestLibraries::Get().Model("mlp");
  b.key = "mlp2";
  const compiler::ModelBuild builds[] = {{&a, ExecutorKind::kGraph}, {&b, ExecutorKind::kGraph}};
  compiler::ExportOptions options;
  options.package_params = false;
  const std::string path = TestLibraries::Get().UniquePath("shared_names");
  const Status status = compiler::ExportLibrary(builds, path, options);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ExportErrorTest, MissingCompilerLeavesNoFile) {
  const compiler::ModelBuild builds[] = {
      {&TestLibraries::Get().Model("mlp"), ExecutorKind::kGraph}};
  compiler::ExportOptions options;
  options.cxx = TestLibraries::dir() + "/no-such-compiler";
  const std::string path = TestLibraries::Get().UniquePath("no_compiler");
  const Status status = compiler::ExportLibrary(builds, path, options);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kInternal)
      << status.ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ExportTest, BundledSeparateParamsServeEveryModel) {
  const compiler::ModelBuild builds[] = {
      {&TestLibraries::Get().Model("mlp"), ExecutorKind::kAot},
      {&TestLibraries::Get().Model("cnn"), ExecutorKind::kGraph}};
  compiler::ExportOptions options;
  options.package_params = false;
  const std::string path = TestLibraries::Get().UniquePath("bundle_separate");
  ASSERT_OK(compiler::ExportLibrary(builds, path, options));
  ASSERT_OK_AND_ASSIGN(std::string params, ReadFile(compiler::ParamsPathFor(path)));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  for (const char* key : {"mlp", "cnn"}) {
    ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, key, Device::Cpu()));
    EXPECT_EQ(executor.Run().code(), StatusCode::kFailedPrecondition);
    ASSERT_OK(executor.LoadParams(params));
    EXPECT_TRUE(executor.Run().ok()) << key;
  }
}

// ---- Graph builder ----

TEST(GraphBuilderErrorTest, UnknownOperatorIsNotFound) {
  compiler::GraphBuilder b("m");
  ASSERT_OK_AND_ASSIGN(compiler::Tensor x, b.Input("data", {1, 4}));
  const StatusOr<compiler::Tensor> y = b.Op("frobnicate", {x});
  EXPECT_EQ(y.status().code(), StatusCode::kNotFound) << y.status().ToString();
  EXPECT_NE(y.status().message().find("frobnicate"), std::string::npos);
}

TEST(GraphBuilderErrorTest, Conv2dChannelMismatchNamesTheNode) {
  compiler::GraphBuilder b("m");
  ASSERT_OK_AND_ASSIGN(compiler::Tensor x, b.Input("data", {1, 3, 8, 8}));
  ASSERT_OK_AND_ASSIGN(compiler::Tensor w, b.Param("w", testing::RandomArray({4, 2, 3, 3}, 1)));
  const StatusOr<compiler::Tensor> y = b.Op("conv2d", {x, w}, {}, "bad_conv");
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument) << y.status().ToString();
  EXPECT_NE(y.status().message().find("bad_conv"), std::string::npos) << y.status().message();
  EXPECT_NE(y.status().message().find("conv2d"), std::string::npos) << y.status().message();
}

TEST(GraphBuilderErrorTest, OtherMistakes) {
  compiler::GraphBuilder b("m");
  ASSERT_OK_AND_ASSIGN(compiler::Tensor x, b.Input("data", {1, 4}));
  EXPECT_EQ(b.Input("data", {1, 4}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Input("neg", {1, -4}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Param("data", testing::RandomArray({4}, 1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Param("null", NDArray()).status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(compiler::Tensor w, b.Param("w", testing::RandomArray({8, 5}, 1)));
  const StatusOr<compiler::Tensor> dense = b.Op("dense", {x, w}, {}, "fc");
  EXPECT_EQ(dense.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dense.status().message().find("fc"), std::string::npos);
  EXPECT_EQ(b.Op("relu", {compiler::Tensor{99}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.Op("relu", {x}, {{"alpha", int64_t{1}}}).status().code(),
            StatusCode::kInvalidArgument);
  // A model output must be computed by a node, once.
  EXPECT_EQ(b.Output(x).code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(compiler::Tensor y, b.Op("relu", {x}, {}, "act"));
  EXPECT_EQ(b.Op("relu", {y}, {}, "act").status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK(b.Output(y));
  EXPECT_EQ(b.Output(y).code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(compiler::Model model, std::move(b).Finish());
  EXPECT_EQ(model.graph.nodes.size(), 1u);
}

TEST(GraphBuilderErrorTest, FinishWithoutOutputs) {
  compiler::GraphBuilder b("m");
  ASSERT_OK_AND_ASSIGN(compiler::Tensor x, b.Input("data", {1, 4}));
  ASSERT_OK(b.Op("relu", {x}).status());
  EXPECT_EQ(std::move(b).Finish().status().code(), StatusCode::kInvalidArgument);
}

TEST(ZooTest, UnknownModelIsNotFound) {
  const StatusOr<compiler::Model> model = compiler::BuildZooModel("resnet");
  EXPECT_EQ(model.status().code(), StatusCode::kNotFound);
  EXPECT_NE(model.status().message().find("mlp"), std::string::npos);
  EXPECT_EQ(compiler::ListZooModels(), (std::vector<std::string>{"mlp", "cnn"}));
}

TEST(ZooTest, SameSeedSameWeights) {
  const compiler::Model a = compiler::BuildZooModel("mlp", 5).value();
  const compiler::Model b = compiler::BuildZooModel("mlp", 5).value();
  const compiler::Model c = compiler::BuildZooModel("mlp", 6).value();
  const NDArray& wa = a.params.at("fc1.weight");
  EXPECT_EQ(testing::MaxAbsDiff(wa, b.params.at("fc1.weight")), 0.0);
  EXPECT_GT(testing::MaxAbsDiff(wa, c.params.at("fc1.weight")), 0.0);
}

}  // namespace
}  // namespace ferry
