// Torchvision models end to end against PyTorch: tests/onnx/export_torchvision.py exports
// resnet18, mobilenet_v2 and squeezenet1_1 (fixed random weights) to ONNX together with an
// input and PyTorch's output for it; each model is imported, built into a library with the
// graph and with the AOT executor, loaded, run on that input and compared with PyTorch.
//
// The script runs under Debian's /usr/bin/python3 (python3-torch, python3-torchvision). Without
// that interpreter, or when the script reports the packages missing (exit code 3), every test
// is skipped with the reason. ctest runs each test in a process of its own, so each model is
// exported on first use (`--model NAME`), not all three up front, and kept for the process.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/export_library.h"
#include "compiler/model.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/subprocess.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "runtime/npy.h"
#include "tests/model_test_util.h"

#ifndef FERRY_EXPORT_TORCHVISION_SCRIPT
#error "FERRY_EXPORT_TORCHVISION_SCRIPT must name tests/onnx/export_torchvision.py"
#endif

namespace ferry {
namespace {

using compiler::onnx_import::ImportOnnxFile;
using compiler::onnx_import::OnnxImportOptions;

constexpr char kPython[] = "/usr/bin/python3";
constexpr std::chrono::minutes kExportTimeout{5};
// The script's "torch or torchvision is missing" exit code.
constexpr int kMissingPackagesExitCode = 3;
// |ferry - torch| <= kAbsTolerance + kRelTolerance * |torch|, element by element.
constexpr double kAbsTolerance = 1e-5;
constexpr double kRelTolerance = 1e-4;

// What the script wrote for one model.
struct TorchvisionExport {
  std::string onnx_path;
  NDArray input;   // float32[1, 3, 224, 224]
  NDArray output;  // PyTorch's output for `input`
};

// The outcome of exporting one model: skipped (PyTorch is not available), failed, or done.
struct ExportOutcome {
  std::string skip_reason;  // non-empty: nothing was exported, the test should skip
  StatusOr<TorchvisionExport> result = InternalError("not exported");
};

// The exports of this process, each made when first asked for. The instance is never destroyed
// (it holds arrays; see TestLibraries); the directory is, at exit.
class TorchvisionExports {
 public:
  static TorchvisionExports& Get() {
    static TorchvisionExports* instance = new TorchvisionExports();
    return *instance;
  }

  const ExportOutcome& Model(const std::string& name) {
    auto it = outcomes_.find(name);
    if (it == outcomes_.end()) it = outcomes_.emplace(name, Export(name)).first;
    return it->second;
  }

  // Removed with its contents when the process exits.
  static const std::string& dir() {
    static const compiler::TempDir dir =
        compiler::TempDir::Create("ferry-torchvision-test-").value();
    return dir.path();
  }

 private:
  TorchvisionExports() = default;

  ExportOutcome Export(const std::string& name) {
    ExportOutcome outcome;
    if (!std::filesystem::exists(kPython)) {
      outcome.skip_reason = std::string(kPython) + " is not installed";
      return outcome;
    }
    const std::string out_dir = dir() + "/" + name;
    StatusOr<compiler::ProcessResult> run =
        compiler::RunProcess({kPython, FERRY_EXPORT_TORCHVISION_SCRIPT, out_dir, "--model", name},
                             out_dir + ".log", kExportTimeout);
    if (!run.ok()) {
      outcome.result = run.status().WithContext("export_torchvision.py " + name);
      return outcome;
    }
    if (!run->signalled && run->exit_code == kMissingPackagesExitCode) {
      std::string why = run->output;
      while (!why.empty() && std::isspace(static_cast<unsigned char>(why.back()))) why.pop_back();
      outcome.skip_reason = "PyTorch is not available: " + why;
      return outcome;
    }
    if (run->signalled || run->exit_code != 0) {
      outcome.result = InternalError("export_torchvision.py " + name + " failed (exit " +
                                     std::to_string(run->exit_code) + ", signal " +
                                     std::to_string(run->signal) + "):\n" + run->output);
      return outcome;
    }
    TorchvisionExport e;
    e.onnx_path = out_dir + "/" + name + ".onnx";
    StatusOr<NDArray> input = LoadNpy(out_dir + "/" + name + ".input.npy");
    StatusOr<NDArray> output = LoadNpy(out_dir + "/" + name + ".output.npy");
    if (!input.ok()) {
      outcome.result = input.status();
    } else if (!output.ok()) {
      outcome.result = output.status();
    } else {
      e.input = *std::move(input);
      e.output = *std::move(output);
      outcome.result = std::move(e);
    }
    return outcome;
  }

