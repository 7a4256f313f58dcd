// load_bench: time to first inference (LoadModule, ExecutorModule::Create, the first run) of a
// model with large packaged parameters, and the memory it takes, against a baseline measured
// in the same run: copying as many bytes as the parameters hold with memcpy.
//
// The model is a torchvision network (resnet18 by default: 11.7 M parameters, 47 MB),
// exported to ONNX by tests/onnx/export_torchvision.py (under /usr/bin/python3) and built into
// one library with packaged parameters. Each measurement runs in a fresh process (this
// program re-executed with --child), so that its memory figures start from nothing and the
// dynamic loader maps the library anew; the library file is in the page cache (warm), since
// the bench wrote it and every variant reads it once before any is measured.
//
// Variants (all in one run, repetitions interleaved):
//   memcpy    the baseline: mmap the library file, memcpy as many bytes as the parameters
//             hold into fresh memory.
//   in_place  what loading does now: the executors reference the parameters in the library's
//             mapping (runtime/library_module.h).
//   copying   what loading did before parameters were used in place, rebuilt from public
//             calls: at load, a copy of the packaged params bytes and a CRC-32 pass over them
//             (the manifest's checksum covered them); at each executor's creation, ParseParams
//             (another CRC-32 pass and a copy into the executor's own arrays, via load_params).
// Each variant also creates and runs a second executor of the same model, to show what one
// more costs. Speed and memory are reported, never asserted.
//
//   cmake --build build -j2 --target load_bench
//   build/bin/load_bench [--model resnet18] [--models-dir DIR] [--executor graph|aot]
//                        [--repeat 5]
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "compiler/export_library.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/subprocess.h"
#include "runtime/binary_io.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "util/arg_parser.h"

#ifndef FERRY_EXPORT_TORCHVISION_SCRIPT
#error "FERRY_EXPORT_TORCHVISION_SCRIPT must name tests/onnx/export_torchvision.py"
#endif

namespace ferry::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kVariants[] = {"memcpy", "in_place", "copying"};

const util::OptionSpec kOptions[] = {
    {"model", "", true, "NAME  torchvision model (default resnet18)"},
    {"models-dir", "", true, "DIR  where NAME.onnx already is (default: export it)"},
    {"executor", "", true, "graph|aot  (default graph)"},
    {"repeat", "", true, "N  processes per variant (default 5)"},
    {"python", "", true, "PATH  Python with torch and torchvision (default /usr/bin/python3)"},
    {"child", "", true, "VARIANT  (internal) measure one variant in this process"},
    {"library", "", true, "PATH  (internal, with --child)"},
    {"key", "", true, "KEY  (internal, with --child)"},
    {"bytes", "", true, "N  (internal, with --child) bytes of the parameters"},
    {"help", "h", false, "this help"},
};

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// This process's resident memory, MB: anonymous and file-backed.
struct Rss {
  double anon_mb = 0, file_mb = 0;
};
Rss ReadRss() {
  Rss rss;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    double kb = 0;
    fields >> key >> kb;
    if (key == "RssAnon:") rss.anon_mb = kb / 1024;
    if (key == "RssFile:") rss.file_mb = kb / 1024;
  }
  return rss;
}

// One measured process's figures ("key=value" on its last line).
using Figures = std::map<std::string, double>;

void Print(const Figures& figures) {
  std::string line = "figures";
  for (const auto& [key, value] : figures) line += " " + key + "=" + std::to_string(value);
  std::printf("%s\n", line.c_str());
}

void AddRss(Figures& f, const std::string& prefix, const Rss& now, const Rss& start) {
  f[prefix + "anon_mb"] = now.anon_mb - start.anon_mb;
  f[prefix + "file_mb"] = now.file_mb - start.file_mb;
}

