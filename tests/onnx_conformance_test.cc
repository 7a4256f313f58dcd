// ONNX's own backend test cases (Debian's libonnx-testdata) through Ferry, with both
// executors: every case whose operators Ferry imports must pass or be unsupported with a
// reason (docs/onnx.md lists them). Skips, saying why, where the test data is not installed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "compiler/onnx/conformance.h"

namespace ferry::compiler::onnx_import {
namespace {

class OnnxConformanceTest : public ::testing::TestWithParam<ExecutorKind> {};

TEST_P(OnnxConformanceTest, EverySupportedCasePassesOrIsUnsupportedWithAReason) {
  const std::string root = kOnnxTestDataRoot;
  if (!std::filesystem::is_directory(root + "/node")) {
    GTEST_SKIP() << root << " is missing: install libonnx-testdata (scripts/install_deps)";
  }
  ConformanceOptions options;
  options.suites = {root + "/node", root + "/pytorch-converted"};
  options.executor = GetParam();
  StatusOr<ConformanceReport> report = RunConformance(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::ostringstream summary;
  PrintConformanceReport(*report, false, summary);
  std::cout << summary.str();

  EXPECT_EQ(report->Count(Outcome::kFailed), 0u) << summary.str();
  // The suites hold about a thousand cases, over 300 of them on Ferry's operators: a runner
  // that silently ran nothing must not pass.
  EXPECT_GE(report->cases.size(), 900u);
  EXPECT_GE(report->Count(Outcome::kPassed), 300u);
  for (const CaseResult& c : report->cases) {
    if (c.outcome == Outcome::kUnsupported) {
      EXPECT_THAT(c.reason, ::testing::HasSubstr("UNIMPLEMENTED")) << c.name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Executors, OnnxConformanceTest,
                         ::testing::Values(ExecutorKind::kGraph, ExecutorKind::kAot),
                         [](const auto& info) {
                           return std::string(ExecutorKindName(info.param));
                         });

TEST(OnnxConformanceRunnerTest, MissingSuiteIsNotFound) {
  ConformanceOptions options;
  options.suites = {"/nonexistent/ferry/suite"};
  StatusOr<ConformanceReport> report = RunConformance(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace ferry::compiler::onnx_import
