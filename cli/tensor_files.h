// Tensor files the CLI reads: NumPy .npy, or ONNX TensorProto .pb (as in ONNX's test data
// sets), told apart by the extension.
#ifndef FERRY_CLI_TENSOR_FILES_H_
#define FERRY_CLI_TENSOR_FILES_H_

#include <string>
#include <utility>

#include "runtime/ndarray.h"

namespace ferry::cli {

// Errors: those of LoadNpy or LoadTensorProtoFile.
StatusOr<NDArray> LoadTensorFile(const std::string& path);

// Splits "NAME=VALUE" for `flag` (used in messages). Errors: kInvalidArgument.
StatusOr<std::pair<std::string, std::string>> SplitNameValue(const std::string& spec,
                                                             const char* flag);

}  // namespace ferry::cli

#endif  // FERRY_CLI_TENSOR_FILES_H_