// A filled input of the model's first input's shape.
StatusOr<NDArray> Input(const ExecutorModule& executor) {
  ASSIGN_OR_RETURN(std::vector<TensorSpec> inputs, executor.GetInputInfo());
  if (inputs.empty()) return InvalidArgumentError("the model has no input");
  ASSIGN_OR_RETURN(NDArray input,
                   NDArray::Empty(inputs[0].info.shape, inputs[0].info.dtype, Device::Cpu()));
  std::memset(input.data(), 0x3e, input.NumBytes());  // 0.18 as float32
  return input;
}

Status FirstRun(const ExecutorModule& executor) {
  ASSIGN_OR_RETURN(NDArray input, Input(executor));
  RETURN_IF_ERROR(executor.SetInput(0, input));
  RETURN_IF_ERROR(executor.Run());
  return executor.GetOutput(0).status();
}

// The baseline: `bytes` bytes of the library file, mapped, copied into fresh memory.
StatusOr<Figures> MeasureMemcpy(const std::string& library, size_t bytes) {
  const Rss start_rss = ReadRss();
  const Clock::time_point start = Clock::now();
  const int fd = ::open(library.c_str(), O_RDONLY);
  if (fd < 0) return UnavailableError("cannot open " + library);
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<size_t>(st.st_size) < bytes) return InvalidArgumentError("library too small");
  void* mapped = ::mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) return UnavailableError("cannot map " + library);
  char* copy = static_cast<char*>(std::malloc(bytes));
  std::memcpy(copy, mapped, bytes);
  Figures f;
  f["total_ms"] = MsSince(start);
  AddRss(f, "", ReadRss(), start_rss);
  volatile char sink = copy[bytes / 2];
  (void)sink;
  std::free(copy);
  ::munmap(mapped, st.st_size);
  return f;
}

// LoadModule, create, first run, then a second executor; `copying` redoes the work loading
// did before parameters were used in place.
StatusOr<Figures> MeasureLoad(const std::string& library, const std::string& key, bool copying) {
  Figures f;
  const Rss start_rss = ReadRss();
  const Clock::time_point start = Clock::now();
  ASSIGN_OR_RETURN(Module lib, LoadModule(library));
  std::string params_copy;  // held with the library, as the manifest held it
  if (copying) {
    ASSIGN_OR_RETURN(auto manifest, GetLibraryManifest(lib));
    for (const ModelRecord& record : manifest->models) {
      if (record.key != key || !record.params_packaged) continue;
      params_copy = std::string(record.packaged_params());
      volatile uint32_t crc = Crc32(params_copy);
      (void)crc;
    }
  }
  f["load_ms"] = MsSince(start);
  auto create = [&]() -> StatusOr<ExecutorModule> {
    ASSIGN_OR_RETURN(ExecutorModule executor, ExecutorModule::Create(lib, key, Device::Cpu()));
    if (copying) RETURN_IF_ERROR(executor.LoadParams(params_copy));
    return executor;
  };
  Clock::time_point at = Clock::now();
  ASSIGN_OR_RETURN(ExecutorModule first, create());
  f["create_ms"] = MsSince(at);
  f["created_anon_mb"] = ReadRss().anon_mb - start_rss.anon_mb;
  at = Clock::now();
  RETURN_IF_ERROR(FirstRun(first));
  f["first_run_ms"] = MsSince(at);
  f["total_ms"] = MsSince(start);
  const Rss one = ReadRss();
  AddRss(f, "", one, start_rss);
  at = Clock::now();
  ASSIGN_OR_RETURN(ExecutorModule second, create());
  RETURN_IF_ERROR(FirstRun(second));
  f["second_ms"] = MsSince(at);
  AddRss(f, "second_", ReadRss(), one);
  return f;
}

