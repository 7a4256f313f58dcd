// Tests of the executor interface (executor_node.h) over real model libraries, of calling a
// library's operator functions by name, and of time_evaluator.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/executor_module.h"
#include "runtime/kernels/kernels.h"
#include "runtime/library_module.h"
#include "runtime/time_evaluator.h"
#include "runtime/value.h"
#include "tests/model_reference.h"
#include "tests/model_test_util.h"

namespace ferry {
namespace {

using testing::MaxAbsDiff;
using testing::RandomArray;
using testing::TestLibraries;

NDArray Zeros(const std::vector<int64_t>& shape) {
  NDArray a = NDArray::Empty(shape, DataType::Float32(), Device::Cpu()).value();
  std::memset(a.data(), 0, a.NumBytes());
  return a;
}

class ExecutorInterfaceTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string path,
                         TestLibraries::Get().Library(std::string("mlp_") + GetParam()));
    ASSERT_OK_AND_ASSIGN(library_, LoadModule(path));
    ASSERT_OK_AND_ASSIGN(ExecutorModule executor,
                         ExecutorModule::Create(library_, "mlp", Device::Cpu()));
    executor_ = std::make_unique<ExecutorModule>(std::move(executor));
  }

  StatusOr<Value> Call(const std::string& name, std::vector<Value> args) {
    ASSIGN_OR_RETURN(PackedFunc f, executor_->module().GetFunction(name));
    return f.CallPacked(args);
  }

  Module library_;
  std::unique_ptr<ExecutorModule> executor_;
};

TEST_P(ExecutorInterfaceTest, DescribesInputsAndOutputs) {
  EXPECT_EQ(executor_->GetNumInputs().value(), 1);
  EXPECT_EQ(executor_->GetNumOutputs().value(), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<TensorSpec> inputs, executor_->GetInputInfo());
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].name, "data");
  EXPECT_EQ(inputs[0].info.dtype, DataType::Float32());
  EXPECT_EQ(inputs[0].info.shape, (std::vector<int64_t>{1, 784}));
  ASSERT_OK_AND_ASSIGN(std::vector<TensorSpec> outputs, executor_->GetOutputInfo());
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name, "output_0");
  EXPECT_EQ(outputs[0].info, (TensorInfo{{1, 10}, DataType::Float32()}));
  ASSERT_OK_AND_ASSIGN(Value text, Call("get_input_info", {}));
  EXPECT_EQ(text.As<std::string>().value(), "data\tfloat32\t1,784\n");
  ASSERT_OK_AND_ASSIGN(Value name, Call("get_input_name", {int64_t{0}}));
  EXPECT_EQ(name.As<std::string>().value(), "data");
  const std::vector<std::string> functions = executor_->module()->ListFunctions();
  for (const char* f :
       {"set_input", "get_input", "get_output", "run", "get_num_inputs", "get_num_outputs",
        "get_input_name", "get_input_info", "get_output_info", "load_params"}) {
    EXPECT_NE(std::find(functions.begin(), functions.end(), f), functions.end()) << f;
  }
  EXPECT_FALSE(executor_->module().GetFunction("no_such_function").ok());
}

TEST_P(ExecutorInterfaceTest, SetInputByIndexAndByName) {
  const NDArray a = RandomArray({1, 784}, 1), b = RandomArray({1, 784}, 2);
  ASSERT_OK(executor_->SetInput(0, a));
  ASSERT_OK_AND_ASSIGN(NDArray got, executor_->GetInput("data"));
  EXPECT_EQ(MaxAbsDiff(got, a), 0.0);
  // set_input copies: the executor's array is not the caller's.
  EXPECT_FALSE(got == a);
  ASSERT_OK(executor_->Run());
  const NDArray out_a = executor_->GetOutput(0).value().CopyTo(Device::Cpu()).value();

  ASSERT_OK(executor_->SetInput("data", b));
  ASSERT_OK_AND_ASSIGN(Value by_index, Call("get_input", {int64_t{0}}));
  EXPECT_EQ(MaxAbsDiff(by_index.As<NDArray>().value(), b), 0.0);
  EXPECT_EQ(MaxAbsDiff(got, b), 0.0) << "get_input returns the input array itself";
  ASSERT_OK(executor_->Run());
  const NDArray out_b = executor_->GetOutput(0).value();
  EXPECT_GT(MaxAbsDiff(out_a, out_b), 0.0);
  const std::vector<double> expected = testing::ReferenceMlp(TestLibraries::Get().Model("mlp"), b);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(out_b.data_as<float>()[i], expected[i], 1e-4);
}

