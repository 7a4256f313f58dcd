// onnx_models_bench: single-input (batch 1) latency of torchvision models (resnet18,
// mobilenet_v2, squeezenet1_1 by default; --model transformer_encoder adds a transformer
// encoder block, torch.nn.TransformerEncoderLayer on [1, 128, 256]) built by Ferry, with the
// graph and with the AOT executor, against ONNX Runtime (the main baseline) and PyTorch running
// the same networks on the same number of threads.
//
// Steps:
//   1. The models: tests/onnx/export_torchvision.py (Debian's /usr/bin/python3) exports them
//      into a temporary directory, or --models-dir names a directory of its earlier outputs
//      (NAME.onnx, NAME.input.npy, NAME.output.npy). Each model's input shape is that of
//      NAME.input.npy, which all three runners feed it.
//   2. Ferry, in this process: each model is imported (ImportOnnxFile, passes on), built into
//      one library per executor (ExportLibrary), loaded and given the recorded input once.
//      The time to first inference is timed from loading the library to the first output.
//      After that checked run (its output against PyTorch's recorded one) and --warmup
//      untimed runs, each of --runs runs of ExecutorModule::Run() is timed (steady_clock).
//   3. ONNX Runtime: bench/ort_latency.js, under node, runs the same .onnx file with
//      onnxruntime-node (installed by bench/install_onnxruntime into --onnxruntime DIR, by
//      default this build directory's onnxruntime-node/) and times session.run() the same
//      way, after timing session creation and the first run. Without the package the bench
//      says how to install it and reports Ferry and PyTorch only.
//   4. PyTorch: bench/torch_latency.py re-creates each model with export_torchvision.py's
//      make_model (same architecture, seed and statistics; it checks its output against the
//      recorded one) and times `model(x)` under torch.no_grad() the same way, twice: with
//      glibc malloc tuned to keep freed memory (kKeepHeapTunables) and with the environment as
//      it is. PyTorch allocates its intermediates on every call; with glibc's defaults many of
//      them are fresh pages, and a minor page fault costs 10-20 us on a small VM, which can
//      triple a model's time. Ferry's executors allocate nothing per run. Minor page faults per
//      run are reported for all of them.
// Compute: the FLOPs of each model are counted on Ferry's imported graph (2 * multiply-adds of
// conv2d, conv2d_transpose, dense and matmul nodes, a matrix product being 2 * M * N * K for
// each of a matmul's batches; everything else is left out) and divided by the medians; this
// core's peak is measured with an FMA-throughput loop on one thread (AVX-512, else AVX2;
// MeasurePeakGflops) and multiplied by the thread count.
// Threads: --threads T (default 1) for all. Ferry gets SetKernelThreads(T)
// (runtime/kernel_threads.h: its kernels' OpenMP pool and OpenBLAS's), which every run applies;
// OpenBLAS's count is read back with openblas_get_num_threads. ONNX Runtime gets
// intraOpNumThreads = T (interOpNumThreads = 1, sequential execution). PyTorch gets
// torch.set_num_threads(T), with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to T before torch
// loads (torch_latency.py). The counts are printed.
// Speed is reported, never asserted. See bench/README.md.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__x86_64__)
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_main.h"
#include "bench/flop_count.h"
#include "bench/peak_flops.h"
#include "compiler/export_library.h"
#include "compiler/model.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/subprocess.h"
#include "runtime/executor_module.h"
#include "runtime/kernel_threads.h"
#include "runtime/library_module.h"
#include "runtime/npy.h"
#include "util/arg_parser.h"

#ifndef FERRY_EXPORT_TORCHVISION_SCRIPT
#error "FERRY_EXPORT_TORCHVISION_SCRIPT must name tests/onnx/export_torchvision.py"
#endif
#ifndef FERRY_TORCH_LATENCY_SCRIPT
#error "FERRY_TORCH_LATENCY_SCRIPT must name bench/torch_latency.py"
#endif
#ifndef FERRY_ORT_LATENCY_SCRIPT
#error "FERRY_ORT_LATENCY_SCRIPT must name bench/ort_latency.js"
#endif
#ifndef FERRY_INSTALL_ONNXRUNTIME_SCRIPT
#error "FERRY_INSTALL_ONNXRUNTIME_SCRIPT must name bench/install_onnxruntime"
#endif
#ifndef FERRY_ONNXRUNTIME_DIR
#error "FERRY_ONNXRUNTIME_DIR must name the build directory's onnxruntime-node cache"
#endif