  std::map<std::string, ExportOutcome> outcomes_;
};

// Exports `name` (or finds it exported) into `*out`; skips the calling test when PyTorch is
// not available and fails it when the export fails. Use through ASSERT_NO_FATAL_FAILURE and
// return when IsSkipped().
void GetExport(const std::string& name, const TorchvisionExport** out) {
  const ExportOutcome& outcome = TorchvisionExports::Get().Model(name);
  if (!outcome.skip_reason.empty()) GTEST_SKIP() << outcome.skip_reason;
  ASSERT_OK(outcome.result);
  *out = &outcome.result.value();
}

// Whether float32 `actual` matches `expected` in shape and element by element within
// kAbsTolerance + kRelTolerance * |expected|; on failure names the worst element (the one
// furthest past its allowance) and how many are out of tolerance.
::testing::AssertionResult AllClose(const NDArray& actual, const NDArray& expected) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure()
           << "shape " << TensorInfo{actual.shape(), actual.dtype()}.ToString() << ", expected "
           << TensorInfo{expected.shape(), expected.dtype()}.ToString();
  }
  if (!(actual.dtype() == DataType::Float32()) || !(expected.dtype() == DataType::Float32())) {
    return ::testing::AssertionFailure() << "not float32";
  }
  const float* a = actual.data_as<float>();
  const float* e = expected.data_as<float>();
  int64_t bad = 0, worst = -1;
  double worst_ratio = 0, max_abs_diff = 0;
  for (int64_t i = 0; i < actual.NumElements(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - e[i]);
    const double allowed = kAbsTolerance + kRelTolerance * std::fabs(static_cast<double>(e[i]));
    const double ratio = diff / allowed;
    if (!(diff <= max_abs_diff)) max_abs_diff = diff;
    if (!(diff <= allowed)) ++bad;
    if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;  // NaN is the worst
  }
  if (bad == 0) {
    return ::testing::AssertionSuccess()
           << "max |diff| " << max_abs_diff << ", worst diff/allowed " << worst_ratio;
  }
  return ::testing::AssertionFailure()
         << bad << " of " << actual.NumElements() << " elements out of tolerance (" << kAbsTolerance
         << " + " << kRelTolerance << " * |torch|); worst: element " << worst << ", ferry "
         << a[worst] << ", torch " << e[worst] << ", |diff| "
         << std::fabs(static_cast<double>(a[worst]) - e[worst]) << " = " << worst_ratio
         << " x allowed";
}

std::map<std::string, int> CountOps(const compiler::Model& model) {
  std::map<std::string, int> counts;
  for (const GraphNode& node : model.graph.nodes) ++counts[node.op];
  return counts;
}

std::string Describe(const std::map<std::string, int>& counts) {
  std::ostringstream s;
  for (const auto& [op, n] : counts) s << op << " x" << n << " ";
  return s.str();
}

// ---- Each model x each executor against PyTorch ----

struct TorchvisionCase {
  const char* model;
  const char* executor;  // "graph" or "aot"
};

void PrintTo(const TorchvisionCase& c, std::ostream* os) { *os << c.model << "/" << c.executor; }

class TorchvisionTest : public ::testing::TestWithParam<TorchvisionCase> {};