TEST_P(ExecutorInterfaceTest, GetOutputIsOverwrittenByTheNextRun) {
  ASSERT_OK(executor_->SetInput("data", RandomArray({1, 784}, 3)));
  ASSERT_OK(executor_->Run());
  ASSERT_OK_AND_ASSIGN(NDArray held, executor_->GetOutput(0));
  EXPECT_TRUE(held == executor_->GetOutput(0).value());
  const NDArray first = held.CopyTo(Device::Cpu()).value();
  const NDArray input = RandomArray({1, 784}, 4);
  ASSERT_OK(executor_->SetInput("data", input));
  ASSERT_OK(executor_->Run());
  EXPECT_GT(MaxAbsDiff(first, held), 0.0);
  const std::vector<double> expected =
      testing::ReferenceMlp(TestLibraries::Get().Model("mlp"), input);
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(held.data_as<float>()[i], expected[i], 1e-4);
}

TEST_P(ExecutorInterfaceTest, WrongInputName) {
  const Status status = executor_->SetInput("image", RandomArray({1, 784}, 1));
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("'image'"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("data"), std::string::npos)
      << "lists the inputs: " << status.message();
  EXPECT_EQ(executor_->GetInput("image").status().code(), StatusCode::kNotFound);
}

TEST_P(ExecutorInterfaceTest, WrongShapeOrDtype) {
  Status status = executor_->SetInput("data", RandomArray({1, 783}, 1));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("float32[1, 784]"), std::string::npos) << status.message();
  EXPECT_EQ(executor_->SetInput("data", RandomArray({784}, 1)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(executor_->SetInput("data", RandomArray({784, 1}, 1)).code(),
            StatusCode::kInvalidArgument);
  NDArray doubles = NDArray::Empty({1, 784}, DataType::Float64(), Device::Cpu()).value();
  status = executor_->SetInput("data", doubles);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("float64"), std::string::npos) << status.message();
  EXPECT_EQ(executor_->SetInput("data", NDArray()).code(), StatusCode::kInvalidArgument);
  // A failed set_input leaves the input as it was.
  EXPECT_EQ(MaxAbsDiff(executor_->GetInput("data").value(), Zeros({1, 784})), 0.0);
}

