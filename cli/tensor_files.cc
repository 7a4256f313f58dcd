#include "cli/tensor_files.h"

#include "compiler/onnx/tensor_proto.h"
#include "runtime/npy.h"

namespace ferry::cli {

StatusOr<NDArray> LoadTensorFile(const std::string& path) {
  if (path.size() >= 3 && path.compare(path.size() - 3, 3, ".pb") == 0) {
    return compiler::onnx_import::LoadTensorProtoFile(path);
  }
  return LoadNpy(path);
}

StatusOr<std::pair<std::string, std::string>> SplitNameValue(const std::string& spec,
                                                             const char* flag) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return InvalidArgumentError(std::string(flag) + " expects NAME=VALUE, got '" + spec + "'");
  }
  return std::make_pair(spec.substr(0, eq), spec.substr(eq + 1));
}

}  // namespace ferry::cli
