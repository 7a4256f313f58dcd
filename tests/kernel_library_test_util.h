// Model libraries with one hand-written kernel, for tests of what a misbehaving kernel does to
// its session (a crash, an allocation past the worker's memory limit): model KEY, graph
// float32[1] "data" -> float32[1], its only node calling `extern "C" int OP(...)` whose body
// is the given C++ source. Compiled with the system compiler (compiler/compiler_config.h) into
// TestLibraries' directory.
#ifndef FERRY_TESTS_KERNEL_LIBRARY_TEST_UTIL_H_
#define FERRY_TESTS_KERNEL_LIBRARY_TEST_UTIL_H_

#include <chrono>
#include <string>

#include "compiler/compiler_config.h"
#include "compiler/subprocess.h"
#include "runtime/file_util.h"
#include "runtime/library_manifest.h"
#include "runtime/params.h"
#include "tests/model_test_util.h"

namespace ferry::testing {

// `includes`: lines placed before the kernel (e.g. "#include <signal.h>"); `body`: the
// kernel's statements, ending in a return (0: success). Errors: the compiler's output.
inline StatusOr<std::string> SingleKernelLibrary(const std::string& key, const std::string& op,
                                                 const std::string& includes,
                                                 const std::string& body) {
  const std::string stem = TestLibraries::Get().UniquePath(key, "");
  LibraryManifest manifest;
  ModelRecord record;
  record.key = key;
  record.executor = ExecutorKind::kGraph;
  const TensorInfo scalar{{1}, DataType::Float32()};
  record.graph.entries = {scalar, scalar};
  record.graph.inputs = {{"data", 0}};
  record.graph.outputs = {1};
  record.graph.nodes = {GraphNode{key, "relu", op, {0}, {1}}};
  record.params_packaged = true;
  ASSIGN_OR_RETURN(record.params_bytes, SerializeParams({}));
  manifest.models.push_back(std::move(record));
  RETURN_IF_ERROR(WriteFileAtomically(stem + ".blob", SerializeManifest(manifest)));
  // The manifest is embedded as compiler/codegen.cc does it.
  const std::string source = includes + R"SRC(
#include "runtime/kernels/kernel_abi.h"
extern "C" __attribute__((visibility("default"))) int )SRC" +
                             op +
                             R"SRC((DLTensor* const* args, int32_t num_args, FerryKernelError*) {
)SRC" + body + R"SRC(
}
asm(R"ASM(
  .section .rodata.ferry_manifest,"a",@progbits
  .globl __ferry_models_blob
  .type __ferry_models_blob, @object
  .balign 64
__ferry_models_blob:
  .incbin ")SRC" + stem + R"SRC(.blob"
  .size __ferry_models_blob, . - __ferry_models_blob
  .previous
)ASM");
)SRC";
  RETURN_IF_ERROR(WriteFileAtomically(stem + ".cc", source));
  ASSIGN_OR_RETURN(
      compiler::ProcessResult result,
      compiler::RunProcess(
          {FERRY_CXX_COMPILER, "-shared", "-fPIC", "-I" + std::string(FERRY_SOURCE_DIR),
           "-I" + std::string(FERRY_DLPACK_INCLUDE_DIR), stem + ".cc", "-o", stem + ".so"},
          stem + ".log", std::chrono::seconds(120)));
  if (result.signalled || result.exit_code != 0) {
    return InternalError("compiling the " + key + " library failed:\n" + result.output);
  }
  return stem + ".so";
}

}  // namespace ferry::testing

#endif  // FERRY_TESTS_KERNEL_LIBRARY_TEST_UTIL_H_
