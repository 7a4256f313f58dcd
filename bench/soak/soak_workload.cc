#include "bench/soak/soak_workload.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "compiler/export_library.h"
#include "compiler/zoo.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"

namespace ferry::soak {
namespace {

NDArray RandomInput(const std::vector<int64_t>& shape, uint32_t seed) {
  NDArray a = NDArray::Empty(shape, DataType::Float32(), Device::Cpu()).value();
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  float* data = a.data_as<float>();
  for (int64_t i = 0; i < a.NumElements(); ++i) data[i] = uniform(engine);
  return a;
}

double MaxAbsDiff(const NDArray& a, const NDArray& b) {
  if (a.shape() != b.shape() || a.NumBytes() != b.NumBytes()) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < a.NumElements(); ++i) {
    const double d = std::fabs(static_cast<double>(a.data_as<float>()[i]) - b.data_as<float>()[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

StatusOr<NDArray> RunLocally(const std::string& path, const std::string& key,
                             const NDArray& input) {
  ASSIGN_OR_RETURN(Module lib, LoadModule(path));
  ASSIGN_OR_RETURN(ExecutorModule executor, ExecutorModule::Create(lib, key, Device::Cpu()));
  RETURN_IF_ERROR(executor.SetInput("data", input));
  RETURN_IF_ERROR(executor.Run());
  ASSIGN_OR_RETURN(NDArray output, executor.GetOutput(0));
  return output.CopyTo(Device::Cpu());
}

}  // namespace

StatusOr<SoakWorkload> SoakWorkload::Build(const std::string& dir) {
  struct Spec {
    const char* model;
    ExecutorKind executor;
    const char* label;
    std::vector<int64_t> shape;
  };
  const Spec specs[] = {{"mlp", ExecutorKind::kGraph, "mlp_graph.so", {1, 784}},
                        {"cnn", ExecutorKind::kAot, "cnn_aot.so", {1, 3, 32, 32}}};
  SoakWorkload workload;
  uint32_t seed = 1;
  for (const Spec& spec : specs) {
    ASSIGN_OR_RETURN(compiler::Model model, compiler::BuildZooModel(spec.model));
    Library library;
    library.label = spec.label;
    library.path = dir + "/" + spec.label;
    library.key = model.key;
    const compiler::ModelBuild build{&model, spec.executor};
    RETURN_IF_ERROR(compiler::ExportLibrary(std::span<const compiler::ModelBuild>(&build, 1),
                                            library.path)
                        .WithContext(std::string("exporting ") + spec.label));
    for (int i = 0; i < kInputs; ++i) {
      library.inputs.push_back(RandomInput(spec.shape, seed++));
      ASSIGN_OR_RETURN(NDArray expected,
                       RunLocally(library.path, library.key, library.inputs.back()));
      library.expected.push_back(std::move(expected));
    }
    workload.libraries_.push_back(std::move(library));
  }
  return workload;
}

Status SoakWorkload::RunSession(rpc::RemoteSession& remote, int64_t k, size_t blob_bytes) const {
  const Library& library = libraries_[static_cast<size_t>(k) % libraries_.size()];
  const size_t variant = static_cast<size_t>(k / static_cast<int64_t>(libraries_.size())) % kInputs;
  RETURN_IF_ERROR(remote.Upload(library.path, library.label).WithContext("upload library"));
  if (blob_bytes > 0) {
    std::string blob(blob_bytes, '\0');
    std::mt19937_64 engine(static_cast<uint64_t>(k) * 0x9E3779B97F4A7C15ull + 17);
    for (size_t i = 0; i + 8 <= blob.size(); i += 8) {
      const uint64_t v = engine();
      std::memcpy(&blob[i], &v, 8);
    }
    RETURN_IF_ERROR(remote.UploadBytes(blob, "blob.bin").WithContext("upload blob"));
  }
  ASSIGN_OR_RETURN(Module lib, remote.LoadModule(library.label));
  ASSIGN_OR_RETURN(ExecutorModule executor,
                   ExecutorModule::Create(lib, library.key, remote.Cpu(0)));
  RETURN_IF_ERROR(executor.SetInput("data", library.inputs[variant]).WithContext("set_input"));
  RETURN_IF_ERROR(executor.Run().WithContext("run"));
  ASSIGN_OR_RETURN(NDArray output, executor.GetOutput(0));
  ASSIGN_OR_RETURN(NDArray host, output.CopyTo(Device::Cpu()));
  const NDArray& expected = library.expected[variant];
  if (host.shape() != expected.shape() || host.NumBytes() != expected.NumBytes() ||
      std::memcmp(host.data(), expected.data(), host.NumBytes()) != 0) {
    return InternalError(library.key + " output differs from the local run (max |diff| " +
                         std::to_string(MaxAbsDiff(host, expected)) + ")");
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, uint64_t>> SoakWorkload::LibrarySizes() const {
  std::vector<std::pair<std::string, uint64_t>> sizes;
  for (const Library& l : libraries_) {
    std::error_code ec;
    sizes.emplace_back(l.label, std::filesystem::file_size(l.path, ec));
  }
  return sizes;
}

}  // namespace ferry::soak
