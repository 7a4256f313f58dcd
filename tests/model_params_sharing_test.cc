// Packaged parameters used in place: executors of a loaded library read the parameter data
// where the dynamic loader mapped it (read-only), share it, keep it mapped, and never write
// into it (load_params replaces such an array instead).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "runtime/executor_module.h"
#include "runtime/executor_node.h"
#include "runtime/file_util.h"
#include "runtime/library_module.h"
#include "runtime/params.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using testing::RandomArray;
using testing::TestLibraries;

// The mapping of this process that holds `address`: its permissions ("r--p") and file.
struct Mapping {
  std::string perms;
  std::string path;
};
std::optional<Mapping> MappingOf(const void* address) {
  const auto at = reinterpret_cast<uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode, path;
    fields >> range >> perms >> offset >> device >> inode;
    std::getline(fields >> std::ws, path);
    const size_t dash = range.find('-');
    const uintptr_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (at >= start && at < end) return Mapping{perms, path};
  }
  return std::nullopt;
}

// Whether `array`'s data lies in a read-only mapping of the library file `library`.
::testing::AssertionResult InReadOnlyMappingOf(const NDArray& array, const std::string& library) {
  const std::optional<Mapping> mapping = MappingOf(array.data());
  if (!mapping) return ::testing::AssertionFailure() << "data at " << array.data() << " is unmapped";
  if (mapping->path != std::filesystem::canonical(library).string()) {
    return ::testing::AssertionFailure() << "data lies in '" << mapping->path << "'";
  }
  if (mapping->perms.size() < 2 || mapping->perms[1] != '-') {
    return ::testing::AssertionFailure() << "the mapping is " << mapping->perms;
  }
  return ::testing::AssertionSuccess();
}

const ExecutorNode& NodeOf(const ExecutorModule& executor) {
  const auto* node = dynamic_cast<const ExecutorNode*>(executor.module().get());
  FERRY_CHECK(node != nullptr) << "not an executor";
  return *node;
}

std::vector<float> Values(const NDArray& array) {
  const float* data = array.data_as<float>();
  return std::vector<float>(data, data + array.NumElements());
}

StatusOr<std::vector<float>> RunOnce(const ExecutorModule& executor, const NDArray& input) {
  RETURN_IF_ERROR(executor.SetInput("data", input));
  RETURN_IF_ERROR(executor.Run());
  ASSIGN_OR_RETURN(NDArray output, executor.GetOutput(0));
  return Values(output);
}

// A float32 array of `shape` filled with `value`.
NDArray Filled(const std::vector<int64_t>& shape, float value) {
  NDArray array = NDArray::Empty(shape, DataType::Float32(), Device::Cpu()).value();
  std::fill_n(array.data_as<float>(), array.NumElements(), value);
  return array;
}

class PackagedParamsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PackagedParamsTest, ExecutorsShareTheLibrarysReadOnlyMapping) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library(GetParam()));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(lib));
  const ModelRecord& record = manifest->models.at(0);
  ASSERT_TRUE(record.params_packaged);
  EXPECT_TRUE(record.params_bytes.empty()) << "the loader keeps no copy";
  ASSERT_OK_AND_ASSIGN(ExecutorModule first, ExecutorModule::Create(lib, record.key, Device::Cpu()));
  ASSERT_OK_AND_ASSIGN(ExecutorModule second, ExecutorModule::Create(lib, record.key, Device::Cpu()));
  ASSERT_FALSE(record.graph.params.empty());
  for (const NamedEntry& p : record.graph.params) {
    const NDArray a = NodeOf(first).GetParamArray(p.name);
    const NDArray b = NodeOf(second).GetParamArray(p.name);
    ASSERT_FALSE(a.is_null() || b.is_null()) << p.name;
    EXPECT_EQ(a.data(), b.data()) << p.name << ": one copy for both executors";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % kParamsAlignment, 0u) << p.name;
    if (a.NumBytes() > 0) {
      EXPECT_TRUE(InReadOnlyMappingOf(a, path)) << p.name;
    }
  }
  EXPECT_TRUE(NodeOf(first).GetParamArray("no such parameter").is_null());
  // Both run (a write into the mapping would fault) and agree.
  const NDArray input = RandomArray(record.graph.entries[record.graph.inputs[0].entry].shape, 4);
  ASSERT_OK_AND_ASSIGN(std::vector<float> a, RunOnce(first, input));
  ASSERT_OK_AND_ASSIGN(std::vector<float> b, RunOnce(second, input));
  EXPECT_EQ(a, b);
}

