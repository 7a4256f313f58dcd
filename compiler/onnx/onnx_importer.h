// ONNX import: turns an ONNX model file into a Ferry Model (compiler/model.h) that
// export_library builds into a model library.
//
//   OnnxImportOptions options;
//   options.key = "resnet18";
//   options.input_shapes["data"] = {1, 3, 224, 224};  // fixes dynamic dimensions
//   ASSIGN_OR_RETURN(Model model, ImportOnnxFile("resnet18.onnx", options));
//
// Import parses and checks the model (onnx::checker), reads opsets 1-17 of the default
// domain, infers every shape and dtype statically, folds constants (initializers, Constant
// nodes, shape subgraphs: any node whose inputs are all known is evaluated with Ferry's own
// kernels) and then optimises the graph (passes.h): fusion of conv2d / dense with bias,
// batch norm and activation where the result is bit-identical, and dead-node removal.
// Unsupported operators, attributes and dtypes are errors naming the node, its op type and
// what is missing.
#ifndef FERRY_COMPILER_ONNX_ONNX_IMPORTER_H_
#define FERRY_COMPILER_ONNX_ONNX_IMPORTER_H_

#include <map>
#include <string>
#include <vector>

#include "compiler/model.h"

namespace onnx {
class ModelProto;
}  // namespace onnx

namespace ferry::compiler::onnx_import {

// Opsets 7-17 are supported; older models (down to opset 1) import where their operators'
// legacy attributes (broadcast, is_test, consumed_inputs) have a faithful meaning.
inline constexpr int64_t kMinOpset = 1;
inline constexpr int64_t kMaxOpset = 17;

struct OnnxImportOptions {
  std::string key;  // the model's key in the library; required
  // Shapes for graph inputs, overriding the model's (required where a dimension is dynamic).
  std::map<std::string, std::vector<int64_t>> input_shapes;
  // Graph inputs whose values are fixed when the model is built: they become constants.
  std::map<std::string, NDArray> bound_inputs;
  // Run the graph passes (fusion, dead-node removal) after import.
  bool optimize = true;
};

// Reads and checks an ONNX model file. Errors: those of ReadFile; kInvalidArgument for bytes
// that do not parse or a model the ONNX checker rejects.
StatusOr<onnx::ModelProto> LoadOnnxModel(const std::string& path);

// Errors: kInvalidArgument for malformed graphs, wrong shapes and unknown input names in the
// options; kUnimplemented for unsupported opsets, operators, attributes and dtypes;
// kFailedPrecondition for an operand that must be known at build time but is computed at
// run time (binding the graph input it comes from fixes it).
StatusOr<Model> ImportOnnxModel(const onnx::ModelProto& model, const OnnxImportOptions& options);
StatusOr<Model> ImportOnnxFile(const std::string& path, const OnnxImportOptions& options);

// Graph inputs that feed an operand Ferry needs at build time (a Reshape's shape, a Slice's
// starts, a Resize's scales...): the inputs a caller must bind to import the model.
std::vector<std::string> ConstantOperandInputs(const onnx::ModelProto& model);

// The ONNX operator types Ferry imports, sorted.
std::vector<std::string> SupportedOnnxOperators();

}  // namespace ferry::compiler::onnx_import

#endif  // FERRY_COMPILER_ONNX_ONNX_IMPORTER_H_
