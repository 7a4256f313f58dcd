// End-to-end tests of model libraries: export_library builds the zoo models into shared
// objects, load_module loads them, and the graph and AOT executors run them. Results are
// checked against plain C++ references (model_reference.h) and against each other.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "compiler/export_library.h"
#include "runtime/executor_module.h"
#include "runtime/file_util.h"
#include "runtime/library_module.h"
#include "runtime/params.h"
#include "runtime/value.h"
#include "tests/model_reference.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using testing::MaxAbsDiff;
using testing::RandomArray;
using testing::RunLibraryModel;
using testing::TestLibraries;

std::vector<int64_t> InputShape(const std::string& model) {
  return model == "mlp" ? std::vector<int64_t>{1, 784} : std::vector<int64_t>{1, 3, 32, 32};
}

std::vector<double> Reference(const std::string& model, const NDArray& input) {
  const compiler::Model& m = TestLibraries::Get().Model(model);
  return model == "mlp" ? testing::ReferenceMlp(m, input) : testing::ReferenceCnn(m, input);
}

void ExpectMatchesReference(const NDArray& output, const std::vector<double>& reference,
                            double tolerance) {
  ASSERT_EQ(output.shape(), (std::vector<int64_t>{1, static_cast<int64_t>(reference.size())}));
  ASSERT_EQ(output.dtype(), DataType::Float32());
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_NEAR(output.data_as<float>()[i], reference[i],
                tolerance * std::max(1.0, std::fabs(reference[i])))
        << "element " << i;
  }
}

// ---- Each zoo model x each executor ----

struct ModelCase {
  const char* model;
  const char* executor;
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.model << "/" << c.executor; }

class ZooModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ZooModelTest, MatchesPlainReference) {
  const std::string model = GetParam().model;
  const std::string variant = model + "_" + GetParam().executor;
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library(variant));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, model, Device::Cpu()));
  EXPECT_EQ(executor.module().type_key(), std::string(GetParam().executor) + "_executor");
  for (uint32_t seed : {1u, 2u}) {
    const NDArray input = RandomArray(InputShape(model), seed);
    ASSERT_OK(executor.SetInput("data", input));
    ASSERT_OK(executor.Run());
    ASSERT_OK_AND_ASSIGN(NDArray output, executor.GetOutput(0));
    ExpectMatchesReference(output, Reference(model, input), 1e-4);
    if (model == "cnn") {
      double sum = 0;
      for (int i = 0; i < 10; ++i) sum += output.data_as<float>()[i];
      EXPECT_NEAR(sum, 1.0, 1e-5) << "softmax outputs sum to 1";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, ZooModelTest,
                         ::testing::Values(ModelCase{"mlp", "graph"}, ModelCase{"mlp", "aot"},
                                           ModelCase{"cnn", "graph"}, ModelCase{"cnn", "aot"}),
                         [](const auto& info) {
                           return std::string(info.param.model) + "_" + info.param.executor;
                         });

TEST(ExecutorKindsTest, GraphAndAotAgree) {
  for (const std::string model : {"mlp", "cnn"}) {
    SCOPED_TRACE(model);
    ASSERT_OK_AND_ASSIGN(std::string graph_path, TestLibraries::Get().Library(model + "_graph"));
    ASSERT_OK_AND_ASSIGN(std::string aot_path, TestLibraries::Get().Library(model + "_aot"));
    for (uint32_t seed : {7u, 8u}) {
      const NDArray input = RandomArray(InputShape(model), seed);
      ASSERT_OK_AND_ASSIGN(NDArray graph_out, RunLibraryModel(graph_path, model, input));
      ASSERT_OK_AND_ASSIGN(NDArray aot_out, RunLibraryModel(aot_path, model, input));
      EXPECT_LE(MaxAbsDiff(graph_out, aot_out), 1e-5);
    }
  }
}

// ---- R3: several models in one library ----

TEST(BundleTest, BothModelsRunAndMatchSingleModelLibraries) {
  ASSERT_OK_AND_ASSIGN(std::string bundle, TestLibraries::Get().Library("bundle"));
  ASSERT_OK_AND_ASSIGN(std::string mlp_only, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(std::string cnn_only, TestLibraries::Get().Library("cnn_aot"));

  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(bundle));
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(lib));
  ASSERT_EQ(manifest->models.size(), 2u);
  EXPECT_EQ(manifest->models[0].key, "mlp");
  EXPECT_EQ(manifest->models[0].executor, ExecutorKind::kGraph);
  EXPECT_EQ(manifest->models[1].key, "cnn");
  EXPECT_EQ(manifest->models[1].executor, ExecutorKind::kAot);
  // Each model is also an imported factory module resolving its key.
  ASSERT_EQ(lib.imports().size(), 2u);
  EXPECT_EQ(lib.imports()[0].type_key(), "graph_executor_factory");
  EXPECT_EQ(lib.imports()[1].type_key(), "aot_executor_factory");
  EXPECT_TRUE(lib.imports()[1].GetFunction("cnn").ok());
  EXPECT_FALSE(lib.imports()[1].GetFunction("mlp").ok());

  for (const std::string model : {"mlp", "cnn"}) {
    const NDArray input = RandomArray(InputShape(model), 11);
    ASSERT_OK_AND_ASSIGN(NDArray bundled, RunLibraryModel(bundle, model, input));
    ASSERT_OK_AND_ASSIGN(NDArray single,
                         RunLibraryModel(model == "mlp" ? mlp_only : cnn_only, model, input));
    EXPECT_LE(MaxAbsDiff(bundled, single), 1e-6) << model;
    ExpectMatchesReference(bundled, Reference(model, input), 1e-4);
  }
}

