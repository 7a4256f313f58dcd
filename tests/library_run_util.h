// Helpers for tests that build compiler Models in-process and check them by running them:
// export to a fresh library (graph executor), load it, feed named inputs, read all outputs.
#ifndef FERRY_TESTS_LIBRARY_RUN_UTIL_H_
#define FERRY_TESTS_LIBRARY_RUN_UTIL_H_

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "compiler/export_library.h"
#include "compiler/model.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "runtime/ndarray.h"
#include "tests/model_test_util.h"

namespace ferry::testing {

// Exports `models` (distinct keys, graph executor, packaged params) into one library at a
// fresh path in the test temporary directory and returns the path.
inline StatusOr<std::string> ExportGraphLibrary(const std::vector<const compiler::Model*>& models,
                                                const std::string& stem,
                                                const compiler::ExportOptions& options = {}) {
  std::vector<compiler::ModelBuild> builds;
  for (const compiler::Model* m : models) builds.push_back({m, ExecutorKind::kGraph});
  const std::string path = TestLibraries::Get().UniquePath(stem);
  RETURN_IF_ERROR(compiler::ExportLibrary(builds, path, options));
  return path;
}

// Runs model `key` of `library` on the CPU with `inputs` by name; returns CPU copies of every
// output in order.
inline StatusOr<std::vector<NDArray>> RunGraphModel(const std::string& library,
                                                    const std::string& key,
                                                    const std::map<std::string, NDArray>& inputs) {
  ASSIGN_OR_RETURN(Module lib, LoadModule(library));
  ASSIGN_OR_RETURN(ExecutorModule executor, ExecutorModule::Create(lib, key, Device::Cpu()));
  for (const auto& [name, value] : inputs) RETURN_IF_ERROR(executor.SetInput(name, value));
  RETURN_IF_ERROR(executor.Run());
  ASSIGN_OR_RETURN(int num_outputs, executor.GetNumOutputs());
  std::vector<NDArray> outputs;
  for (int i = 0; i < num_outputs; ++i) {
    ASSIGN_OR_RETURN(NDArray out, executor.GetOutput(i));
    ASSIGN_OR_RETURN(NDArray copy, out.CopyTo(Device::Cpu()));
    outputs.push_back(std::move(copy));
  }
  return outputs;
}

// Exports `model` alone and runs it once.
inline StatusOr<std::vector<NDArray>> ExportAndRun(const compiler::Model& model,
                                                   const std::map<std::string, NDArray>& inputs) {
  ASSIGN_OR_RETURN(std::string path, ExportGraphLibrary({&model}, model.key));
  return RunGraphModel(path, model.key, inputs);
}

// Whether two arrays have the same shape, dtype and bytes.
inline bool BitIdentical(const NDArray& a, const NDArray& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.NumBytes() == b.NumBytes() &&
         std::memcmp(a.data(), b.data(), a.NumBytes()) == 0;
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_LIBRARY_RUN_UTIL_H_
