// The fixture of the `ferry` command-line tests: runs the real binary (FERRY_CLI_PATH) in a
// temporary directory and captures its exit code, stdout and stderr.
#ifndef FERRY_TESTS_CLI_TEST_FIXTURE_H_
#define FERRY_TESTS_CLI_TEST_FIXTURE_H_

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/file_util.h"
#include "runtime/npy.h"
#include "tests/process_test_util.h"

#ifndef FERRY_CLI_PATH
#error "FERRY_CLI_PATH must name the ferry binary"
#endif

namespace ferry {

using testing::ShellQuote;

// A uniform [-1, 1) float32 array, the same for the same seed.
inline NDArray RandomArray(const std::vector<int64_t>& shape, uint32_t seed) {
  NDArray a = NDArray::Empty(shape, DataType::Float32(), Device::Cpu()).value();
  uint32_t state = seed * 2654435761u + 1;
  for (int64_t i = 0; i < a.NumElements(); ++i) {
    state = state * 1664525u + 1013904223u;
    a.data_as<float>()[i] = -1.0f + 2.0f * static_cast<float>(state >> 8) / 16777216.0f;
  }
  return a;
}

inline double MaxAbsDiff(const NDArray& a, const NDArray& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < a.NumElements(); ++i) {
    const double d = std::fabs(static_cast<double>(a.data_as<float>()[i]) - b.data_as<float>()[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

struct CommandResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out;
  std::string err;
};

inline size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "ferry-cli-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs `ferry args...` with stdout and stderr captured to files.
  CommandResult Ferry(const std::vector<std::string>& args) {
    const std::string out_path = Path("stdout_" + std::to_string(calls_));
    const std::string err_path = Path("stderr_" + std::to_string(calls_));
    ++calls_;
    std::string command = ShellQuote(FERRY_CLI_PATH);
    for (const std::string& arg : args) command += " " + ShellQuote(arg);
    command += " </dev/null >" + ShellQuote(out_path) + " 2>" + ShellQuote(err_path);
    const int status = std::system(command.c_str());
    CommandResult result;
    if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.out = ReadFile(out_path).value();
    result.err = ReadFile(err_path).value();
    return result;
  }

  // Runs ferry and expects success with nothing on stderr.
  CommandResult FerryOk(const std::vector<std::string>& args) {
    CommandResult r = Ferry(args);
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err << "\nstdout: " << r.out;
    EXPECT_EQ(r.err, "");
    return r;
  }

  // Runs ferry and expects failure reported as exactly one line on stderr.
  CommandResult FerryFails(const std::vector<std::string>& args) {
    CommandResult r = Ferry(args);
    EXPECT_NE(r.exit_code, 0) << "stdout: " << r.out;
    EXPECT_GT(r.exit_code, 0) << "the process did not exit normally";
    EXPECT_EQ(CountLines(r.err), 1u) << "stderr: " << r.err;
    EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << r.err;
    return r;
  }

  std::string WriteInput(const std::string& name, const std::vector<int64_t>& shape,
                         uint32_t seed) {
    const std::string path = Path(name);
    EXPECT_TRUE(SaveNpy(path, RandomArray(shape, seed)).ok());
    return path;
  }

  std::string dir_;
  int calls_ = 0;
};

}  // namespace ferry

#endif  // FERRY_TESTS_CLI_TEST_FIXTURE_H_