TEST_P(ExecutorInterfaceTest, IndicesOutOfRangeAndBadArguments) {
  EXPECT_EQ(executor_->GetOutput(1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(executor_->GetOutput(-1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(executor_->SetInput(1, RandomArray({1, 784}, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(executor_->SetInput(-1, RandomArray({1, 784}, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("get_input_name", {int64_t{5}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("get_input", {1.5}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("run", {int64_t{1}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("set_input", {"data"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("get_output", {"zero"}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ExecutorInterfaceTest, ExecutorOutlivesTheLibraryHandle) {
  library_ = Module();
  const NDArray input = RandomArray({1, 784}, 8);
  ASSERT_OK(executor_->SetInput("data", input));
  ASSERT_OK(executor_->Run());
  const std::vector<double> expected =
      testing::ReferenceMlp(TestLibraries::Get().Model("mlp"), input);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NEAR(executor_->GetOutput(0).value().data_as<float>()[i], expected[i], 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(BothExecutors, ExecutorInterfaceTest, ::testing::Values("graph", "aot"));

// ---- The factory ----

TEST(FactoryTest, DeviceAndKeyErrors) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  StatusOr<ExecutorModule> cuda = ExecutorModule::Create(lib, "mlp", Device::Cuda(0));
  EXPECT_EQ(cuda.status().code(), StatusCode::kUnimplemented) << cuda.status().ToString();
  EXPECT_EQ(ExecutorModule::Create(lib, "resnet", Device::Cpu()).status().code(),
            StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(PackedFunc factory, lib.GetFunction("mlp"));
  EXPECT_EQ(factory.Call().status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(factory.Call("cpu").status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(Value executor, factory.Call(Device::Cpu()));
  ASSERT_OK_AND_ASSIGN(Module module, executor.As<Module>());
  EXPECT_EQ(module.type_key(), "graph_executor");
  // An executor is not a library.
  EXPECT_EQ(GetLibraryManifest(module).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GetLibraryManifest(Module()).status().code(), StatusCode::kInvalidArgument);
}

// ---- Operator functions by name ----

TEST(KernelByNameTest, DenseMatchesTheKernel) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(lib));
  const ModelRecord& record = manifest->models.at(0);
  const GraphNode& node = record.graph.nodes.at(0);
  ASSERT_EQ(node.op, "dense");
  ASSERT_EQ(node.name, "fc1");
  const std::vector<std::string> listed = lib->ListFunctions();
  EXPECT_NE(std::find(listed.begin(), listed.end(), node.func_name), listed.end());

  const NDArray data = RandomArray({1, 784}, 21);
  const NDArray weight = TestLibraries::Get().Model("mlp").params.at("fc1.weight");
  const NDArray out = Zeros({1, 128}), direct = Zeros({1, 128});
  ASSERT_OK_AND_ASSIGN(PackedFunc kernel, lib.GetFunction(node.func_name));
  ASSERT_OK(kernel.Call(data, weight, out));

  DLTensor* args[] = {data.dl_tensor(), weight.dl_tensor(), direct.dl_tensor()};
  FerryKernelError error{};
  ASSERT_EQ(kernels::Dense(args, 3, &error), 0) << error.message;
  EXPECT_LE(MaxAbsDiff(out, direct), 1e-6);
  EXPECT_GT(MaxAbsDiff(out, Zeros({1, 128})), 0.0);

  Status status = kernel.Call(data, weight).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  status = kernel.Call(data, weight, out, out).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  // The kernel's own validation comes back as an error naming it.
  status = kernel.Call(data, weight, Zeros({1, 127})).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("dense"), std::string::npos) << status.message();
  EXPECT_EQ(kernel.Call(data, weight, int64_t{1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(kernel.Call(data, weight, NDArray()).status().code(), StatusCode::kInvalidArgument);
}

TEST(KernelByNameTest, ConvHasItsAttributesBakedIn) {
  // The plain kernels, whose convolution takes the weight as the model holds it.
  compiler::ExportOptions options;
  options.blocked_layouts = false;
  const std::string path = TestLibraries::Get().UniquePath("cnn_plain");
  ASSERT_OK(compiler::ExportLibrary(
      std::vector<compiler::ModelBuild>{{&TestLibraries::Get().Model("cnn"), ExecutorKind::kGraph}},
      path, options));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(lib));
  const GraphNode& node = manifest->models.at(0).graph.nodes.at(0);
  ASSERT_EQ(node.op, "conv2d");
  const NDArray data = RandomArray({1, 3, 32, 32}, 22);
  const NDArray weight = TestLibraries::Get().Model("cnn").params.at("stem.conv.weight");
  const NDArray out = Zeros({1, 16, 32, 32}), direct = Zeros({1, 16, 32, 32});
  ASSERT_OK_AND_ASSIGN(PackedFunc kernel, lib.GetFunction(node.func_name));
  ASSERT_OK(kernel.Call(data, weight, out));
  kernels::Conv2dAttrs attrs;
  for (int64_t& p : attrs.padding) p = 1;
  DLTensor* args[] = {data.dl_tensor(), weight.dl_tensor(), direct.dl_tensor()};
  FerryKernelError error{};
  ASSERT_EQ(kernels::Conv2d(attrs, args, 3, &error), 0) << error.message;
  EXPECT_LE(MaxAbsDiff(out, direct), 1e-5);
}

TEST(KernelByNameTest, UnknownNamesAreNotFound) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  EXPECT_EQ(lib.GetFunction("ferry_m0_n99_dense").status().code(), StatusCode::kNotFound);
  // An exported symbol that is not an operator function of the manifest is not exposed.
  EXPECT_EQ(lib.GetFunction("__ferry_models_blob").status().code(), StatusCode::kNotFound);
}

// ---- time_evaluator ----

TEST(TimeEvaluatorTest, TimesRun) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_aot"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK(executor.SetInput("data", RandomArray({1, 784}, 1)));
  TimeEvaluatorOptions options;
  options.number = 2;
  options.repeat = 3;
  ASSERT_OK_AND_ASSIGN(PackedFunc timer,
                       TimeEvaluator(executor.module(), "run", Device::Cpu(), options));
  ASSERT_OK_AND_ASSIGN(Value result, timer.Call());
  ASSERT_OK_AND_ASSIGN(NDArray seconds, result.As<NDArray>());
  EXPECT_EQ(seconds.dtype(), DataType::Float64());
  EXPECT_EQ(seconds.shape(), (std::vector<int64_t>{3}));
  EXPECT_EQ(seconds.device(), Device::Cpu());
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(seconds.data_as<double>()[i], 0.0);
    EXPECT_LT(seconds.data_as<double>()[i], 10.0);
  }
}

TEST(TimeEvaluatorTest, TimesAKernelWithArguments) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(auto manifest, GetLibraryManifest(lib));
  const GraphNode& relu = manifest->models.at(0).graph.nodes.at(2);
  ASSERT_EQ(relu.op, "relu");
  ASSERT_OK_AND_ASSIGN(PackedFunc timer,
                       TimeEvaluator(lib, relu.func_name, Device::Cpu(), {.repeat = 2}));
  ASSERT_OK_AND_ASSIGN(Value result, timer.Call(RandomArray({1, 128}, 1), Zeros({1, 128})));
  EXPECT_EQ(result.As<NDArray>().value().shape(), (std::vector<int64_t>{2}));
  // The timed function's errors come back as they are.
  EXPECT_EQ(timer.Call(RandomArray({1, 128}, 1)).status().code(), StatusCode::kInvalidArgument);
}

TEST(TimeEvaluatorTest, BadOptionsAndNames) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  const Module& m = executor.module();
  EXPECT_EQ(TimeEvaluator(m, "run", Device::Cpu(), {.number = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeEvaluator(m, "run", Device::Cpu(), {.number = -3}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeEvaluator(m, "run", Device::Cpu(), {.repeat = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeEvaluator(m, "run", Device::Cpu(), {.min_repeat_ms = -1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeEvaluator(m, "run", Device::Cpu(), {.cooldown_ms = -1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeEvaluator(m, "walk", Device::Cpu(), {}).status().code(), StatusCode::kNotFound);
}

TEST(TimeEvaluatorTest, MinRepeatRaisesNumber) {
  ASSERT_OK_AND_ASSIGN(std::string path, TestLibraries::Get().Library("mlp_graph"));
  ASSERT_OK_AND_ASSIGN(Module lib, LoadModule(path));
  ASSERT_OK_AND_ASSIGN(ExecutorModule executor, ExecutorModule::Create(lib, "mlp", Device::Cpu()));
  ASSERT_OK_AND_ASSIGN(PackedFunc timer, TimeEvaluator(executor.module(), "run", Device::Cpu(),
                                                       {.repeat = 2, .min_repeat_ms = 5}));
  ASSERT_OK_AND_ASSIGN(Value result, timer.Call());
  const NDArray seconds = result.As<NDArray>().value();
  ASSERT_EQ(seconds.shape(), (std::vector<int64_t>{2}));
  for (int i = 0; i < 2; ++i) EXPECT_GT(seconds.data_as<double>()[i], 0.0);
}

}  // namespace
}  // namespace ferry
