// Printing of conformance reports (conformance.h): the summary and the docs' Markdown table.
#include <map>

#include "compiler/onnx/conformance.h"
#include "compiler/onnx/onnx_importer.h"

namespace ferry::compiler::onnx_import {
namespace {

std::string CaseLabel(const CaseResult& c) { return c.suite + "/" + c.name; }

}  // namespace

void PrintConformanceReport(const ConformanceReport& report, bool verbose, std::ostream& out) {
  for (const CaseResult& c : report.cases) {
    if (verbose || c.outcome == Outcome::kFailed || c.outcome == Outcome::kUnsupported) {
      out << OutcomeName(c.outcome) << ": " << CaseLabel(c);
      if (!c.reason.empty()) out << ": " << c.reason;
      out << "\n";
    }
  }
  out << "ONNX conformance: " << report.cases.size() << " cases: passed "
      << report.Count(Outcome::kPassed) << ", failed " << report.Count(Outcome::kFailed)
      << ", unsupported " << report.Count(Outcome::kUnsupported) << ", other operators (not run) "
      << report.Count(Outcome::kOtherOps) << "\n";
}

void PrintConformanceMarkdown(const ConformanceReport& report, std::ostream& out) {
  struct Counts {
    size_t passed = 0, failed = 0, unsupported = 0;
  };
  std::map<std::string, Counts> by_op;
  for (const std::string& op : SupportedOnnxOperators()) by_op[op];
  for (const CaseResult& c : report.cases) {
    if (c.outcome == Outcome::kOtherOps) continue;
    for (const std::string& op : c.ops) {
      Counts& counts = by_op[op];
      if (c.outcome == Outcome::kPassed) ++counts.passed;
      if (c.outcome == Outcome::kFailed) ++counts.failed;
      if (c.outcome == Outcome::kUnsupported) ++counts.unsupported;
    }
  }
  out << "| operator | cases passed | failed | unsupported |\n|---|---:|---:|---:|\n";
  for (const auto& [op, counts] : by_op) {
    out << "| " << op << " | " << counts.passed << " | " << counts.failed << " | "
        << counts.unsupported << " |\n";
  }
  out << "\nA case counts once for every operator its model uses.\n";
  for (Outcome outcome : {Outcome::kUnsupported, Outcome::kFailed}) {
    out << "\n### " << OutcomeName(outcome) << " cases\n\n";
    size_t listed = 0;
    for (const CaseResult& c : report.cases) {
      if (c.outcome != outcome) continue;
      out << "- `" << CaseLabel(c) << "`: " << c.reason << "\n";
      ++listed;
    }
    if (listed == 0) out << "None.\n";
  }
}

}  // namespace ferry::compiler::onnx_import