INSTANTIATE_TEST_SUITE_P(Libraries, PackagedParamsTest,
                         ::testing::Values("mlp_graph", "mlp_aot", "cnn_graph", "cnn_aot"));

TEST(PackagedParamsLifetimeTest, AnExecutorKeepsTheLibraryMapped) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("cnn_aot"));
  const NDArray input = RandomArray({1, 3, 32, 32}, 6);
  ASSERT_OK_AND_ASSIGN(NDArray expected, testing::RunLibraryModel(path, "cnn", input));
  std::optional<ExecutorModule> executor;
  {
    ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
    ASSERT_OK_AND_ASSIGN(executor, ExecutorModule::Create(lib, "cnn", Device::Cpu()));
  }
  // The library module is gone; the executor's references keep the mapping.
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(LoadModule(path).value()));
  for (const NamedEntry& p : manifest->models[0].graph.params) {
    const NDArray array = NodeOf(*executor).GetParamArray(p.name);
    if (array.NumBytes() > 0) {
      EXPECT_TRUE(InReadOnlyMappingOf(array, path)) << p.name;
    }
  }
  ASSERT_OK_AND_ASSIGN(std::vector<float> output, RunOnce(*executor, input));
  EXPECT_EQ(output, Values(expected));
}

class CopyOnWriteTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CopyOnWriteTest, LoadParamsReplacesOnlyThatExecutorsArray) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library(GetParam()));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule changed, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK_AND_ASSIGN(ExecutorModule other, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  const NDArray input = RandomArray({1, 784}, 9);
  ASSERT_OK_AND_ASSIGN(std::vector<float> original, RunOnce(other, input));

  // Zero the last layer's weight: the output becomes its bias.
  ASSERT_OK(changed.LoadParams(SerializeParams({{"fc3.weight", Filled({10, 64}, 0.0f)}}).value()));
  const NDArray own = NodeOf(changed).GetParamArray("fc3.weight");
  EXPECT_FALSE(InReadOnlyMappingOf(own, path)) << "replaced, not written";
  EXPECT_EQ(Values(own), std::vector<float>(640, 0.0f));
  EXPECT_TRUE(InReadOnlyMappingOf(NodeOf(other).GetParamArray("fc3.weight"), path));
  EXPECT_TRUE(InReadOnlyMappingOf(NodeOf(changed).GetParamArray("fc3.bias"), path));
  ASSERT_OK_AND_ASSIGN(std::vector<float> zeroed, RunOnce(changed, input));
  EXPECT_EQ(zeroed, Values(TestLibraries::Get().Model("mlp").params.at("fc3.bias")));
  ASSERT_OK_AND_ASSIGN(std::vector<float> unchanged, RunOnce(other, input));
  EXPECT_EQ(unchanged, original) << "the other executor still reads the library's weights";

  // The array is the executor's own now: a second load_params writes into it.
  const NDArray& weight = TestLibraries::Get().Model("mlp").params.at("fc3.weight");
  ASSERT_OK(changed.LoadParams(SerializeParams({{"fc3.weight", weight}}).value()));
  EXPECT_EQ(NodeOf(changed).GetParamArray("fc3.weight").data(), own.data());
  ASSERT_OK_AND_ASSIGN(std::vector<float> restored, RunOnce(changed, input));
  EXPECT_EQ(restored, original);
}

INSTANTIATE_TEST_SUITE_P(Executors, CopyOnWriteTest, ::testing::Values("mlp_graph", "mlp_aot"));