TEST(BundleTest, ExecutorsOfBothModelsCoexist) {
  ASSERT_OK_AND_ASSIGN(std::string bundle, TestLibraries::Get().Library("bundle"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(bundle));
  ASSERT_OK_AND_ASSIGN(ExecutorModule mlp, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK_AND_ASSIGN(ExecutorModule cnn, ExecutorModule::Create(lib, "cnn", Device::Cpu()));
  ASSERT_OK_AND_ASSIGN(ExecutorModule mlp2, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  EXPECT_EQ(mlp.module().type_key(), "graph_executor");
  EXPECT_EQ(cnn.module().type_key(), "aot_executor");
  const NDArray x1 = RandomArray({1, 784}, 1), x2 = RandomArray({1, 784}, 2);
  ASSERT_OK(mlp.SetInput("data", x1));
  ASSERT_OK(mlp2.SetInput("data", x2));
  ASSERT_OK(cnn.SetInput("data", RandomArray({1, 3, 32, 32}, 3)));
  ASSERT_OK(mlp.Run());
  ASSERT_OK(cnn.Run());
  ASSERT_OK(mlp2.Run());
  // Two executors of one model own separate arrays.
  ExpectMatchesReference(mlp.GetOutput(0).value(), Reference("mlp", x1), 1e-4);
  ExpectMatchesReference(mlp2.GetOutput(0).value(), Reference("mlp", x2), 1e-4);
}

// ---- Parameters in a separate file ----

TEST(SeparateParamsTest, RunWithoutParamsFailsNamingAParameter) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_separate"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(lib));
  ASSERT_EQ(manifest->models.size(), 1u);
  EXPECT_FALSE(manifest->models[0].params_packaged);
  EXPECT_TRUE(manifest->models[0].params_bytes.empty());

  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK(executor.SetInput("data", RandomArray({1, 784}, 1)));
  const Status status = executor.Run();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_NE(status.message().find("parameter 'fc"), std::string::npos) << status.message();
}

TEST(SeparateParamsTest, LoadParamsGivesThePackagedResult) {
  ASSERT_OK_AND_ASSIGN(std::string separate, TestLibraries::Get().Library("mlp_separate"));
  ASSERT_OK_AND_ASSIGN(std::string packaged, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(compiler::ParamsPathFor(separate)));
  ASSERT_OK_AND_ASSIGN(ParamMap params, ParseParams(bytes));
  EXPECT_EQ(params.size(), TestLibraries::Get().Model("mlp").params.size());

  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(separate));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK(executor.LoadParams(bytes));
  const NDArray input = RandomArray({1, 784}, 5);
  ASSERT_OK(executor.SetInput("data", input));
  ASSERT_OK(executor.Run());
  ASSERT_OK_AND_ASSIGN(NDArray output, executor.GetOutput(0));
  ASSERT_OK_AND_ASSIGN(NDArray expected, RunLibraryModel(packaged, "mlp", input));
  EXPECT_LE(MaxAbsDiff(output, expected), 1e-6);
}

TEST(SeparateParamsTest, PartialParamsStillFailNamingTheMissingOne) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_separate"));
  ASSERT_OK_AND_ASSIGN(ParamMap params, LoadParams(compiler::ParamsPathFor(path)));
  params.erase("fc2.bias");
  // Names of other models' parameters (a bundle's shared file) are skipped.
  params.emplace("other_model.weight", RandomArray({3}, 1));
  ASSERT_OK_AND_ASSIGN(std::string bytes, SerializeParams(params));

  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK(executor.LoadParams(bytes));
  const Status status = executor.Run();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("'fc2.bias'"), std::string::npos) << status.message();
}

TEST(SeparateParamsTest, BadParamsAreRejected) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_separate"));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(compiler::ParamsPathFor(path)));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));

  // A truncated params file.
  for (size_t length : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1}) {
    const Status status = executor.LoadParams(bytes.substr(0, length));
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << length << ": " << status.ToString();
  }
  // A parameter of the wrong shape.
  ParamMap wrong;
  wrong.emplace("fc1.bias", RandomArray({127}, 1));
  const Status status = executor.LoadParams(SerializeParams(wrong).value());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("fc1.bias"), std::string::npos) << status.message();
  // Not bytes at all.
  ASSERT_OK_AND_ASSIGN(PackedFunc load, executor.module().GetFunction("load_params"));
  EXPECT_EQ(load.Call(int64_t{3}).status().code(), StatusCode::kInvalidArgument);
}

TEST(SeparateParamsTest, PackagedParamsCanBeReplaced) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ParamMap params = TestLibraries::Get().Model("mlp").params;
  // Zero the last layer's weight: the output becomes its bias.
  NDArray zeros = NDArray::Empty({10, 64}, DataType::Float32(), Device::Cpu()).value();
  std::fill_n(zeros.data_as<float>(), zeros.NumElements(), 0.0f);
  ParamMap replacement = {{"fc3.weight", zeros}};
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK(executor.LoadParams(SerializeParams(replacement).value()));
  ASSERT_OK(executor.SetInput("data", RandomArray({1, 784}, 9)));
  ASSERT_OK(executor.Run());
  ASSERT_OK_AND_ASSIGN(NDArray output, executor.GetOutput(0));
  const float* bias = params.at("fc3.bias").data_as<float>();
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(output.data_as<float>()[i], bias[i]);
}

}  // namespace
}  // namespace ferry