TEST_P(TorchvisionTest, MatchesPyTorch) {
  const std::string model_name = GetParam().model;
  const std::string executor_name = GetParam().executor;
  const TorchvisionExport* exported = nullptr;
  ASSERT_NO_FATAL_FAILURE(GetExport(model_name, &exported));
  if (IsSkipped()) return;

  OnnxImportOptions options;
  options.key = model_name;
  ASSERT_OK_AND_ASSIGN(const compiler::Model model, ImportOnnxFile(exported->onnx_path, options));
  const compiler::ModelBuild build{
      &model, executor_name == "aot" ? ExecutorKind::kAot : ExecutorKind::kGraph};
  const std::string library =
      TorchvisionExports::Get().dir() + "/" + model_name + "_" + executor_name + ".so";
  ASSERT_OK(compiler::ExportLibrary(std::span<const compiler::ModelBuild>(&build, 1), library));

  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(library));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor,
                       ExecutorModule::Create(lib, model_name, Device::Cpu()));
  EXPECT_EQ(executor.module().type_key(), executor_name + "_executor");
  ASSERT_OK(executor.SetInput("data", exported->input));
  ASSERT_OK(executor.Run());
  ASSERT_OK_AND_ASSIGN(NDArray output, executor.GetOutput(0));
  ASSERT_OK_AND_ASSIGN(output, output.CopyTo(Device::Cpu()));
  EXPECT_EQ(output.shape(), (std::vector<int64_t>{1, 1000}));
  EXPECT_TRUE(AllClose(output, exported->output));
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionTest,
                         ::testing::Values(TorchvisionCase{"resnet18", "graph"},
                                           TorchvisionCase{"resnet18", "aot"},
                                           TorchvisionCase{"mobilenet_v2", "graph"},
                                           TorchvisionCase{"mobilenet_v2", "aot"},
                                           TorchvisionCase{"squeezenet1_1", "graph"},
                                           TorchvisionCase{"squeezenet1_1", "aot"}),
                         [](const auto& info) {
                           return std::string(info.param.model) + "_" + info.param.executor;
                         });

// ---- What import does to resnet18's graph ----

// PyTorch's exporter already folds batch norm into the convolutions; Ferry's passes then fuse
// each ReLU that follows a convolution into the convolution's epilogue, and the classifier's
// bias add into its dense node. What stays standalone is the ReLU after each residual add (an
// add of two feature maps is not an epilogue).
TEST(TorchvisionImportTest, Resnet18FusesEveryConvolutionRelu) {
  const TorchvisionExport* exported = nullptr;
  ASSERT_NO_FATAL_FAILURE(GetExport("resnet18", &exported));
  if (IsSkipped()) return;

  OnnxImportOptions options;
  options.key = "resnet18";
  options.optimize = false;
  ASSERT_OK_AND_ASSIGN(const compiler::Model plain, ImportOnnxFile(exported->onnx_path, options));
  options.optimize = true;
  ASSERT_OK_AND_ASSIGN(const compiler::Model fused, ImportOnnxFile(exported->onnx_path, options));

  const std::map<std::string, int> plain_ops = CountOps(plain);
  const std::map<std::string, int> fused_ops = CountOps(fused);
  SCOPED_TRACE("without passes: " + Describe(plain_ops) + "\nwith passes: " + Describe(fused_ops));
  // resnet18: 20 convolutions, 9 of them followed directly by a ReLU; 8 residual adds, each
  // followed by a ReLU; the classifier's Gemm, imported as dense + add.
  EXPECT_EQ(plain_ops.at("conv2d"), 20);
  EXPECT_EQ(plain_ops.at("relu"), 17);
  EXPECT_EQ(plain_ops.at("add"), 9);
  EXPECT_EQ(plain_ops.count("batch_norm"), 0u);
  EXPECT_EQ(fused_ops.at("conv2d"), 20);
  EXPECT_EQ(fused_ops.at("relu"), 8);
  EXPECT_EQ(fused_ops.at("add"), 8);
  EXPECT_EQ(fused_ops.at("dense"), 1);
  EXPECT_EQ(fused_ops.count("batch_norm"), 0u);
  EXPECT_EQ(fused.graph.nodes.size(), plain.graph.nodes.size() - 10);

  // Every ReLU left reads the output of a residual add, never a convolution's.
  std::map<uint32_t, std::string> producer;  // entry -> op of the node that writes it
  for (const GraphNode& node : fused.graph.nodes) {
    for (uint32_t out : node.outputs) producer[out] = node.op;
  }
  for (const GraphNode& node : fused.graph.nodes) {
    if (node.op != "relu") continue;
    ASSERT_EQ(node.inputs.size(), 1u) << node.name;
    EXPECT_EQ(producer[node.inputs[0]], "add") << node.name;
  }
}

}  // namespace
}  // namespace ferry
