// `ferry build MODEL.onnx`, `ferry run` on ONNX TensorProto inputs and `ferry onnx-test`, run
// as real processes on cases of ONNX's backend test data (libonnx-testdata; the tests skip,
// saying why, where it is not installed).
#include <gtest/gtest.h>

#include <filesystem>

#include "compiler/onnx/conformance.h"
#include "compiler/onnx/tensor_compare.h"
#include "compiler/onnx/tensor_proto.h"
#include "runtime/library_module.h"
#include "tests/cli_test_fixture.h"

namespace ferry {
namespace {

using compiler::onnx_import::CompareArrays;
using compiler::onnx_import::kOnnxTestDataRoot;
using compiler::onnx_import::LoadTensorProtoFile;

std::string NodeCase(const std::string& name) {
  return std::string(kOnnxTestDataRoot) + "/node/" + name;
}

class CliOnnxTest : public CliTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(NodeCase("test_conv_with_strides_padding/model.onnx"))) {
      GTEST_SKIP() << kOnnxTestDataRoot << " is missing: install libonnx-testdata";
    }
    CliTest::SetUp();
  }

  // Runs model `key` of `library` on test case `name`'s data set 0 (inputs named x, w...)
  // and compares output 0 with the expected one.
  void RunAndCompare(const std::string& library, const std::string& key, const std::string& name,
                     const std::vector<std::string>& input_names) {
    const std::string data = NodeCase(name) + "/test_data_set_0/";
    std::vector<std::string> args = {"run", library, "--name", key, "--output-dir",
                                     Path("out_" + key), "--repeat", "1"};
    for (size_t i = 0; i < input_names.size(); ++i) {
      args.push_back("--input");
      args.push_back(input_names[i] + "=" + data + "input_" + std::to_string(i) + ".pb");
    }
    FerryOk(args);
    NDArray actual = LoadNpy(Path("out_" + key + "/output_0.npy")).value();
    NDArray expected = LoadTensorProtoFile(data + "output_0.pb").value();
    Status same = CompareArrays(expected, actual, 1e-3, 1e-5);
    EXPECT_TRUE(same.ok()) << key << ": " << same.ToString();
  }
};

TEST_F(CliOnnxTest, BuildsSeveralOnnxModelsIntoOneLibraryAndRunsThemOnPbInputs) {
  const std::string library = Path("two.so");
  CommandResult r = FerryOk({"build", NodeCase("test_conv_with_strides_padding/model.onnx"),
                             NodeCase("test_relu/model.onnx"), "--name", "conv", "--name",
                             "relu", "-o", library});
  EXPECT_NE(r.out.find("built 'conv'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("built 'relu'"), std::string::npos) << r.out;
  RunAndCompare(library, "conv", "test_conv_with_strides_padding", {"x", "W"});
  RunAndCompare(library, "relu", "test_relu", {"x"});
}

TEST_F(CliOnnxTest, KeyDefaultsToTheFileStemAndAotWorks) {
  const std::filesystem::path model = Path("gemm_default.onnx");
  std::filesystem::copy_file(NodeCase("test_gemm_default_matrix_bias/model.onnx"), model);
  FerryOk({"build", model.string(), "--executor", "aot", "-o", Path("g.so")});
  RunAndCompare(Path("g.so"), "gemm_default", "test_gemm_default_matrix_bias", {"a", "b", "c"});
}

TEST_F(CliOnnxTest, BindFixesABuildTimeOperand) {
  const std::string name = "test_reshape_reduced_dims";
  const std::string data = NodeCase(name) + "/test_data_set_0/";
  CommandResult r = FerryFails({"build", NodeCase(name + "/model.onnx"), "-o", Path("r.so")});
  EXPECT_NE(r.err.find("--bind shape="), std::string::npos) << r.err;
  FerryOk({"build", NodeCase(name + "/model.onnx"), "--bind", "shape=" + data + "input_1.pb",
           "--name", "reshape", "-o", Path("r.so")});
  RunAndCompare(Path("r.so"), "reshape", name, {"data"});
}

TEST_F(CliOnnxTest, ErrorsNameTheProblem) {
  // An operator Ferry does not import: the node and its op type are named.
  CommandResult r = FerryFails({"build", NodeCase("test_einsum_sum/model.onnx"), "-o", Path("e.so")});
  EXPECT_NE(r.err.find("(Einsum)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not supported"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("e.so")));
  // A shape for an input the model does not have.
  r = FerryFails({"build", NodeCase("test_relu/model.onnx"), "--input-shape", "nope=1,2",
                  "-o", Path("x.so")});
  EXPECT_NE(r.err.find("no model has an input 'nope'"), std::string::npos) << r.err;
  // A malformed --input-shape.
  r = FerryFails({"build", NodeCase("test_relu/model.onnx"), "--input-shape", "x=3,a",
                  "-o", Path("x.so")});
  EXPECT_NE(r.err.find("--input-shape"), std::string::npos) << r.err;
  // Not an ONNX file.
  const std::string junk = Path("junk.onnx");
  ASSERT_TRUE(WriteFileAtomically(junk, "this is not a protobuf").ok());
  r = FerryFails({"build", junk, "-o", Path("x.so")});
  EXPECT_NE(r.err.find("not an ONNX model"), std::string::npos) << r.err;
  // A truncated .pb input.
  FerryOk({"build", NodeCase("test_relu/model.onnx"), "-o", Path("relu.so")});
  std::string pb = ReadFile(NodeCase("test_relu/test_data_set_0/input_0.pb")).value();
  ASSERT_TRUE(WriteFileAtomically(Path("cut.pb"), pb.substr(0, pb.size() / 2)).ok());
  r = FerryFails({"run", Path("relu.so"), "--input", "x=" + Path("cut.pb")});
  EXPECT_NE(r.err.find("cut.pb"), std::string::npos) << r.err;
}

TEST_F(CliOnnxTest, OnnxTestCommandReportsCounts) {
  CommandResult r = FerryOk({"onnx-test", "--filter", "test_conv_with", "--verbose"});
  EXPECT_NE(r.out.find("passed: node/test_conv_with_strides_padding"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failed 0"), std::string::npos) << r.out;
  r = FerryFails({"onnx-test", "/nonexistent/suite"});
  EXPECT_NE(r.err.find("no test suite folder"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ferry
