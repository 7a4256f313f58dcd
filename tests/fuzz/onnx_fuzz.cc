// Fuzz target: ONNX model bytes (compiler/onnx/onnx_importer.h ImportOnnxFile, through a
// memfd), as `ferry build` imports a model a user hands it: protobuf parsing, the ONNX checker,
// shape inference, constant folding and the graph passes.
// Property: never crashes (nor throws: a broken check is a bug).
#include "compiler/onnx/onnx_importer.h"
#include "tests/fuzz/fuzz_util.h"

using namespace ferry;
using namespace ferry::compiler::onnx_import;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemFile file(fuzz::AsView(data, size));
  OnnxImportOptions options;
  options.key = "fuzz";
  (void)ImportOnnxFile(file.path(), options);
  return 0;
}