TEST(CopyOnWriteTest, RejectedLoadParamsChangesNothing) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  const NDArray input = RandomArray({1, 784}, 10);
  ASSERT_OK_AND_ASSIGN(std::vector<float> original, RunOnce(executor, input));
  const NDArray bias = NodeOf(executor).GetParamArray("fc1.bias");
  // fc1.bias sorts first and is valid; fc3.weight has the wrong shape.
  const ParamMap params = {{"fc1.bias", Filled(bias.shape(), 0.0f)},
                           {"fc3.weight", Filled({1}, 0.0f)}};
  const Status status = executor.LoadParams(SerializeParams(params).value());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find("fc3.weight"), std::string::npos) << status.message();
  EXPECT_EQ(NodeOf(executor).GetParamArray("fc1.bias").data(), bias.data()) << "not applied";
  ASSERT_OK_AND_ASSIGN(std::vector<float> after, RunOnce(executor, input));
  EXPECT_EQ(after, original);
}

TEST(CopyOnWriteTest, SetInputCannotNameAParameter) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  const NDArray bias = NodeOf(executor).GetParamArray("fc1.bias");
  const Status status = executor.SetInput("fc1.bias", Filled(bias.shape(), 1.0f));
  EXPECT_EQ(status.code(), StatusCode::kNotFound) << status.ToString();
  EXPECT_EQ(NodeOf(executor).GetParamArray("fc1.bias").data(), bias.data());
  EXPECT_TRUE(InReadOnlyMappingOf(bias, path));
}

// ---- Damaged parameters in a library ----

// The library's bytes and the offset of its (only) packaged params blob.
struct LibraryBytes {
  std::string bytes;
  size_t manifest = 0;
  size_t params = 0;
};
LibraryBytes ReadLibrary(const std::string& path) {
  LibraryBytes lib;
  lib.bytes = ReadFile(path).value();
  lib.manifest = lib.bytes.find("FERRYLIB");
  lib.params = lib.bytes.find("FERRYPRM", lib.manifest);
  return lib;
}

TEST(DamagedPackagedParamsTest, MalformedHeadersFailLoading) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  const LibraryBytes lib = ReadLibrary(path);
  ASSERT_NE(lib.params, std::string::npos);
  EXPECT_EQ(lib.params % kParamsAlignment, lib.manifest % kParamsAlignment);
  struct Case {
    size_t offset;
    char value;
    const char* says;
  };
  for (const Case& c : {Case{0, 'X', "magic"}, Case{8, 9, "version 9"},
                        // The count's top byte: far more parameters than fit.
                        Case{19, 0x10, "parameter count"}}) {
    std::string bytes = lib.bytes;
    bytes[lib.params + c.offset] = c.value;
    const std::string copy = TestLibraries::Get().UniquePath("damaged_params");
    ASSERT_OK(WriteFileAtomically(copy, bytes));
    const StatusOr<Module> loaded = LoadModule(copy);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument) << loaded.status().ToString();
    EXPECT_NE(loaded.status().message().find("model 'mlp' packaged parameters"), std::string::npos)
        << loaded.status().message();
    EXPECT_NE(loaded.status().message().find(c.says), std::string::npos)
        << loaded.status().message();
  }
}

TEST(DamagedPackagedParamsTest, DataIsNotChecksummedOnLoadButTheVerifyingParseFindsIt) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  LibraryBytes lib = ReadLibrary(path);
  ASSERT_NE(lib.params, std::string::npos);
  // The first parameter (fc1.bias, 128 floats) has its data at 128..640 of the params bytes.
  lib.bytes[lib.params + 300] ^= 0x01;
  const std::string copy = TestLibraries::Get().UniquePath("damaged_data");
  ASSERT_OK(WriteFileAtomically(copy, lib.bytes));
  EXPECT_TRUE(LoadModule(copy).ok()) << "loading reads no parameter data";
  const StatusOr<LibraryManifest> verified =
      ParseManifest(std::string_view(lib.bytes).substr(lib.manifest));
  EXPECT_NE(verified.status().message().find("params: checksum mismatch"), std::string::npos)
      << verified.status().ToString();
}

}  // namespace
}  // namespace ferry
