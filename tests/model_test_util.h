// Helpers shared by the model library tests: status assertions, a per-process cache of
// exported zoo libraries in a temporary directory, random inputs and array comparison.
#ifndef FERRY_TESTS_MODEL_TEST_UTIL_H_
#define FERRY_TESTS_MODEL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "compiler/export_library.h"
#include "compiler/model.h"
#include "compiler/subprocess.h"
#include "compiler/zoo.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "runtime/ndarray.h"
#include "runtime/params.h"
#include "runtime/status.h"

#define FERRY_TEST_CONCAT_INNER(a, b) a##b
#define FERRY_TEST_CONCAT(a, b) FERRY_TEST_CONCAT_INNER(a, b)

// ASSERT_OK(status_or_statusor_expr)
#define ASSERT_OK(expr)                                                            \
  do {                                                                             \
    const ::ferry::Status ferry_test_status_ = ::ferry::testing::StatusOf((expr)); \
    ASSERT_TRUE(ferry_test_status_.ok()) << ferry_test_status_.ToString();         \
  } while (0)

// EXPECT_OK(status_or_statusor_expr)
#ifndef EXPECT_OK
#define EXPECT_OK(expr)                                                            \
  do {                                                                             \
    const ::ferry::Status ferry_test_status_ = ::ferry::testing::StatusOf((expr)); \
    EXPECT_TRUE(ferry_test_status_.ok()) << ferry_test_status_.ToString();         \
  } while (0)
#endif

// ASSERT_OK_AND_ASSIGN(auto x, MakeX()); fails the test on an error.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  FERRY_ASSERT_OK_AND_ASSIGN_IMPL(FERRY_TEST_CONCAT(ferry_test_statusor_, __LINE__), lhs, expr)
#define FERRY_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();     \
  lhs = std::move(tmp).value()

namespace ferry::testing {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const StatusOr<T>& s) {
  return s.status();
}

// The zoo libraries the tests use, exported on first use and kept for the process:
//   mlp_graph, mlp_aot, cnn_graph, cnn_aot   one model each
//   bundle                                   mlp (graph executor) + cnn (AOT executor)
//   mlp_separate                             mlp, graph executor, package_params=false
// Every path is unique within the process (dlopen caches libraries by path). The instance is
// never destroyed, so the arrays it holds outlive the device API that frees them.
class TestLibraries {
 public:
  static TestLibraries& Get() {
    static TestLibraries* instance = new TestLibraries();
    return *instance;
  }

  // Removed with its contents when the process exits.
  static const std::string& dir() {
    static const compiler::TempDir dir = compiler::TempDir::Create("ferry-model-test-").value();
    return dir.path();
  }

  // A fresh path in the temporary directory: <dir>/<stem>_<n><suffix>.
  std::string UniquePath(const std::string& stem, const std::string& suffix = ".so") {
    return dir() + "/" + stem + "_" + std::to_string(counter_++) + suffix;
  }

  StatusOr<std::string> Library(const std::string& variant) {
    auto it = cache_.find(variant);
    if (it == cache_.end()) it = cache_.emplace(variant, Export(variant)).first;
    return it->second;
  }

  // The zoo model as the libraries were built from it (default seed).
  const compiler::Model& Model(const std::string& name) {
    auto it = models_.find(name);
    if (it == models_.end())
      it = models_.emplace(name, compiler::BuildZooModel(name).value()).first;
    return it->second;
  }

 private:
  TestLibraries() = default;

  StatusOr<std::string> Export(const std::string& variant) {
    std::vector<compiler::ModelBuild> builds;
    compiler::ExportOptions options;
    if (variant == "mlp_graph") {
      builds = {{&Model("mlp"), ExecutorKind::kGraph}};
    } else if (variant == "mlp_aot") {
      builds = {{&Model("mlp"), ExecutorKind::kAot}};
    } else if (variant == "cnn_graph") {
      builds = {{&Model("cnn"), ExecutorKind::kGraph}};
    } else if (variant == "cnn_aot") {
      builds = {{&Model("cnn"), ExecutorKind::kAot}};
    } else if (variant == "bundle") {
      builds = {{&Model("mlp"), ExecutorKind::kGraph}, {&Model("cnn"), ExecutorKind::kAot}};
    } else if (variant == "mlp_separate") {
      builds = {{&Model("mlp"), ExecutorKind::kGraph}};
      options.package_params = false;
    } else {
      return NotFoundError("no test library variant '" + variant + "'");
    }
    const std::string path = UniquePath(variant);
    RETURN_IF_ERROR(compiler::ExportLibrary(builds, path, options));
    return path;
  }