int RunChild(const util::ParsedArgs& args) {
  const std::string variant = args.Get("child").value_or("");
  const std::string library = args.Get("library").value_or("");
  StatusOr<Figures> figures = InvalidArgumentError("unknown variant '" + variant + "'");
  if (variant == "memcpy") {
    figures = MeasureMemcpy(library, std::stoull(args.Get("bytes").value_or("0")));
  } else if (variant == "in_place" || variant == "copying") {
    figures = MeasureLoad(library, args.Get("key").value_or(""), variant == "copying");
  }
  if (!figures.ok()) {
    std::fprintf(stderr, "load_bench --child %s: %s\n", variant.c_str(),
                 figures.status().ToString().c_str());
    return 1;
  }
  Print(*figures);
  return 0;
}

// Runs one child and parses its figures.
StatusOr<Figures> RunMeasurement(const std::vector<std::string>& argv, const std::string& log) {
  ASSIGN_OR_RETURN(compiler::ProcessResult run,
                   compiler::RunProcess(argv, log, std::chrono::minutes(5)));
  if (run.signalled || run.exit_code != 0) {
    return InternalError(argv[2] + " failed:\n" + run.output);
  }
  const size_t at = run.output.rfind("figures ");
  if (at == std::string::npos) return InternalError("no figures in:\n" + run.output);
  std::istringstream fields(run.output.substr(at + 8));
  Figures figures;
  std::string pair;
  while (fields >> pair) {
    const size_t eq = pair.find('=');
    if (eq != std::string::npos) figures[pair.substr(0, eq)] = std::stod(pair.substr(eq + 1));
  }
  return figures;
}

std::optional<double> MedianOf(const std::vector<Figures>& runs, const std::string& key) {
  std::vector<double> values;
  for (const Figures& f : runs) {
    if (auto it = f.find(key); it != f.end()) values.push_back(it->second);
  }
  return Median(values);
}