namespace ferry::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The default models; export_torchvision.py knows others (any torchvision classifier, and
// transformer_encoder), which --model selects.
const char* const kModels[] = {"resnet18", "mobilenet_v2", "squeezenet1_1"};
constexpr std::chrono::minutes kScriptTimeout{5};
// The scripts' "a package is missing" exit code: torch or torchvision for the Python ones,
// onnxruntime-node for ort_latency.js.
constexpr int kMissingPackagesExitCode = 3;
// ONNX Runtime's or PyTorch's output further than this from the recorded one is worth a warning.
constexpr double kOrtDiffWarning = 1e-3;
constexpr double kTorchDiffWarning = 1e-5;
// glibc malloc settings for PyTorch's "kept heap" runs: blocks up to 32 MiB (the largest
// threshold glibc accepts) come from the heap, and up to 1 GiB of free heap is kept instead of
// being returned to the kernel, so that each run reuses the pages of the one before.
constexpr char kKeepHeapTunables[] =
    "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824";

const util::OptionSpec kOptions[] = {
    {"models-dir", "", true, "DIR  use export_torchvision.py's outputs in DIR (default: export)"},
    {"model", "", true,
     "NAME  only this model (repeatable; default: the three CNNs; also transformer_encoder)"},
    {"threads", "", true, "T  threads for Ferry, ONNX Runtime and PyTorch (default 1)"},
    {"runs", "", true, "N  timed runs per model and executor (default 30)"},
    {"warmup", "", true, "N  untimed runs before them (default 5)"},
    {"python", "", true, "PATH  the Python with torch and torchvision (default /usr/bin/python3)"},
    {"onnxruntime", "", true,
     "DIR  where bench/install_onnxruntime put onnxruntime-node (default: " FERRY_ONNXRUNTIME_DIR
     ")"},
    {"node", "", true, "PATH  node, which runs ort_latency.js (default /usr/bin/node)"},
    {"help", "h", false, "show this help"},
};

struct Options {
  std::string models_dir;
  std::vector<std::string> models;
  int threads = 1;
  int runs = 30;
  int warmup = 5;
  std::string python = "/usr/bin/python3";
  std::string onnxruntime = FERRY_ONNXRUNTIME_DIR;
  std::string node = "/usr/bin/node";
};

// Latencies of one configuration, and how far its output is from PyTorch's recorded one.
struct Timing {
  std::vector<double> times_ms;
  double max_abs_diff = -1;   // -1: not checked
  double faults_per_run = 0;  // minor page faults of the process per timed run
  int threads = 0;            // PyTorch: torch.get_num_threads(); ONNX Runtime: intraOpNumThreads
  // Time to first inference, in three parts; -1: not measured (or, for ONNX Runtime's load,
  // not part of it).
  //   Ferry: LoadModule of the library; ExecutorModule::Create; setting the input, the first
  //     Run() and reading its output.
  //   ONNX Runtime: -; InferenceSession.create from the .onnx file; the first session.run.
  double load_ms = -1;
  double create_ms = -1;
  double first_run_ms = -1;
};

// The time to first inference of `t`: the parts it has; -1 without a first run.
double FirstInferenceMs(const Timing& t) {
  if (t.first_run_ms < 0) return -1;
  return std::max(t.load_ms, 0.0) + std::max(t.create_ms, 0.0) + t.first_run_ms;
}

// ONNX Runtime's measurement of one model (ort_latency.js).
struct OrtTiming {
  Timing timing;
  std::string version;    // onnxruntime-node's
  double library_ms = 0;  // require() of the package, which loads libonnxruntime.so
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

// Sets Ferry's kernel thread count (kernel_threads.h: the OpenMP pool and OpenBLAS's, applied
// again at every run) and returns what the header says of OpenBLAS: "OpenBLAS threads = N"
// (the count it reports afterwards), or that this process has no OpenBLAS (builds with oneDNN
// do their matrix products with oneDNN's sgemm, runtime/kernels/gemm.h, and need none).
// Errors: kInvalidArgument for a count SetKernelThreads refuses.
StatusOr<std::string> SetFerryThreads(int threads) {
  RETURN_IF_ERROR(SetKernelThreads(threads));
  using GetThreads = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (get == nullptr) return std::string("no OpenBLAS in this process");
  return "OpenBLAS threads = " + std::to_string(get());
}

// Runs `argv`, one of the scripts; returns its output. Errors: kFailedPrecondition when it
// exits with kMissingPackagesExitCode (`missing` names what is then missing); kInternal when
// the script fails; those of RunProcess.
StatusOr<std::string> RunScript(const std::vector<std::string>& argv, const std::string& log_path,
                                const std::string& missing = "torch or torchvision") {
  ASSIGN_OR_RETURN(compiler::ProcessResult run,
                   compiler::RunProcess(argv, log_path, kScriptTimeout));
  std::string command;
  for (const std::string& arg : argv) command += (command.empty() ? "" : " ") + arg;
  if (!run.signalled && run.exit_code == kMissingPackagesExitCode) {
    return FailedPreconditionError(missing + " is missing: " + command + ":\n" + run.output);
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

// The name of `model`'s one input, which `input` (NAME.input.npy) must match in shape and
// dtype. Errors: kInvalidArgument when the model has another number of inputs or `input` does
// not fit it.
StatusOr<std::string> ModelInput(const compiler::Model& model, const NDArray& input) {
  const ExecGraph& graph = model.graph;
  if (graph.inputs.size() != 1) {
    return InvalidArgumentError(model.key + ": the bench feeds one input; the model has " +
                                std::to_string(graph.inputs.size()));
  }
  const TensorInfo& expected = graph.entries[graph.inputs[0].entry];
  const TensorInfo given{input.shape(), input.dtype()};
  if (given != expected) {
    return InvalidArgumentError(model.key + ": its input '" + graph.inputs[0].name + "' is " +
                                expected.ToString() + ", the recorded input " + given.ToString());
  }
  return graph.inputs[0].name;
}

// Builds `model` with `executor` into a library under `work_dir` and times its runs.
// `input_name` is the model's one input, which `input` is fed to.
StatusOr<Timing> TimeFerry(const Options& options, const compiler::Model& model,
                           const std::string& executor, const std::string& work_dir,
                           const std::string& input_name, const NDArray& input,
                           const NDArray& expected) {
  const compiler::ModelBuild build{&model,
                                   executor == "aot" ? ExecutorKind::kAot : ExecutorKind::kGraph};
  const std::string library = work_dir + "/" + model.key + "_" + executor + ".so";
  RETURN_IF_ERROR(
      compiler::ExportLibrary(std::span<const compiler::ModelBuild>(&build, 1), library));

  // Time to first inference: from the library file to the first output in hand.
  const auto ms_since = [](Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  };
  Timing timing;
  Clock::time_point start = Clock::now();
  ASSIGN_OR_RETURN(Module lib, LoadModule(library));
  timing.load_ms = ms_since(start);
  start = Clock::now();
  ASSIGN_OR_RETURN(ExecutorModule run, ExecutorModule::Create(lib, model.key, Device::Cpu()));
  timing.create_ms = ms_since(start);
  start = Clock::now();
  RETURN_IF_ERROR(run.SetInput(input_name, input));
  RETURN_IF_ERROR(run.Run());
  ASSIGN_OR_RETURN(NDArray output, run.GetOutput(0));
  ASSIGN_OR_RETURN(output, output.CopyTo(Device::Cpu()));
  timing.first_run_ms = ms_since(start);
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

// One line of torch_latency.py's or ort_latency.js's output: a flat JSON object of strings,
// numbers and one list of numbers, "times_ms" (their docstrings). Python's json writes
// `"key": value`, JavaScript's `"key":value`; both are read.
class JsonLine {
 public:
  explicit JsonLine(std::string line) : line_(std::move(line)) {}

  // The number that is `key`'s value; nullopt when the key or a number is missing.
  std::optional<double> Number(const std::string& key) const {
    const std::optional<size_t> at = ValueAt(key);
    if (!at) return std::nullopt;
    const char* start = line_.c_str() + *at;
    char* end = nullptr;
    const double value = std::strtod(start, &end);
    if (end == start) return std::nullopt;
    return value;
  }

  // The string that is `key`'s value (without escapes: model names and versions have none).
  std::optional<std::string> String(const std::string& key) const {
    const std::optional<size_t> at = ValueAt(key);
    if (!at || line_[*at] != '"') return std::nullopt;
    const size_t end = line_.find('"', *at + 1);
    if (end == std::string::npos) return std::nullopt;
    return line_.substr(*at + 1, end - *at - 1);
  }

  // The list of numbers that is `key`'s value.
  std::optional<std::vector<double>> Numbers(const std::string& key) const {
    const std::optional<size_t> at = ValueAt(key);
    if (!at || line_[*at] != '[') return std::nullopt;
    std::vector<double> values;
    const char* p = line_.c_str() + *at + 1;
    while (true) {
      while (*p == ' ' || *p == ',') ++p;
      if (*p == ']') return values;
      char* end = nullptr;
      const double value = std::strtod(p, &end);
      if (end == p) return std::nullopt;
      values.push_back(value);
      p = end;
    }
  }

 private:
  // Where the value of `key` starts.
  std::optional<size_t> ValueAt(const std::string& key) const {
    size_t at = line_.find("\"" + key + "\"");
    if (at == std::string::npos) return std::nullopt;
    at += key.size() + 2;
    while (at < line_.size() && line_[at] == ' ') ++at;
    if (at >= line_.size() || line_[at] != ':') return std::nullopt;
    ++at;
    while (at < line_.size() && line_[at] == ' ') ++at;
    if (at >= line_.size()) return std::nullopt;
    return at;
  }

  std::string line_;
};

// The model name and the Timing of one line of torch_latency.py's or ort_latency.js's output
// (`script` names it in errors). Errors: kInvalidArgument.
StatusOr<std::pair<std::string, Timing>> ParseTimingLine(const JsonLine& json,
                                                         const std::string& line,
                                                         const char* script) {
  const std::optional<std::string> model = json.String("model");
  const std::optional<double> threads = json.Number("threads");
  const std::optional<double> diff = json.Number("max_abs_diff");
  const std::optional<double> faults = json.Number("faults_per_run");
  std::optional<std::vector<double>> times = json.Numbers("times_ms");
  if (!model || !threads || !diff || !faults || !times) {
    return InvalidArgumentError(std::string("unexpected line from ") + script + ": " + line);
  }
  std::pair<std::string, Timing> out;
  out.first = *model;
  out.second.threads = static_cast<int>(*threads);
  out.second.max_abs_diff = *diff;
  out.second.faults_per_run = *faults;
  out.second.times_ms = std::move(*times);
  return out;
}

// The line of `output` (a script's) for `model`. Errors: kInvalidArgument for a malformed
// line; kInternal when there is none for `model`.
StatusOr<std::pair<JsonLine, Timing>> FindTimingLine(const std::string& output,
                                                     const std::string& model, const char* script) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{", 0) != 0) continue;  // e.g. warnings on stderr
    JsonLine json(line);
    ASSIGN_OR_RETURN(auto parsed, ParseTimingLine(json, line, script));
    if (parsed.first == model) return std::pair{std::move(json), std::move(parsed.second)};
  }
  return InternalError(std::string(script) + " gave no line for " + model + ":\n" + output);
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
  ASSIGN_OR_RETURN(auto found, FindTimingLine(output, model, "torch_latency.py"));
  return std::move(found.second);
}

// Why ONNX Runtime cannot be run (node or the package is missing); nullopt when it can.
std::optional<std::string> OrtMissing(const Options& options) {
  if (access(options.node.c_str(), X_OK) != 0) {
    return options.node + " is not executable (node runs ort_latency.js; --node names another)";
  }
  const std::string package = options.onnxruntime + "/node_modules/onnxruntime-node";
  if (!std::filesystem::exists(package + "/package.json")) {
    return "onnxruntime-node is not installed in " + options.onnxruntime;
  }
  return std::nullopt;
}

// Times ONNX Runtime on `model` with ort_latency.js, in a node process of its own. Errors:
// kFailedPrecondition when node cannot load onnxruntime-node; those of RunScript.
StatusOr<OrtTiming> TimeOrt(const Options& options, const std::string& model,
                            const std::string& work_dir) {
  const std::vector<std::string> args = {options.node,    FERRY_ORT_LATENCY_SCRIPT,
                                         "--onnxruntime", options.onnxruntime,
                                         "--model",       model,
                                         "--models-dir",  options.models_dir,
                                         "--threads",     std::to_string(options.threads),
                                         "--runs",        std::to_string(options.runs),
                                         "--warmup",      std::to_string(options.warmup)};
  ASSIGN_OR_RETURN(std::string output, RunScript(args, work_dir + "/ort_latency_" + model + ".log",
                                                 "onnxruntime-node"));
  ASSIGN_OR_RETURN(auto found, FindTimingLine(output, model, "ort_latency.js"));
  const std::optional<double> load = found.first.Number("load_ms");
  const std::optional<double> create = found.first.Number("create_ms");
  const std::optional<double> first_run = found.first.Number("first_run_ms");
  const std::optional<std::string> version = found.first.String("version");
  if (!load || !create || !first_run || !version) {
    return InvalidArgumentError("unexpected line from ort_latency.js:\n" + output);
  }
  OrtTiming ort;
  ort.timing = std::move(found.second);
  ort.timing.create_ms = *create;
  ort.timing.first_run_ms = *first_run;
  ort.version = *version;
  ort.library_ms = *load;
  return ort;
}

// Ferry median / baseline median; nullopt when either is missing.
std::optional<double> Ratio(const Timing& ferry, const Timing& baseline) {
  const std::optional<double> f = Median(ferry.times_ms), b = Median(baseline.times_ms);
  if (!f || !b || *b <= 0) return std::nullopt;
  return *f / *b;
}

// `flops` per median run, in GFLOP/s.
std::optional<double> Gflops(double flops, const Timing& timing) {
  const std::optional<double> median = Median(timing.times_ms);
  if (!median || *median <= 0 || flops <= 0) return std::nullopt;
  return flops / (*median * 1e6);
}

// `gflops` as a percentage of `peak` (GFLOP/s).
std::optional<double> PercentOfPeak(std::optional<double> gflops, double peak) {
  if (!gflops || peak <= 0) return std::nullopt;
  return 100 * *gflops / peak;
}

std::optional<double> Known(double v) { return v >= 0 ? std::optional<double>(v) : std::nullopt; }

// Everything measured for one model but Ferry's rows.
struct Baselines {
  std::optional<OrtTiming> ort;  // nullopt: ONNX Runtime was not run
  Timing kept_heap;              // PyTorch under kKeepHeapTunables
  Timing plain;                  // PyTorch, the environment as it is
  FlopCount flops;
  std::string input;  // the model's input, e.g. "float32[1, 3, 224, 224]"
};

void PrintTable(const Options& options, const std::string& blas_threads, const PeakFlops& peak,
                const std::optional<std::string>& ort_missing, const std::vector<Row>& rows,
                const std::map<std::string, Baselines>& baselines) {
  const int torch_threads = baselines.empty() ? 0 : baselines.begin()->second.kept_heap.threads;
  std::string ort_version = "not run";
  for (const auto& [model, b] : baselines) {
    if (b.ort) ort_version = "onnxruntime-node " + b.ort->version;
  }
  const double peak_all = peak.gflops * options.threads;
  // The model column: as wide as the longest name, at least 14.
  int width = 14;
  for (const std::string& model : options.models) {
    width = std::max(width, static_cast<int>(model.size()));
  }
  // The models' inputs (NAME.input.npy's shapes), each with the models that take it.
  std::vector<std::pair<std::string, std::string>> inputs;
  for (const std::string& model : options.models) {
    const std::string& input = baselines.at(model).input;
    auto it = std::find_if(inputs.begin(), inputs.end(),
                           [&](const auto& entry) { return entry.first == input; });
    if (it == inputs.end()) {
      inputs.emplace_back(input, model);
    } else {
      it->second += ", " + model;
    }
  }
  std::printf(
      "\nSingle-input (batch 1) latency; %d timed runs after %d warm-up runs, on a machine with\n"
      "%u hardware threads.\n",
      options.runs, options.warmup, std::thread::hardware_concurrency());
  for (const auto& [input, models] : inputs) {
    std::printf("  input %s: %s\n", input.c_str(), models.c_str());
  }
  std::printf(
      "  Ferry: ExecutorModule::Run() in this process; SetKernelThreads(%d), %s.\n"
      "  ONNX Runtime (%s, under %s): session.run();\n"
      "    intraOpNumThreads = %d, interOpNumThreads = 1, sequential execution,\n"
      "    graphOptimizationLevel 'all'.\n"
      "  PyTorch (%s): model(x) under torch.no_grad(); torch.get_num_threads() = %d.\n"
      "    kept heap: glibc malloc keeps freed memory, under\n"
      "      %s\n"
      "    plain: glibc's defaults (the environment as it is).\n"
      "  ratio = Ferry median / the baseline's median (below 1: Ferry is faster); the one against\n"
      "  ONNX Runtime is the main one. max|diff| = largest |output - PyTorch's recorded output|\n"
      "  over the output's elements (the 1000 logits of a classifier).\n\n",
      options.threads, blas_threads.c_str(), ort_version.c_str(), options.node.c_str(),
      options.threads, options.python.c_str(), torch_threads, kKeepHeapTunables);
  std::printf("%-*s %-17s  %-24s  %-24s  %-15s  %s\n", width + 7, "", "Ferry", "ONNX Runtime",
              "PyTorch, kept heap", "PyTorch, plain", "max|diff|");
  std::printf("%-*s %-6s %8s %8s  %8s %8s %6s  %8s %8s %6s  %8s %6s  %9s %9s\n", width, "model",
              "exec", "med ms", "p90 ms", "med ms", "p90 ms", "ratio", "med ms", "p90 ms", "ratio",
              "med ms", "ratio", "ferry", "ort");
  const Timing none;
  for (const Row& row : rows) {
    const Baselines& b = baselines.at(row.model);
    const Timing& ort = b.ort ? b.ort->timing : none;
    std::printf("%-*s %-6s %8s %8s  %8s %8s %6s  %8s %8s %6s  %8s %6s  %9.1e %9s\n", width,
                row.model.c_str(), row.executor.c_str(),
                Cell(Median(row.ferry.times_ms), "%.2f").c_str(),
                Cell(Percentile(row.ferry.times_ms, 0.9), "%.2f").c_str(),
                Cell(Median(ort.times_ms), "%.2f").c_str(),
                Cell(Percentile(ort.times_ms, 0.9), "%.2f").c_str(),
                Cell(Ratio(row.ferry, ort), "%.2f").c_str(),
                Cell(Median(b.kept_heap.times_ms), "%.2f").c_str(),
                Cell(Percentile(b.kept_heap.times_ms, 0.9), "%.2f").c_str(),
                Cell(Ratio(row.ferry, b.kept_heap), "%.2f").c_str(),
                Cell(Median(b.plain.times_ms), "%.2f").c_str(),
                Cell(Ratio(row.ferry, b.plain), "%.2f").c_str(), row.ferry.max_abs_diff,
                Cell(b.ort ? Known(ort.max_abs_diff) : std::nullopt, "%.1e").c_str());
  }

  std::printf(
      "\nCompute. GFLOP = 2 * multiply-adds of the model's convolutions and matrix products\n"
      "(dense and matmul nodes, 2 * M * N * K per product, batched ones included), counted on\n"
      "Ferry's imported graph; pools, element-wise ops, softmax, normalisations and the fused\n"
      "bias, batch norm and activation are left out. GFLOP/s = GFLOP / median time.\n"
      "Peak = the rate of an %s FMA loop on one thread, per second of that thread's CPU time\n"
      "(%s GFLOP/s: the best of %d measurements spread over the run, the worst %s),\n"
      "x %d thread%s = %s GFLOP/s.\n"
      "faults = minor page faults per timed run.\n\n",
      peak.isa.c_str(),
      Cell(peak.gflops > 0 ? std::optional(peak.gflops) : std::nullopt, "%.1f").c_str(),
      peak.measurements,
      Cell(peak.gflops > 0 ? std::optional(peak.min_gflops) : std::nullopt, "%.1f").c_str(),
      options.threads, options.threads == 1 ? "" : "s",
      Cell(peak_all > 0 ? std::optional(peak_all) : std::nullopt, "%.1f").c_str());
  std::printf("%-*s %6s  %-15s  %-13s  %s\n", width + 7, "", "", "GFLOP/s", "% of peak",
              "faults per run");
  std::printf("%-*s %-6s %6s  %7s %7s  %6s %6s  %5s %5s %5s %5s\n", width, "model", "exec", "GFLOP",
              "ferry", "ort", "ferry", "ort", "ferry", "ort", "kept", "plain");
  for (const Row& row : rows) {
    const Baselines& b = baselines.at(row.model);
    const Timing& ort = b.ort ? b.ort->timing : none;
    const std::optional<double> ferry_gflops = Gflops(b.flops.flops, row.ferry);
    const std::optional<double> ort_gflops = Gflops(b.flops.flops, ort);
    std::printf("%-*s %-6s %6.2f  %7s %7s  %6s %6s  %5.0f %5s %5.0f %5.0f\n", width,
                row.model.c_str(), row.executor.c_str(), b.flops.flops / 1e9,
                Cell(ferry_gflops, "%.1f").c_str(), Cell(ort_gflops, "%.1f").c_str(),
                Cell(PercentOfPeak(ferry_gflops, peak_all), "%.1f%%").c_str(),
                Cell(PercentOfPeak(ort_gflops, peak_all), "%.1f%%").c_str(),
                row.ferry.faults_per_run,
                Cell(b.ort ? std::optional(ort.faults_per_run) : std::nullopt, "%.0f").c_str(),
                b.kept_heap.faults_per_run, b.plain.faults_per_run);
  }

  std::string ort_library;
  for (const std::string& model : options.models) {
    const Baselines& b = baselines.at(model);
    if (b.ort && b.ort->library_ms > 0) {
      ort_library = " (it took " + Cell(b.ort->library_ms, "%.1f") + " ms)";
    }
  }
  std::printf(
      "\nTime to first inference, ms. Ferry: LoadModule of the library, ExecutorModule::Create,\n"
      "then the first run (set the input, Run(), read the output); building the library comes\n"
      "before and is not counted. ONNX Runtime: InferenceSession.create from the .onnx file, then\n"
      "the first session.run(); loading libonnxruntime.so comes before it and is not counted\n"
      "either%s.\n\n",
      ort_library.c_str());
  std::printf("%-*s %-35s  %s\n", width + 7, "", "Ferry", "ONNX Runtime");
  std::printf("%-*s %-6s %8s %8s %8s %8s  %8s %8s %8s\n", width, "model", "exec", "load", "create",
              "1st run", "total", "create", "1st run", "total");
  for (const Row& row : rows) {
    const Baselines& b = baselines.at(row.model);
    const Timing& ort = b.ort ? b.ort->timing : none;
    std::printf("%-*s %-6s %8s %8s %8s %8s  %8s %8s %8s\n", width, row.model.c_str(),
                row.executor.c_str(), Cell(Known(row.ferry.load_ms), "%.1f").c_str(),
                Cell(Known(row.ferry.create_ms), "%.1f").c_str(),
                Cell(Known(row.ferry.first_run_ms), "%.1f").c_str(),
                Cell(Known(FirstInferenceMs(row.ferry)), "%.1f").c_str(),
                Cell(Known(ort.create_ms), "%.1f").c_str(),
                Cell(Known(ort.first_run_ms), "%.1f").c_str(),
                Cell(Known(FirstInferenceMs(ort)), "%.1f").c_str());
  }

  if (ort_missing) {
    std::printf(
        "\nONNX Runtime was not run: %s.\n"
        "  Install it with `%s %s` (npm, a few\n"
        "  seconds), or name an installation with --onnxruntime DIR.\n",
        ort_missing->c_str(), FERRY_INSTALL_ONNXRUNTIME_SCRIPT, options.onnxruntime.c_str());
  }
  for (const std::string& model : options.models) {
    const Baselines& b = baselines.at(model);
    if (!b.flops.uncounted.empty()) {
      std::string names;
      for (const std::string& name : b.flops.uncounted) names += (names.empty() ? "" : ", ") + name;
      std::printf("warning: %s: FLOPs of %zu nodes with unexpected shapes are not counted: %s\n",
                  model.c_str(), b.flops.uncounted.size(), names.c_str());
    }
    if (b.ort && b.ort->timing.max_abs_diff > kOrtDiffWarning) {
      std::printf(
          "warning: ONNX Runtime's %s differs from the recorded output by %.2e: is\n"
          "--models-dir's .onnx file the one its outputs were recorded with?\n",
          model.c_str(), b.ort->timing.max_abs_diff);
    }
    for (const Timing* timing : {&b.kept_heap, &b.plain}) {
      if (timing->max_abs_diff > kTorchDiffWarning) {
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
  options.onnxruntime = parsed->Get("onnxruntime").value_or(options.onnxruntime);
  options.node = parsed->Get("node").value_or(options.node);
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

  // Before any kernel runs.
  const StatusOr<std::string> blas_threads = SetFerryThreads(options.threads);
  if (!blas_threads.ok()) throw StatusError(blas_threads.status());

  std::optional<std::string> ort_missing = OrtMissing(options);
  if (ort_missing) {
    std::fprintf(stderr,
                 "onnx_models_bench: ONNX Runtime is not available: %s.\n"
                 "  Install it with `%s %s`; going on with PyTorch\n"
                 "  as the only baseline.\n",
                 ort_missing->c_str(), FERRY_INSTALL_ONNXRUNTIME_SCRIPT,
                 options.onnxruntime.c_str());
  }

  std::fprintf(stderr, "onnx_models_bench: measuring this core's peak FLOP/s...\n");
  PeakFlops peak;
  MeasurePeakGflops(peak);

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

  // Model by model, Ferry's two executors, then ONNX Runtime and PyTorch, so that the numbers
  // compared are taken close together in time.
  std::vector<Row> rows;
  std::map<std::string, Baselines> baselines;
  for (const std::string& model : options.models) {
    const std::string prefix = options.models_dir + "/" + model;
    const NDArray input = LoadNpy(prefix + ".input.npy").value();
    const NDArray expected = LoadNpy(prefix + ".output.npy").value();
    compiler::onnx_import::OnnxImportOptions import_options;
    import_options.key = model;
    const compiler::Model imported =
        compiler::onnx_import::ImportOnnxFile(prefix + ".onnx", import_options).value();
    const std::string input_name = ModelInput(imported, input).value();
    Baselines& b = baselines[model];
    b.flops = CountFlops(imported);
    b.input = TensorInfo{input.shape(), input.dtype()}.ToString();
    MeasurePeakGflops(peak);
    for (const std::string executor : {"graph", "aot"}) {
      std::fprintf(stderr, "onnx_models_bench: %s, Ferry's %s executor: building and timing...\n",
                   model.c_str(), executor.c_str());
      Row row{model, executor, {}};
      row.ferry =
          TimeFerry(options, imported, executor, work_dir.path(), input_name, input, expected)
              .value();
      rows.push_back(std::move(row));
    }
    if (!ort_missing) {
      std::fprintf(stderr, "onnx_models_bench: %s, ONNX Runtime: timing...\n", model.c_str());
      StatusOr<OrtTiming> ort = TimeOrt(options, model, work_dir.path());
      if (ort.ok()) {
        b.ort = std::move(*ort);
      } else if (ort.status().code() == StatusCode::kFailedPrecondition) {
        ort_missing = "node cannot load onnxruntime-node from " + options.onnxruntime;
        std::fprintf(stderr,
                     "onnx_models_bench: %s\nonnx_models_bench: going on without ONNX Runtime\n",
                     ort.status().message().c_str());
      } else {
        throw StatusError(ort.status());
      }
    }
    std::fprintf(stderr, "onnx_models_bench: %s, PyTorch: timing...\n", model.c_str());
    b.kept_heap = TimeTorch(options, model, true, work_dir.path()).value();
    b.plain = TimeTorch(options, model, false, work_dir.path()).value();
  }
  PrintTable(options, *blas_threads, peak, ort_missing, rows, baselines);
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  return ferry::bench::RunMain("onnx_models_bench", ferry::bench::Main, argc, argv);
}