  int counter_ = 0;
  std::map<std::string, StatusOr<std::string>> cache_;
  std::map<std::string, compiler::Model> models_;
};

// A CPU float32 array with values uniform in [-1, 1), the same for the same seed.
inline NDArray RandomArray(const std::vector<int64_t>& shape, uint32_t seed) {
  NDArray a = NDArray::Empty(shape, DataType::Float32(), Device::Cpu()).value();
  std::mt19937 engine(seed);
  float* data = a.data_as<float>();
  for (int64_t i = 0; i < a.NumElements(); ++i) {
    data[i] = -1.0f + 2.0f * static_cast<float>(engine() >> 8) / static_cast<float>(1 << 24);
  }
  return a;
}

// A CPU uint8 array of `bytes` elements holding a pattern that depends on `seed`.
inline NDArray PatternBytes(size_t bytes, uint32_t seed) {
  NDArray a =
      NDArray::Empty({static_cast<int64_t>(bytes)}, DataType::UInt8(), Device::Cpu()).value();
  uint32_t state = seed;
  for (size_t i = 0; i < bytes; ++i) {
    state = state * 1664525u + 1013904223u;
    a.data_as<uint8_t>()[i] = static_cast<uint8_t>(state >> 24);
  }
  return a;
}

// Whether two host arrays hold the same bytes.
inline bool SameBytes(const NDArray& a, const NDArray& b) {
  return a.NumBytes() == b.NumBytes() && std::memcmp(a.data(), b.data(), a.NumBytes()) == 0;
}

// Expects parameter sets with the same names, shapes, dtypes and bytes, `b`'s on the CPU.
inline void ExpectSameParams(const ParamMap& a, const ParamMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, array] : a) {
    auto it = b.find(name);
    ASSERT_NE(it, b.end()) << name;
    EXPECT_EQ(it->second.shape(), array.shape()) << name;
    EXPECT_EQ(it->second.dtype(), array.dtype()) << name;
    EXPECT_EQ(it->second.device(), Device::Cpu()) << name;
    EXPECT_TRUE(SameBytes(it->second, array)) << name;
  }
}

// Largest |a[i] - b[i]| of two float32 arrays of the same shape (infinity otherwise).
inline double MaxAbsDiff(const NDArray& a, const NDArray& b) {
  if (a.shape() != b.shape() || !(a.dtype() == DataType::Float32()) ||
      !(b.dtype() == DataType::Float32())) {
    return INFINITY;
  }
  double worst = 0;
  for (int64_t i = 0; i < a.NumElements(); ++i) {
    const double d = std::fabs(static_cast<double>(a.data_as<float>()[i]) - b.data_as<float>()[i]);
    if (!(d <= worst)) worst = d;  // NaN propagates as the worst
  }
  return worst;
}

// Loads `library`, creates model `key` on the CPU, runs it on `input` (its only input, "data")
// and returns a copy of output 0.
inline StatusOr<NDArray> RunLibraryModel(const std::string& library, const std::string& key,
                                         const NDArray& input) {
  ASSIGN_OR_RETURN(Module lib, LoadModule(library));
  ASSIGN_OR_RETURN(ExecutorModule executor, ExecutorModule::Create(lib, key, Device::Cpu()));
  RETURN_IF_ERROR(executor.SetInput("data", input));
  RETURN_IF_ERROR(executor.Run());
  ASSIGN_OR_RETURN(NDArray output, executor.GetOutput(0));
  return output.CopyTo(Device::Cpu());
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_MODEL_TEST_UTIL_H_
