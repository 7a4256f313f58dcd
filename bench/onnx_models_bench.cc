// onnx_models_bench: single-image latency of torchvision models (resnet18, mobilenet_v2,
// squeezenet1_1) built by Ferry, with the graph and with the AOT executor, against PyTorch
// running the same networks on the same number of threads.
//
// Steps:
//   1. The models: tests/onnx/export_torchvision.py (Debian's /usr/bin/python3) exports them
//      into a temporary directory, or --models-dir names a directory of its earlier outputs
//      (NAME.onnx, NAME.input.npy, NAME.output.npy).
//   2. Ferry, in this process: each model is imported (ImportOnnxFile, passes on), built into
//      one library per executor (ExportLibrary), loaded and given the recorded input once.
//      After one checked run (its output against PyTorch's recorded one) and --warmup
//      untimed runs, each of --runs runs of ExecutorModule::Run() is timed (steady_clock).
//   3. PyTorch: bench/torch_latency.py re-creates each model with export_torchvision.py's
//      make_model (same architecture, seed and statistics; it checks its output against the
//      recorded one) and times `model(x)` under torch.no_grad() the same way, twice: with
//      glibc malloc tuned to keep freed memory (kKeepHeapTunables: the baseline of `ratio`)
//      and with the environment as it is. PyTorch allocates its intermediates on every call;
//      with glibc's defaults many of them are fresh pages, and a minor page fault costs
//      10-20 us on a small VM, which can triple a model's time. Ferry's executors allocate
//      nothing per run. Minor page faults per run are reported for all three.
// Threads: --threads T (default 1) for both. Ferry's kernels are single-threaded except BLAS
// (its GEMMs: convolutions and dense layers), so T goes to OpenBLAS through
// openblas_set_num_threads before anything runs (the library has already initialised when main
// starts, so the environment variable would come too late) and is read back with
// openblas_get_num_threads. PyTorch gets torch.set_num_threads(T), with OMP_NUM_THREADS and
// OPENBLAS_NUM_THREADS set to T before torch loads (torch_latency.py). Both counts are printed.
// Speed is reported, never asserted. See bench/README.md.
#include <dlfcn.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_main.h"
#include "compiler/export_library.h"
#include "compiler/model.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/subprocess.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "runtime/npy.h"
#include "util/arg_parser.h"

#ifndef FERRY_EXPORT_TORCHVISION_SCRIPT
#error "FERRY_EXPORT_TORCHVISION_SCRIPT must name tests/onnx/export_torchvision.py"
#endif
#ifndef FERRY_TORCH_LATENCY_SCRIPT
#error "FERRY_TORCH_LATENCY_SCRIPT must name bench/torch_latency.py"
#endif

