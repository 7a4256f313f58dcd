// Conformance against ONNX's own backend test cases (Debian's libonnx-testdata:
// /usr/share/libonnx-testdata/data/node/* and pytorch-converted/*): each case is a folder
// with model.onnx and test_data_set_*/input_*.pb, output_*.pb. The runner builds every case
// whose operators Ferry imports (several models per library, as a user would bundle them),
// runs each data set and compares with the expected outputs.
//
// A case ends as one of:
//   passed       every output of every data set within atol + rtol * |expected|
//                (exact for integers and booleans; NaN matches NaN)
//   failed       wrong values, or any error other than the two below
//   unsupported  every operator is one Ferry imports, but the case needs something Ferry
//                does not implement (a dtype, 3-D convolution, an attribute value); the
//                reason is the importer's kUnimplemented message
//   other_ops    the model uses an operator Ferry does not import (not run)
// Operands Ferry needs at build time (ConstantOperandInputs: a Reshape's shape, a Slice's
// starts...) are bound from data set 0, as `ferry build --bind` would.
#ifndef FERRY_COMPILER_ONNX_CONFORMANCE_H_
#define FERRY_COMPILER_ONNX_CONFORMANCE_H_

#include <ostream>
#include <string>
#include <vector>

#include "runtime/library_manifest.h"
#include "runtime/status.h"

namespace ferry::compiler::onnx_import {

inline constexpr const char* kOnnxTestDataRoot = "/usr/share/libonnx-testdata/data";

struct ConformanceOptions {
  // Folders whose subfolders are test cases (e.g. <root>/node).
  std::vector<std::string> suites;
  // Only cases whose name contains this (empty: all).
  std::string filter;
  ExecutorKind executor = ExecutorKind::kGraph;
  double rtol = 1e-3;
  double atol = 1e-5;
  // Models per library.
  size_t batch_size = 64;
  // Progress lines go here when set.
  std::ostream* progress = nullptr;
};

enum class Outcome { kPassed, kFailed, kUnsupported, kOtherOps };

struct CaseResult {
  std::string suite;  // the suite folder's name, e.g. "node"
  std::string name;   // the case folder's name, e.g. "test_conv_with_strides_padding"
  std::vector<std::string> ops;  // op_types the model uses, sorted
  Outcome outcome = Outcome::kFailed;
  std::string reason;  // empty when passed
};

struct ConformanceReport {
  std::vector<CaseResult> cases;
  size_t Count(Outcome outcome) const;
};

// Errors: kNotFound when a suite folder does not exist, kUnavailable when no library can be
// written. Per-case problems are outcomes, not errors.
StatusOr<ConformanceReport> RunConformance(const ConformanceOptions& options);

// "passed N, failed N, unsupported N, other operators N", then one line per failed and
// unsupported case with its reason (all cases with `verbose`).
void PrintConformanceReport(const ConformanceReport& report, bool verbose, std::ostream& out);

// A Markdown table of the operators Ferry imports with their cases' results (passed /
// failed / unsupported counts), then the unsupported and failed cases with reasons.
void PrintConformanceMarkdown(const ConformanceReport& report, std::ostream& out);

std::string_view OutcomeName(Outcome outcome);

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_CONFORMANCE_H_
