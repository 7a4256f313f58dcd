// Tests of the `ferry` command line tool, run as a real process (FERRY_CLI_PATH): build,
// inspect and run, their help, and their errors (non-zero exit, exactly one line on stderr).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/executor_module.h"
#include "runtime/file_util.h"
#include "runtime/library_module.h"
#include "runtime/npy.h"
#include "tests/cli_test_fixture.h"

namespace ferry {
namespace {

TEST_F(CliTest, Help) {
  CommandResult r = FerryOk({"--help"});
  EXPECT_NE(r.out.find("usage: ferry"), std::string::npos) << r.out;
  for (const char* command : {"build", "run", "inspect"}) {
    EXPECT_NE(r.out.find(command), std::string::npos) << command;
  }
  r = FerryOk({"build", "--help"});
  EXPECT_NE(r.out.find("usage: ferry build"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--zoo"), std::string::npos);
  EXPECT_NE(r.out.find("--executor"), std::string::npos);
  EXPECT_NE(r.out.find("--no-package-params"), std::string::npos);
  EXPECT_NE(r.out.find("-o, --output"), std::string::npos) << r.out;
  r = FerryOk({"run", "-h"});
  EXPECT_NE(r.out.find("usage: ferry run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--params"), std::string::npos);
  r = FerryOk({"inspect", "--help"});
  EXPECT_NE(r.out.find("usage: ferry inspect"), std::string::npos) << r.out;
}

TEST_F(CliTest, NoArgumentsOrUnknownCommand) {
  CommandResult r = Ferry({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("usage: ferry"), std::string::npos);
  r = FerryFails({"frobnicate"});
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
}

TEST_F(CliTest, BuildInspectRun) {
  const std::string lib = Path("mlp.so");
  CommandResult r = FerryOk({"build", "--zoo", "mlp", "-o", lib});
  EXPECT_NE(r.out.find("built 'mlp'"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(lib));
  EXPECT_FALSE(std::filesystem::exists(lib + ".params"));

  r = FerryOk({"inspect", lib});
  EXPECT_NE(r.out.find("1 model(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model 'mlp'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("executor:   graph"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("data float32[1, 784]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output_0 float32[1, 10]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("packaged in the library"), std::string::npos) << r.out;

  const NDArray input = RandomArray({1, 784}, 1);
  ASSERT_TRUE(SaveNpy(Path("x.npy"), input).ok());
  const std::string out_dir = Path("out");
  r = FerryOk(
      {"run", lib, "--input", "data=" + Path("x.npy"), "--output-dir", out_dir, "--repeat", "2"});
  EXPECT_NE(r.out.find("output 0: float32[1, 10]"), std::string::npos) << r.out;
  StatusOr<NDArray> output = LoadNpy(out_dir + "/output_0.npy");
  ASSERT_TRUE(output.ok()) << output.status().ToString();
  EXPECT_EQ(output->shape(), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(output->dtype(), DataType::Float32());

  // The file holds what the library computes in-process.
  StatusOr<Module> module = LoadModule(lib);
  ASSERT_TRUE(module.ok()) << module.status().ToString();
  StatusOr<ExecutorModule> executor = ExecutorModule::Create(*module, "mlp", Device::Cpu());
  ASSERT_TRUE(executor.ok()) << executor.status().ToString();
  ASSERT_TRUE(executor->SetInput("data", input).ok());
  ASSERT_TRUE(executor->Run().ok());
  EXPECT_EQ(MaxAbsDiff(*output, executor->GetOutput(0).value()), 0.0);
}

TEST_F(CliTest, Bundle) {
  const std::string lib = Path("bundle.so");
  CommandResult r = FerryOk({"build", "--zoo", "mlp", "--zoo", "cnn", "-o", lib});
  EXPECT_NE(r.out.find("built 'mlp'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("built 'cnn'"), std::string::npos) << r.out;
  r = FerryOk({"inspect", lib});
  EXPECT_NE(r.out.find("2 model(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model 'mlp'"), std::string::npos);
  EXPECT_NE(r.out.find("model 'cnn'"), std::string::npos);
  EXPECT_NE(r.out.find("data float32[1, 3, 32, 32]"), std::string::npos) << r.out;

  const std::string cnn_input = WriteInput("img.npy", {1, 3, 32, 32}, 2);
  r = FerryFails({"run", lib, "--input", "data=" + cnn_input, "--output-dir", Path("o")});
  EXPECT_NE(r.err.find("--name"), std::string::npos) << r.err;
  FerryOk({"run", lib, "--name", "cnn", "--input", "data=" + cnn_input, "--output-dir",
           Path("cnn_out"), "--repeat", "1"});
  StatusOr<NDArray> probabilities = LoadNpy(Path("cnn_out/output_0.npy"));
  ASSERT_TRUE(probabilities.ok()) << probabilities.status().ToString();
  double sum = 0;
  for (int i = 0; i < 10; ++i) sum += probabilities->data_as<float>()[i];
  EXPECT_NEAR(sum, 1.0, 1e-5);
  FerryOk({"run", lib, "--name", "mlp", "--input", "data=" + WriteInput("x.npy", {1, 784}, 3),
           "--output-dir", Path("mlp_out"), "--repeat", "1"});
  r = FerryFails({"run", lib, "--name", "resnet", "--input", "data=" + cnn_input});
  EXPECT_NE(r.err.find("resnet"), std::string::npos) << r.err;

  // --name renames the matching model.
  const std::string renamed = Path("renamed.so");
  FerryOk({"build", "--zoo", "mlp", "--name", "digits", "-o", renamed});
  r = FerryOk({"inspect", renamed});
  EXPECT_NE(r.out.find("model 'digits'"), std::string::npos) << r.out;
}

TEST_F(CliTest, AotOutputsEqualGraphOutputs) {
  for (const char* model : {"mlp", "cnn"}) {
    SCOPED_TRACE(model);
    const std::string m = model;
    const std::string input = m == "mlp" ? WriteInput(m + ".npy", {1, 784}, 4)
                                         : WriteInput(m + ".npy", {1, 3, 32, 32}, 5);
    for (const char* executor : {"graph", "aot"}) {
      const std::string lib = Path(m + "_" + executor + ".so");
      FerryOk({"build", "--zoo", m, "--executor", executor, "-o", lib});
      FerryOk({"run", lib, "--input", "data=" + input, "--output-dir", Path(m + "_" + executor),
               "--repeat", "1"});
    }
    StatusOr<NDArray> graph = LoadNpy(Path(m + "_graph/output_0.npy"));
    StatusOr<NDArray> aot = LoadNpy(Path(m + "_aot/output_0.npy"));
    ASSERT_TRUE(graph.ok() && aot.ok());
    EXPECT_EQ(graph->shape(), (std::vector<int64_t>{1, 10}));
    EXPECT_LE(MaxAbsDiff(*graph, *aot), 1e-5);
    const CommandResult r = FerryOk({"inspect", Path(m + "_aot.so")});
    EXPECT_NE(r.out.find("executor:   aot (entry "), std::string::npos) << r.out;
  }
}

TEST_F(CliTest, SeparateParams) {
  const std::string lib = Path("mlp.so");
  CommandResult r = FerryOk({"build", "--zoo", "mlp", "--no-package-params", "-o", lib});
  EXPECT_NE(r.out.find("wrote " + lib + ".params"), std::string::npos) << r.out;
  ASSERT_TRUE(std::filesystem::exists(lib + ".params"));
  r = FerryOk({"inspect", lib});
  EXPECT_NE(r.out.find("in a separate params file"), std::string::npos) << r.out;

  const std::string input = WriteInput("x.npy", {1, 784}, 6);
  r = FerryFails({"run", lib, "--input", "data=" + input, "--output-dir", Path("no_params")});
  EXPECT_NE(r.err.find("parameter '"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("no_params/output_0.npy")));

  FerryOk({"run", lib, "--params", lib + ".params", "--input", "data=" + input, "--output-dir",
           Path("with_params"), "--repeat", "1"});
  // Same numbers as a library with packaged parameters.
  const std::string packaged = Path("packaged.so");
  FerryOk({"build", "--zoo", "mlp", "-o", packaged});
  FerryOk({"run", packaged, "--input", "data=" + input, "--output-dir", Path("packaged_out"),
           "--repeat", "1"});
  StatusOr<NDArray> a = LoadNpy(Path("with_params/output_0.npy"));
  StatusOr<NDArray> b = LoadNpy(Path("packaged_out/output_0.npy"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(MaxAbsDiff(*a, *b), 0.0);

  // A truncated params file.
  const std::string bytes = ReadFile(lib + ".params").value();
  ASSERT_TRUE(WriteFileAtomically(Path("short.params"), bytes.substr(0, bytes.size() / 2)).ok());
  r = FerryFails({"run", lib, "--params", Path("short.params"), "--input", "data=" + input,
                  "--output-dir", Path("short_out")});
  EXPECT_NE(r.err.find("short.params"), std::string::npos) << r.err;
  r = FerryFails({"run", lib, "--params", Path("missing.params"), "--input", "data=" + input});
}

TEST_F(CliTest, BuildErrors) {
  CommandResult r = FerryFails({"build", "--zoo", "mlp", "--frobnicate", "-o", Path("a.so")});
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  r = FerryFails({"build", "--zoo", "mlp"});
  EXPECT_NE(r.err.find("-o"), std::string::npos) << r.err;
  r = FerryFails({"build", "--zoo", "resnet", "-o", Path("b.so")});
  EXPECT_NE(r.err.find("resnet"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("b.so")));
  r = FerryFails({"build", "-o", Path("c.so")});
  r = FerryFails({"build", "--zoo", "mlp", "--executor", "vm", "-o", Path("d.so")});
  EXPECT_NE(r.err.find("vm"), std::string::npos) << r.err;
  r = FerryFails({"build", "--zoo", "mlp", "--zoo", "mlp", "-o", Path("e.so")});
  EXPECT_NE(r.err.find("mlp"), std::string::npos) << r.err;
  r = FerryFails({"build", "--zoo", "mlp", "--seed", "-1", "-o", Path("f.so")});
  r = FerryFails({"build", "--zoo", "mlp", "-o"});
  r = FerryFails({"build", "model.onnx", "-o", Path("g.so")});
  r = FerryFails({"build", "--zoo", "mlp", "-o", Path("no_such_dir/h.so")});
}

TEST_F(CliTest, RunErrors) {
  const std::string lib = Path("mlp.so");
  FerryOk({"build", "--zoo", "mlp", "-o", lib});
  const std::string input = WriteInput("x.npy", {1, 784}, 7);

  // A malformed .npy file.
  ASSERT_TRUE(WriteFileAtomically(Path("bad.npy"), "\x93NUMPY garbage").ok());
  CommandResult r = FerryFails({"run", lib, "--input", "data=" + Path("bad.npy")});
  EXPECT_NE(r.err.find("npy"), std::string::npos) << r.err;
  // An input of the wrong shape.
  r = FerryFails({"run", lib, "--input", "data=" + WriteInput("small.npy", {1, 10}, 1)});
  EXPECT_NE(r.err.find("float32[1, 784]"), std::string::npos) << r.err;
  // An unknown input name, a malformed --input and a missing input.
  r = FerryFails({"run", lib, "--input", "image=" + input});
  EXPECT_NE(r.err.find("image"), std::string::npos) << r.err;
  FerryFails({"run", lib, "--input", input});
  r = FerryFails({"run", lib});
  EXPECT_NE(r.err.find("data"), std::string::npos) << r.err;
  // Bad --repeat.
  FerryFails({"run", lib, "--input", "data=" + input, "--repeat", "0"});
  FerryFails({"run", lib, "--input", "data=" + input, "--repeat", "many"});
  // Not a library, a missing library, no library.
  ASSERT_TRUE(WriteFileAtomically(Path("notes.txt"), "hello\n").ok());
  r = FerryFails({"run", Path("notes.txt"), "--input", "data=" + input});
  EXPECT_NE(r.err.find("notes.txt"), std::string::npos) << r.err;
  FerryFails({"run", Path("missing.so"), "--input", "data=" + input});
  FerryFails({"run", "--input", "data=" + input});
  FerryFails({"inspect", Path("notes.txt")});
  FerryFails({"inspect"});
}

TEST_F(CliTest, RunOnAForeignSharedObject) {
  const char* libm = "/lib/x86_64-linux-gnu/libm.so.6";
  if (!std::filesystem::exists(libm)) GTEST_SKIP() << "no " << libm;
  const CommandResult r = FerryFails({"inspect", libm});
  EXPECT_NE(r.err.find("not a Ferry model library"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ferry