int RunParent(const util::ParsedArgs& args) {
  const std::string model = args.Get("model").value_or("resnet18");
  const std::string executor = args.Get("executor").value_or("graph");
  const int repeat = std::stoi(args.Get("repeat").value_or("5"));
  compiler::TempDir work = compiler::TempDir::Create("ferry-load-bench-").value();
  std::string models_dir = args.Get("models-dir").value_or("");
  if (models_dir.empty()) {
    models_dir = work.path();
    std::fprintf(stderr, "load_bench: exporting %s to ONNX...\n", model.c_str());
    const compiler::ProcessResult exported =
        compiler::RunProcess({args.Get("python").value_or("/usr/bin/python3"),
                              FERRY_EXPORT_TORCHVISION_SCRIPT, models_dir, "--model", model},
                             work.path() + "/export.log", std::chrono::minutes(10))
            .value();
    if (exported.signalled || exported.exit_code != 0) {
      std::fprintf(stderr, "load_bench: the export failed:\n%s\n", exported.output.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "load_bench: importing and building %s (%s executor)...\n", model.c_str(),
               executor.c_str());
  compiler::onnx_import::OnnxImportOptions import_options;
  import_options.key = model;
  const compiler::Model imported =
      compiler::onnx_import::ImportOnnxFile(models_dir + "/" + model + ".onnx", import_options)
          .value();
  const compiler::ModelBuild build{&imported,
                                   executor == "aot" ? ExecutorKind::kAot : ExecutorKind::kGraph};
  const std::string library = work.path() + "/" + model + ".so";
  const Status exported = compiler::ExportLibrary(std::span(&build, 1), library);
  if (!exported.ok()) throw std::runtime_error(exported.ToString());
  // The bytes of the parameters as the library holds them (after the export's own passes).
  size_t param_bytes = 0;
  {
    Module lib = LoadModule(library).value();
    for (const ModelRecord& record : GetLibraryManifest(lib).value()->models) {
      param_bytes += record.packaged_params().size();
    }
  }

  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto argv_of = [&](const std::string& variant) {
    return std::vector<std::string>{self,          "--child", variant,  "--library",
                                    library,       "--key",   model,    "--bytes",
                                    std::to_string(param_bytes)};
  };
  std::map<std::string, std::vector<Figures>> runs;
  // Round 0 warms the page cache and is not counted; then the variants alternate.
  for (int round = 0; round <= repeat; ++round) {
    for (const char* variant : kVariants) {
      std::fprintf(stderr, "load_bench: %s, round %d of %d\n", variant, round, repeat);
      StatusOr<Figures> f = RunMeasurement(argv_of(variant), work.path() + "/child.log");
      if (!f.ok()) throw std::runtime_error(f.status().ToString());
      if (round > 0) runs[variant].push_back(*f);
    }
  }

  std::printf("load_bench: %s, %s executor, %.1f MB of packaged parameters, %d processes per "
              "variant (medians; page cache warm)\n\n",
              model.c_str(), executor.c_str(), param_bytes / 1e6, repeat);
  std::printf("%-9s %8s %9s %9s %9s %8s %9s %9s %9s %9s %11s %11s\n", "variant", "load ms",
              "create ms", "1st run", "total ms", "x memcpy", "anon@crt", "anon MB", "file MB",
              "RSS x cp", "2nd exec ms", "2nd anon MB");
  const std::vector<Figures>& base = runs["memcpy"];
  const std::optional<double> base_ms = MedianOf(base, "total_ms");
  const double base_mb = MedianOf(base, "anon_mb").value_or(0) + MedianOf(base, "file_mb").value_or(0);
  for (const char* variant : kVariants) {
    const std::vector<Figures>& v = runs[variant];
    const std::optional<double> total = MedianOf(v, "total_ms");
    const double mb = MedianOf(v, "anon_mb").value_or(0) + MedianOf(v, "file_mb").value_or(0);
    std::printf("%-9s %8s %9s %9s %9s %8s %9s %9s %9s %9s %11s %11s\n", variant,
                Cell(MedianOf(v, "load_ms"), "%.1f").c_str(),
                Cell(MedianOf(v, "create_ms"), "%.1f").c_str(),
                Cell(MedianOf(v, "first_run_ms"), "%.1f").c_str(), Cell(total, "%.1f").c_str(),
                Cell(total && base_ms ? std::optional(*total / *base_ms) : std::nullopt, "%.2f").c_str(),
                Cell(MedianOf(v, "created_anon_mb"), "%.1f").c_str(),
                Cell(MedianOf(v, "anon_mb"), "%.1f").c_str(),
                Cell(MedianOf(v, "file_mb"), "%.1f").c_str(),
                Cell(base_mb > 0 ? std::optional(mb / base_mb) : std::nullopt, "%.2f").c_str(),
                Cell(MedianOf(v, "second_ms"), "%.1f").c_str(),
                Cell(MedianOf(v, "second_anon_mb"), "%.1f").c_str());
  }
  std::printf(
      "\nload ms: LoadModule (copying: plus the copy and CRC-32 of the params); create ms:\n"
      "ExecutorModule::Create (copying: plus load_params of the copy); 1st run: set input, run,\n"
      "get output; total: all three (memcpy: map + copy). anon@crt: growth of RssAnon over the\n"
      "process's start once the executor is created; anon MB / file MB: growth of RssAnon /\n"
      "RssFile after the first run (intermediates, kernel state, touched library pages\n"
      "included); RSS x cp: (anon + file) over memcpy's.\n"
      "2nd exec: creating and running a second executor of the same model, and the\n"
      "anonymous memory it adds.\n");
  return 0;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> raw(argv + 1, argv + argc);
  StatusOr<util::ParsedArgs> args = util::ParseArgs(raw, kOptions);
  if (!args.ok() || args->Has("help")) {
    std::fprintf(args.ok() ? stdout : stderr, "%susage: load_bench [options]\n%s",
                 args.ok() ? "" : (args.status().ToString() + "\n").c_str(),
                 util::FormatOptions(kOptions).c_str());
    return args.ok() ? 0 : 2;
  }
  return args->Has("child") ? RunChild(*args) : RunParent(*args);
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::RunMain("load_bench", ferry::bench::Main, argc, argv); }