namespace ferry::bench {
namespace {

using Clock = std::chrono::steady_clock;

const char* const kModels[] = {"resnet18", "mobilenet_v2", "squeezenet1_1"};
constexpr std::chrono::minutes kScriptTimeout{5};
// The scripts' "torch or torchvision is missing" exit code.
constexpr int kMissingPackagesExitCode = 3;
// glibc malloc settings for PyTorch's "kept heap" runs: blocks up to 32 MiB (the largest
// threshold glibc accepts) come from the heap, and up to 1 GiB of free heap is kept instead of
// being returned to the kernel, so that each run reuses the pages of the one before.
constexpr char kKeepHeapTunables[] =
    "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824";

const util::OptionSpec kOptions[] = {
    {"models-dir", "", true, "DIR  use export_torchvision.py's outputs in DIR (default: export)"},
    {"model", "", true, "NAME  only this model (repeatable; default: all three)"},
    {"threads", "", true, "T  threads for Ferry's BLAS and for PyTorch (default 1)"},
    {"runs", "", true, "N  timed runs per model and executor (default 30)"},
    {"warmup", "", true, "N  untimed runs before them (default 5)"},
    {"python", "", true, "PATH  the Python with torch and torchvision (default /usr/bin/python3)"},
    {"help", "h", false, "show this help"},
};

struct Options {
  std::string models_dir;
  std::vector<std::string> models;
  int threads = 1;
  int runs = 30;
  int warmup = 5;
  std::string python = "/usr/bin/python3";
};

// Latencies of one configuration, and how far its output is from PyTorch's recorded one.
struct Timing {
  std::vector<double> times_ms;
  double max_abs_diff = -1;   // -1: not checked
  double faults_per_run = 0;  // minor page faults of the process per timed run
  int threads = 0;            // PyTorch: torch.get_num_threads()
};

// PyTorch's two measurements of one model.
struct TorchTimings {
  Timing kept_heap;  // under kKeepHeapTunables
  Timing plain;      // the environment as it is
};

struct Row {
  std::string model;
  std::string executor;
  Timing ferry;
};

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// The value at rank ceil(p * n) (nearest rank) of `v`; nullopt when it is empty.
std::optional<double> Percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

StatusOr<int> PositiveInt(const util::ParsedArgs& parsed, const std::string& name, int fallback) {
  const std::optional<std::string> text = parsed.Get(name);
  if (!text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || *end != '\0' || value < 1 || value > 1000000) {
    return InvalidArgumentError("--" + name + " needs a positive integer, got '" + *text + "'");
  }
  return static_cast<int>(value);
}

// Sets OpenBLAS's thread count and returns the count it reports. Errors: kUnavailable when
// the BLAS in this process is not OpenBLAS.
StatusOr<int> SetBlasThreads(int threads) {
  using SetThreads = void (*)(int);
  using GetThreads = int (*)();
  auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set == nullptr || get == nullptr) {
    return UnavailableError("the BLAS library is not OpenBLAS: cannot set its thread count");
  }
  set(threads);
  return get();
}

// Runs `argv`, one of the Python scripts; returns its output. Errors: kFailedPrecondition when
// torch or torchvision is missing; kInternal when the script fails; those of RunProcess.
StatusOr<std::string> RunScript(const std::vector<std::string>& argv, const std::string& log_path) {
  ASSIGN_OR_RETURN(compiler::ProcessResult run,
                   compiler::RunProcess(argv, log_path, kScriptTimeout));
  std::string command;
  for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;
  if (!run.signalled && run.exit_code == kMissingPackagesExitCode) {
    return FailedPreconditionError("torch or torchvision is missing: " + command + ":\n" +
                                   run.output);
  }
  if (run.signalled || run.exit_code != 0) {
    return InternalError(command + " failed (exit " + std::to_string(run.exit_code) + ", signal " +
                         std::to_string(run.signal) + "):\n" + run.output);
  }
  return run.output;
}

// Largest |a[i] - b[i]| of two float32 arrays; infinity when their shapes differ.
double MaxAbsDiff(const NDArray& a, const NDArray& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < a.NumElements(); ++i) {
    const double d = std::fabs(static_cast<double>(a.data_as<float>()[i]) - b.data_as<float>()[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

// Builds `model` with `executor` into a library under `work_dir` and times its runs.
StatusOr<Timing> TimeFerry(const Options& options, const compiler::Model& model,
                           const std::string& executor, const std::string& work_dir,
                           const NDArray& input, const NDArray& expected) {
  const compiler::ModelBuild build{&model,
                                   executor == "aot" ? ExecutorKind::kAot : ExecutorKind::kGraph};
  const std::string library = work_dir + "/" + model.key + "_" + executor + ".so";
  RETURN_IF_ERROR(
      compiler::ExportLibrary(std::span<const compiler::ModelBuild>(&build, 1), library));

  ASSIGN_OR_RETURN(Module lib, LoadModule(library));
  ASSIGN_OR_RETURN(ExecutorModule run, ExecutorModule::Create(lib, model.key, Device::Cpu()));
  RETURN_IF_ERROR(run.SetInput("data", input));
  RETURN_IF_ERROR(run.Run());
  ASSIGN_OR_RETURN(NDArray output, run.GetOutput(0));
  ASSIGN_OR_RETURN(output, output.CopyTo(Device::Cpu()));
  Timing timing;
  timing.max_abs_diff = MaxAbsDiff(output, expected);
  for (int i = 0; i < options.warmup; ++i) RETURN_IF_ERROR(run.Run());
  const long faults = MinorFaults();
  for (int i = 0; i < options.runs; ++i) {
    const Clock::time_point start = Clock::now();
    const Status status = run.Run();
    const Clock::time_point end = Clock::now();
    RETURN_IF_ERROR(status);
    timing.times_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  timing.faults_per_run = static_cast<double>(MinorFaults() - faults) / options.runs;
  return timing;
}

// The number after `"key": ` in a line of torch_latency.py's JSON.
std::optional<double> JsonNumber(const std::string& line, const std::string& key) {
  const size_t at = line.find("\"" + key + "\": ");
  if (at == std::string::npos) return std::nullopt;
  const char* start = line.c_str() + at + key.size() + 4;
  char* end = nullptr;
  const double value = std::strtod(start, &end);
  if (end == start) return std::nullopt;
  return value;
}

// One line of torch_latency.py's output (see its docstring): {"model": ..., "threads": ...,
// "max_abs_diff": ..., "faults_per_run": ..., "times_ms": [...]}. Errors: kInvalidArgument.
StatusOr<std::pair<std::string, Timing>> ParseTorchLine(const std::string& line) {
  const std::string model_key = "{\"model\": \"";
  const size_t list_at = line.find("\"times_ms\": [");
  std::optional<double> threads = JsonNumber(line, "threads");
  std::optional<double> diff = JsonNumber(line, "max_abs_diff");
  std::optional<double> faults = JsonNumber(line, "faults_per_run");
  if (line.rfind(model_key, 0) != 0 || list_at == std::string::npos || !threads || !diff ||
      !faults) {
    return InvalidArgumentError("unexpected line from torch_latency.py: " + line);
  }
  const size_t name_end = line.find('"', model_key.size());
  std::pair<std::string, Timing> out;
  out.first = line.substr(model_key.size(), name_end - model_key.size());
  out.second.threads = static_cast<int>(*threads);
  out.second.max_abs_diff = *diff;
  out.second.faults_per_run = *faults;
  std::istringstream list(line.substr(list_at + 13));
  double value = 0;
  char separator = 0;
  while (list >> value) {
    out.second.times_ms.push_back(value);
    if (!(list >> separator) || separator == ']') break;
  }
  return out;
}

// Times PyTorch on `model` with torch_latency.py, under kKeepHeapTunables when `keep_heap`.
StatusOr<Timing> TimeTorch(const Options& options, const std::string& model, bool keep_heap,
                           const std::string& work_dir) {
  std::vector<std::string> args = {FERRY_TORCH_LATENCY_SCRIPT,
                                   "--model",
                                   model,
                                   "--models-dir",
                                   options.models_dir,
                                   "--threads",
                                   std::to_string(options.threads),
                                   "--runs",
                                   std::to_string(options.runs),
                                   "--warmup",
                                   std::to_string(options.warmup)};
  if (keep_heap) {
    // env(1) sets the variable for the interpreter alone.
    args.insert(args.begin(), {"/usr/bin/env", kKeepHeapTunables, options.python});
  } else {
    args.insert(args.begin(), options.python);
  }
  ASSIGN_OR_RETURN(std::string output,
                   RunScript(args, work_dir + "/torch_latency_" + model +
                                       (keep_heap ? "_kept.log" : "_plain.log")));
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{", 0) != 0) continue;  // e.g. warnings on stderr
    ASSIGN_OR_RETURN(auto parsed, ParseTorchLine(line));
    if (parsed.first == model) return parsed.second;
  }
  return InternalError("torch_latency.py gave no line for " + model + ":\n" + output);
}

// Ferry median / PyTorch median; nullopt when either is missing.
std::optional<double> Ratio(const Timing& ferry, const Timing& torch) {
  const std::optional<double> f = Median(ferry.times_ms), t = Median(torch.times_ms);
  if (!f || !t || *t <= 0) return std::nullopt;
  return *f / *t;
}

void PrintTable(const Options& options, int blas_threads, const std::vector<Row>& rows,
                const std::map<std::string, TorchTimings>& torch) {
  const int torch_threads = torch.empty() ? 0 : torch.begin()->second.kept_heap.threads;
  std::printf(
      "\nSingle-image latency, input float32[1, 3, 224, 224]; %d timed runs after %d warm-up\n"
      "runs, on a machine with %u hardware threads.\n"
      "  Ferry: ExecutorModule::Run() in this process; OpenBLAS threads = %d (the other kernels\n"
      "    run on one thread).\n"
      "  PyTorch (%s): model(x) under torch.no_grad(); torch.get_num_threads() = %d.\n"
      "    kept heap: glibc malloc keeps freed memory, under\n"
      "      %s\n"
      "    plain: glibc's defaults (the environment as it is).\n"
      "  ratio = Ferry median / PyTorch median (below 1: Ferry is faster). faults = minor page\n"
      "  faults per run. max|diff| = largest |Ferry - PyTorch's recorded output| over the\n"
      "  1000 logits.\n\n",
      options.runs, options.warmup, std::thread::hardware_concurrency(), blas_threads,
      options.python.c_str(), torch_threads, kKeepHeapTunables);
  std::printf("%-21s %-17s  %-24s  %-15s  %-17s\n", "", "Ferry", "PyTorch, kept heap",
              "PyTorch, plain", "faults per run");
  std::printf("%-14s %-6s %8s %8s  %8s %8s %6s  %8s %6s  %5s %5s %5s  %9s\n", "model", "exec",
              "med ms", "p90 ms", "med ms", "p90 ms", "ratio", "med ms", "ratio", "ferry", "kept",
              "plain", "max|diff|");
  for (const Row& row : rows) {
    const TorchTimings& t = torch.at(row.model);
    std::printf("%-14s %-6s %8s %8s  %8s %8s %6s  %8s %6s  %5.0f %5.0f %5.0f  %9.1e\n",
                row.model.c_str(), row.executor.c_str(),
                Cell(Median(row.ferry.times_ms), "%.2f").c_str(),
                Cell(Percentile(row.ferry.times_ms, 0.9), "%.2f").c_str(),
                Cell(Median(t.kept_heap.times_ms), "%.2f").c_str(),
                Cell(Percentile(t.kept_heap.times_ms, 0.9), "%.2f").c_str(),
                Cell(Ratio(row.ferry, t.kept_heap), "%.2f").c_str(),
                Cell(Median(t.plain.times_ms), "%.2f").c_str(),
                Cell(Ratio(row.ferry, t.plain), "%.2f").c_str(), row.ferry.faults_per_run,
                t.kept_heap.faults_per_run, t.plain.faults_per_run, row.ferry.max_abs_diff);
  }
  for (const auto& [model, t] : torch) {
    for (const Timing* timing : {&t.kept_heap, &t.plain}) {
      if (timing->max_abs_diff > 1e-5) {
        std::printf(
            "warning: PyTorch's %s differs from the recorded output by %.2e: it is not the\n"
            "network the ONNX file holds (were --models-dir's files exported by another\n"
            "version of export_torchvision.py?)\n",
            model.c_str(), timing->max_abs_diff);
      }
      if (timing->threads != options.threads) {
        std::printf("warning: PyTorch used %d threads for %s, not %d\n", timing->threads,
                    model.c_str(), options.threads);
      }
    }
  }
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  StatusOr<util::ParsedArgs> parsed = util::ParseArgs(args, kOptions);
  const std::string usage =
      "usage: onnx_models_bench [options]\n\n" + util::FormatOptions(kOptions);
  if (!parsed.ok() || parsed->Has("help") || !parsed->positional().empty()) {
    if (!parsed.ok()) {
      std::fprintf(stderr, "onnx_models_bench: %s\n", parsed.status().message().c_str());
    }
    std::fprintf(parsed.ok() && parsed->Has("help") ? stdout : stderr, "%s", usage.c_str());
    return parsed.ok() && parsed->Has("help") ? 0 : 2;
  }
  Options options;
  options.models_dir = parsed->Get("models-dir").value_or("");
  options.models = parsed->All("model");
  if (options.models.empty()) options.models.assign(std::begin(kModels), std::end(kModels));
  options.python = parsed->Get("python").value_or(options.python);
  const StatusOr<int> threads = PositiveInt(*parsed, "threads", options.threads);
  const StatusOr<int> runs = PositiveInt(*parsed, "runs", options.runs);
  const StatusOr<int> warmup = PositiveInt(*parsed, "warmup", options.warmup);
  for (const StatusOr<int>* v : {&threads, &runs, &warmup}) {
    if (!v->ok()) {
      std::fprintf(stderr, "onnx_models_bench: %s\n%s", v->status().message().c_str(),
                   usage.c_str());
      return 2;
    }
  }
  options.threads = *threads;
  options.runs = *runs;
  options.warmup = *warmup;

  // Before any BLAS call.
  const StatusOr<int> blas_threads = SetBlasThreads(options.threads);
  if (!blas_threads.ok()) throw StatusError(blas_threads.status());

  compiler::TempDir work_dir = compiler::TempDir::Create("ferry-onnx-bench-").value();
  if (options.models_dir.empty()) {
    options.models_dir = work_dir.path() + "/models";
    std::fprintf(stderr, "onnx_models_bench: exporting the models with PyTorch...\n");
    std::vector<std::string> export_args = {options.python, FERRY_EXPORT_TORCHVISION_SCRIPT,
                                            options.models_dir};
    for (const std::string& model : options.models) {
      export_args.insert(export_args.end(), {"--model", model});
    }
    const StatusOr<std::string> exported = RunScript(export_args, work_dir.path() + "/export.log");
    if (!exported.ok()) throw StatusError(exported.status());
  }

  // Model by model, Ferry's two executors and then PyTorch, so that the numbers compared are
  // taken close together in time.
  std::vector<Row> rows;
  std::map<std::string, TorchTimings> torch;
  for (const std::string& model : options.models) {
    const std::string prefix = options.models_dir + "/" + model;
    const NDArray input = LoadNpy(prefix + ".input.npy").value();
    const NDArray expected = LoadNpy(prefix + ".output.npy").value();
    compiler::onnx_import::OnnxImportOptions import_options;
    import_options.key = model;
    const compiler::Model imported =
        compiler::onnx_import::ImportOnnxFile(prefix + ".onnx", import_options).value();
    for (const std::string executor : {"graph", "aot"}) {
      std::fprintf(stderr, "onnx_models_bench: %s, Ferry's %s executor: building and timing...\n",
                   model.c_str(), executor.c_str());
      Row row{model, executor, {}};
      row.ferry = TimeFerry(options, imported, executor, work_dir.path(), input, expected).value();
      rows.push_back(std::move(row));
    }
    std::fprintf(stderr, "onnx_models_bench: %s, PyTorch: timing...\n", model.c_str());
    torch[model].kept_heap = TimeTorch(options, model, true, work_dir.path()).value();
    torch[model].plain = TimeTorch(options, model, false, work_dir.path()).value();
  }
  PrintTable(options, *blas_threads, rows, torch);
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  return ferry::bench::RunMain("onnx_models_bench", ferry::bench::Main, argc, argv);
}
