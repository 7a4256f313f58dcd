// executor_overhead_bench: what the graph and AOT executors add per node over calling the
// kernels directly, with every number measured in one run so that the ratios compare like
// with like (same machine, same load, same build).
//
// Cases (one model library holds them all, built at start-up into a temporary directory):
//   chain<N>  input float32[1, 64] then N relu nodes (N = 16, 64, 256): the kernels are so
//             small that what an executor does around each call dominates.
//   mlp, cnn  the zoo models (compiler/zoo.h): real work per node, overhead in proportion.
// Variants of each case:
//   direct    the baseline: the same kernels (runtime/kernels/kernels.h) on the same buffers,
//             called from a loop over preallocated argument lists.
//   graph     ExecutorModule::Run on a graph executor of the case's model.
//   aot       ExecutorModule::Run on an AOT executor of the case's model.
// Before timing, every variant runs once and its output is checked against direct's.
// After the benchmarks, a summary gives each executor's ratio to direct and its overhead per
// node; speed is reported, never asserted. See bench/README.md.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "compiler/attrs.h"
#include "compiler/export_library.h"
#include "compiler/graph_builder.h"
#include "compiler/subprocess.h"
#include "compiler/zoo.h"
#include "runtime/executor_module.h"
#include "runtime/kernels/kernels.h"
#include "runtime/library_module.h"
#include "runtime/memory_plan.h"

namespace ferry::bench {
namespace {

using compiler::Attrs;

constexpr int kChainLengths[] = {16, 64, 256};
constexpr int64_t kChainWidth = 64;
// Flags applied before the command line's own, which override them.
const char* const kDefaultFlags[] = {
    "--benchmark_min_time=0.05",
    "--benchmark_repetitions=10",
    "--benchmark_enable_random_interleaving=true",
    "--benchmark_display_aggregates_only=true",
};
constexpr const char* kVariants[] = {"direct", "graph", "aot"};

// ---------------------------------------------------------------------------------------------
// The direct baseline: operator name -> kernel call with the node's attributes bound.

using KernelCall = std::function<int(DLTensor* const*, int32_t, FerryKernelError*)>;

struct Window {
  int64_t strides[2], padding[4], dilation[2];
};

// strides, padding (2 or 4 values) and dilation, as op_registry.cc reads them.
StatusOr<Window> GetWindow(const Attrs& attrs) {
  Window w;
  ASSIGN_OR_RETURN(std::vector<int64_t> strides,
                   compiler::GetIntsAttr(attrs, "strides", 2, {1, 1}));
  ASSIGN_OR_RETURN(std::vector<int64_t> dilation,
                   compiler::GetIntsAttr(attrs, "dilation", 2, {1, 1}));
  StatusOr<std::vector<int64_t>> padding = compiler::GetIntsAttr(attrs, "padding", 4, {0, 0, 0, 0});
  if (!padding.ok()) {
    ASSIGN_OR_RETURN(std::vector<int64_t> two, compiler::GetIntsAttr(attrs, "padding", 2, {0, 0}));
    padding = std::vector<int64_t>{two[0], two[1], two[0], two[1]};
  }
  std::copy_n(strides.begin(), 2, w.strides);
  std::copy_n(padding->begin(), 4, w.padding);
  std::copy_n(dilation.begin(), 2, w.dilation);
  return w;
}

StatusOr<KernelCall> BindConv2d(const Attrs& attrs) {
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  kernels::Conv2dAttrs a;
  std::copy_n(w.strides, 2, a.strides);
  std::copy_n(w.padding, 4, a.padding);
  std::copy_n(w.dilation, 2, a.dilation);
  ASSIGN_OR_RETURN(a.groups, compiler::GetIntAttr(attrs, "groups", 1));
  return KernelCall([a](DLTensor* const* args, int32_t n, FerryKernelError* e) {
    return kernels::Conv2d(a, args, n, e);
  });
}

StatusOr<KernelCall> BindMaxPool2d(const Attrs& attrs) {
  ASSIGN_OR_RETURN(Window w, GetWindow(attrs));
  kernels::Pool2dAttrs a;
  ASSIGN_OR_RETURN(std::vector<int64_t> pool, compiler::GetIntsAttr(attrs, "pool_size", 2, {}));
  std::copy_n(pool.begin(), 2, a.pool_size);
  std::copy_n(w.strides, 2, a.strides);
  std::copy_n(w.padding, 4, a.padding);
  std::copy_n(w.dilation, 2, a.dilation);
  ASSIGN_OR_RETURN(int64_t ceil_mode, compiler::GetIntAttr(attrs, "ceil_mode", 0));
  a.ceil_mode = ceil_mode != 0;
  return KernelCall([a](DLTensor* const* args, int32_t n, FerryKernelError* e) {
    return kernels::MaxPool2d(a, args, n, e);
  });
}

StatusOr<KernelCall> BindBiasAdd(const Attrs& attrs) {
  kernels::BiasAddAttrs a;
  ASSIGN_OR_RETURN(a.axis, compiler::GetIntAttr(attrs, "axis", 1));
  return KernelCall([a](DLTensor* const* args, int32_t n, FerryKernelError* e) {
    return kernels::BiasAdd(a, args, n, e);
  });
}

StatusOr<KernelCall> BindBatchNorm(const Attrs& attrs) {
  kernels::BatchNormAttrs a;
  ASSIGN_OR_RETURN(a.axis, compiler::GetIntAttr(attrs, "axis", 1));
  ASSIGN_OR_RETURN(a.epsilon, compiler::GetFloatAttr(attrs, "epsilon", 1e-5));
  return KernelCall([a](DLTensor* const* args, int32_t n, FerryKernelError* e) {
    return kernels::BatchNorm(a, args, n, e);
  });
}

StatusOr<KernelCall> BindSoftmax(const Attrs& attrs) {
  kernels::SoftmaxAttrs a;
  ASSIGN_OR_RETURN(a.axis, compiler::GetIntAttr(attrs, "axis", -1));
  return KernelCall([a](DLTensor* const* args, int32_t n, FerryKernelError* e) {
    return kernels::Softmax(a, args, n, e);
  });
}

template <int (*kKernel)(DLTensor* const*, int32_t, FerryKernelError*)>
StatusOr<KernelCall> BindPlain(const Attrs&) {
  return KernelCall(kKernel);
}

// The operators of the chain, mlp and cnn models; others are not needed here.
struct KernelBinder {
  const char* op;
  StatusOr<KernelCall> (*bind)(const Attrs&);
};
constexpr KernelBinder kBinders[] = {
    {"add", BindPlain<kernels::Add>},
    {"batch_norm", BindBatchNorm},
    {"bias_add", BindBiasAdd},
    {"conv2d", BindConv2d},
    {"dense", BindPlain<kernels::Dense>},
    {"flatten", BindPlain<kernels::Reshape>},
    {"global_avg_pool2d", BindPlain<kernels::GlobalAvgPool2d>},
    {"max_pool2d", BindMaxPool2d},
    {"relu", BindPlain<kernels::Relu>},
    {"softmax", BindSoftmax},
};

StatusOr<KernelCall> BindKernel(const std::string& op, const Attrs& attrs) {
  for (const KernelBinder& binder : kBinders) {
    if (op == binder.op) return binder.bind(attrs);
  }
  return UnimplementedError("the direct baseline has no kernel for operator '" + op + "'");
}

// Runs a model by calling its kernels directly, on buffers laid out as the graph executor lays
// them out: inputs, parameters and outputs in arrays of their own, intermediates in one arena
// placed by PlanMemory. Not thread-safe.
class DirectRunner {
 public:
  // Errors: kUnimplemented for an operator without a binder; errors of attribute reading and
  // allocation.
  static StatusOr<std::unique_ptr<DirectRunner>> Create(const compiler::Model& model) {
    auto runner = std::unique_ptr<DirectRunner>(new DirectRunner());
    const ExecGraph& g = model.graph;
    runner->arrays_.resize(g.entries.size());
    auto allocate = [&](uint32_t e) -> Status {
      ASSIGN_OR_RETURN(runner->arrays_[e],
                       NDArray::Empty(g.entries[e].shape, g.entries[e].dtype, Device::Cpu()));
      return Status::Ok();
    };
    for (const NamedEntry& in : g.inputs) RETURN_IF_ERROR(allocate(in.entry));
    for (uint32_t out : g.outputs) RETURN_IF_ERROR(allocate(out));
    for (const NamedEntry& p : g.params) runner->arrays_[p.entry] = model.params.at(p.name);
    const MemoryPlan plan = PlanMemory(g);
    if (plan.arena_bytes > 0) {
      ASSIGN_OR_RETURN(runner->arena_,
                       NDArray::Empty({plan.arena_bytes}, DataType::UInt8(), Device::Cpu()));
    }
    for (size_t e = 0; e < g.entries.size(); ++e) {
      if (plan.offsets[e] == MemoryPlan::kNotInArena) continue;
      runner->arrays_[e] = NDArray::Borrow(runner->arena_.data_as<char>() + plan.offsets[e],
                                           g.entries[e].shape, g.entries[e].dtype, Device::Cpu());
    }
    for (size_t n = 0; n < g.nodes.size(); ++n) {
      const GraphNode& node = g.nodes[n];
      StatusOr<KernelCall> call = BindKernel(node.op, model.node_attrs[n]);
      if (!call.ok()) return call.status().WithContext("node '" + node.name + "'");
      Step step{std::move(*call), {}, &node};
      for (uint32_t e : node.inputs) step.args.push_back(runner->arrays_[e].dl_tensor());
      for (uint32_t e : node.outputs) step.args.push_back(runner->arrays_[e].dl_tensor());
      runner->steps_.push_back(std::move(step));
    }
    runner->inputs_ = g.inputs;
    runner->outputs_ = g.outputs;
    return runner;
  }

  // Runs every node once. Errors: kInternal with the failing node and the kernel's message.
  Status Run() const {
    for (const Step& step : steps_) {
      FerryKernelError error;
      error.message[0] = '\0';
      if (step.call(step.args.data(), static_cast<int32_t>(step.args.size()), &error) != 0) {
        return InternalError("node '" + step.node->name + "' failed: " + error.message);
      }
    }
    return Status::Ok();
  }

  // Each node's argument list (inputs then outputs), in execution order.
  std::vector<DLTensor* const*> StepArgs() const {
    std::vector<DLTensor* const*> args;
    for (const Step& step : steps_) args.push_back(step.args.data());
    return args;
  }

  const NDArray& input(size_t i) const { return arrays_[inputs_.at(i).entry]; }
  const NDArray& output(size_t i) const { return arrays_[outputs_.at(i)]; }

 private:
  struct Step {
    KernelCall call;
    std::vector<DLTensor*> args;
    const GraphNode* node;
  };

  DirectRunner() = default;

  std::vector<NDArray> arrays_;  // per graph entry
  NDArray arena_;
  std::vector<Step> steps_;
  std::vector<NamedEntry> inputs_;
  std::vector<uint32_t> outputs_;
};

// ---------------------------------------------------------------------------------------------
// Cases.

struct Case {
  std::string name;         // "chain16", "mlp", ...
  bool relu_chain = false;  // direct calls kernels::Relu in a tight loop instead of Run()
  compiler::Model graph_model, aot_model;  // the same model under two keys
  std::unique_ptr<DirectRunner> direct;
  std::optional<ExecutorModule> graph, aot;

  int nodes() const { return static_cast<int>(graph_model.graph.nodes.size()); }
};

StatusOr<compiler::Model> BuildChain(int length) {
  compiler::GraphBuilder b("chain" + std::to_string(length));
  ASSIGN_OR_RETURN(compiler::Tensor x, b.Input("data", {1, kChainWidth}));
  for (int i = 0; i < length; ++i) {
    ASSIGN_OR_RETURN(x, b.Op("relu", {x}));
  }
  RETURN_IF_ERROR(b.Output(x));
  return std::move(b).Finish();
}

std::unique_ptr<Case> MakeCase(compiler::Model model, bool relu_chain) {
  auto c = std::make_unique<Case>();
  c->name = model.key;
  c->relu_chain = relu_chain;
  c->aot_model = model;
  c->aot_model.key = c->name + "_aot";
  c->graph_model = std::move(model);
  c->graph_model.key = c->name + "_graph";
  return c;
}

float MaxAbsDifference(const NDArray& a, const NDArray& b) {
  float diff = a.NumElements() == b.NumElements() ? 0.0f : INFINITY;
  for (int64_t i = 0; i < std::min(a.NumElements(), b.NumElements()); ++i) {
    diff = std::max(diff, std::fabs(a.data_as<float>()[i] - b.data_as<float>()[i]));
  }
  return diff;
}

// Builds every case into one library under `dir`, loads it, creates the executors and the
// direct runners, gives them all the same input and checks that one run of each agrees.
StatusOr<std::vector<std::unique_ptr<Case>>> PrepareCases(const std::string& dir) {
  std::vector<std::unique_ptr<Case>> cases;
  for (int length : kChainLengths) {
    ASSIGN_OR_RETURN(compiler::Model chain, BuildChain(length));
    cases.push_back(MakeCase(std::move(chain), /*relu_chain=*/true));
  }
  for (const char* name : {"mlp", "cnn"}) {
    ASSIGN_OR_RETURN(compiler::Model model, compiler::BuildZooModel(name));
    cases.push_back(MakeCase(std::move(model), /*relu_chain=*/false));
  }

  std::vector<compiler::ModelBuild> builds;
  for (const auto& c : cases) {
    builds.push_back({&c->graph_model, ExecutorKind::kGraph});
    builds.push_back({&c->aot_model, ExecutorKind::kAot});
  }
  const std::string path = dir + "/executor_overhead.so";
  RETURN_IF_ERROR(compiler::ExportLibrary(builds, path));
  ASSIGN_OR_RETURN(Module library, LoadModule(path));

  std::mt19937 engine(7);
  for (const auto& c : cases) {
    ASSIGN_OR_RETURN(c->direct, DirectRunner::Create(c->graph_model));
    ASSIGN_OR_RETURN(c->graph, ExecutorModule::Create(library, c->graph_model.key, Device::Cpu()));
    ASSIGN_OR_RETURN(c->aot, ExecutorModule::Create(library, c->aot_model.key, Device::Cpu()));
    const NDArray& input = c->direct->input(0);
    for (int64_t i = 0; i < input.NumElements(); ++i) {
      input.data_as<float>()[i] = static_cast<float>(engine() % 2001) / 1000.0f - 1.0f;
    }
    RETURN_IF_ERROR(c->direct->Run().WithContext(c->name + " direct"));
    const std::pair<const char*, const ExecutorModule*> executors[] = {{"graph", &*c->graph},
                                                                       {"aot", &*c->aot}};
    for (const auto& [kind, executor] : executors) {
      RETURN_IF_ERROR(executor->SetInput("data", input));
      RETURN_IF_ERROR(executor->Run());
      ASSIGN_OR_RETURN(NDArray output, executor->GetOutput(0));
      const float diff = MaxAbsDifference(output, c->direct->output(0));
      if (!(diff <= 1e-5f)) {
        return InternalError(c->name + ": the " + kind + " executor's output differs from " +
                             "the direct baseline's by " + std::to_string(diff));
      }
    }
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

// "s_per_node" shows seconds per node with an SI prefix (e.g. 4.2n = 4.2 ns).
void SetNodeCounters(benchmark::State& state, int nodes) {
  state.counters["nodes"] = nodes;
  state.counters["s_per_node"] = benchmark::Counter(
      nodes, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BenchDirectReluChain(benchmark::State& state, const Case* c) {
  const std::vector<DLTensor* const*> args = c->direct->StepArgs();
  FerryKernelError error;
  error.message[0] = '\0';
  for (auto _ : state) {
    for (DLTensor* const* a : args) {
      if (kernels::Relu(a, 2, &error) != 0) {
        state.SkipWithError(error.message);
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  SetNodeCounters(state, c->nodes());
}

void BenchDirect(benchmark::State& state, const Case* c) {
  for (auto _ : state) {
    Status status = c->direct->Run();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
    benchmark::ClobberMemory();
  }
  SetNodeCounters(state, c->nodes());
}

void BenchExecutor(benchmark::State& state, const ExecutorModule* executor, int nodes) {
  for (auto _ : state) {
    Status status = executor->Run();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  SetNodeCounters(state, nodes);
}

std::string BenchName(const Case& c, const char* variant) { return c.name + "/" + variant; }

void RegisterCase(const Case& c) {
  const Case* p = &c;
  benchmark::RegisterBenchmark(BenchName(c, "direct").c_str(), [p](benchmark::State& s) {
    p->relu_chain ? BenchDirectReluChain(s, p) : BenchDirect(s, p);
  })->Unit(benchmark::kNanosecond);
  benchmark::RegisterBenchmark(BenchName(c, "graph").c_str(), [p](benchmark::State& s) {
    BenchExecutor(s, &*p->graph, p->nodes());
  })->Unit(benchmark::kNanosecond);
  benchmark::RegisterBenchmark(BenchName(c, "aot").c_str(), [p](benchmark::State& s) {
    BenchExecutor(s, &*p->aot, p->nodes());
  })->Unit(benchmark::kNanosecond);
}

// ---------------------------------------------------------------------------------------------
// Summary.

// The console output as usual, plus the real time per iteration of each benchmark: the median
// aggregate when there are repetitions, else the median of the runs it saw.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.time_unit != benchmark::kNanosecond) continue;
      const std::string& name = run.run_name.function_name;
      if (run.run_type == Run::RT_Aggregate) {
        // A percentage aggregate (cv) holds the fraction itself in real_accumulated_time.
        if (run.aggregate_name == "median") medians_[name] = run.GetAdjustedRealTime();
        if (run.aggregate_name == "cv") cvs_[name] = run.real_accumulated_time;
      } else {
        samples_[name].push_back(run.GetAdjustedRealTime());
      }
    }
  }

  // The median real time per iteration of benchmark `name`, in ns; nullopt when it did not
  // run (filtered out or failed).
  std::optional<double> Nanos(const std::string& name) const {
    if (auto it = medians_.find(name); it != medians_.end()) return it->second;
    auto it = samples_.find(name);
    if (it == samples_.end()) return std::nullopt;
    return Median(it->second);
  }

  // The coefficient of variation of `name`'s repetitions (0.05 = 5%); nullopt without
  // repetitions.
  std::optional<double> Cv(const std::string& name) const {
    if (auto it = cvs_.find(name); it != cvs_.end()) return it->second;
    auto it = samples_.find(name);
    if (it == samples_.end() || it->second.size() < 2) return std::nullopt;
    const std::vector<double>& v = it->second;
    double mean = 0, squares = 0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    for (double x : v) squares += (x - mean) * (x - mean);
    return std::sqrt(squares / static_cast<double>(v.size() - 1)) / mean;
  }

 private:
  std::map<std::string, double> medians_;
  std::map<std::string, double> cvs_;
  std::map<std::string, std::vector<double>> samples_;
};

// Least-squares fit of y = fixed + slope * x. Needs two distinct x.
struct Line {
  double fixed, slope;
};
std::optional<Line> FitLine(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  }
  const double denominator = n * sxx - sx * sx;
  if (x.size() < 2 || denominator == 0) return std::nullopt;
  const double slope = (n * sxy - sx * sy) / denominator;
  return Line{(sy - slope * sx) / n, slope};
}

void PrintSummary(const std::vector<std::unique_ptr<Case>>& cases, const RecordingReporter& r) {
  std::printf(
      "\nExecutor overhead summary: real time per model run (median over repetitions), ratios\n"
      "against the direct kernel calls measured in this same run, and overhead per node =\n"
      "(executor - direct) / nodes. noise = the largest coefficient of variation of the three;\n"
      "differences smaller than it are not meaningful.\n\n");
  std::printf("%-9s %5s %11s %11s %11s %7s %7s %13s %13s %6s\n", "case", "nodes", "direct ns",
              "graph ns", "aot ns", "graph/d", "aot/d", "graph ns/node", "aot ns/node", "noise");
  std::vector<double> chain_n, chain_graph_ovh, chain_aot_ovh;
  for (const auto& c : cases) {
    std::optional<double> t[3];
    std::optional<double> noise;
    for (int v = 0; v < 3; ++v) {
      t[v] = r.Nanos(BenchName(*c, kVariants[v]));
      if (std::optional<double> cv = r.Cv(BenchName(*c, kVariants[v]))) {
        noise = std::max(noise.value_or(0.0), *cv * 100);
      }
    }
    if (!t[0] && !t[1] && !t[2]) continue;  // filtered out
    const double nodes = c->nodes();
    auto ratio = [&](int v) -> std::optional<double> {
      if (!t[0] || !t[v]) return std::nullopt;
      return *t[v] / *t[0];
    };
    auto per_node = [&](int v) -> std::optional<double> {
      if (!t[0] || !t[v]) return std::nullopt;
      return (*t[v] - *t[0]) / nodes;
    };
    std::printf("%-9s %5d %11s %11s %11s %7s %7s %13s %13s %5s%%\n", c->name.c_str(), c->nodes(),
                Cell(t[0], "%.1f").c_str(), Cell(t[1], "%.1f").c_str(), Cell(t[2], "%.1f").c_str(),
                Cell(ratio(1), "%.3f").c_str(), Cell(ratio(2), "%.3f").c_str(),
                Cell(per_node(1), "%.2f").c_str(), Cell(per_node(2), "%.2f").c_str(),
                Cell(noise, "%.1f").c_str());
    if (c->relu_chain && t[0] && t[1] && t[2]) {
      chain_n.push_back(nodes);
      chain_graph_ovh.push_back(*t[1] - *t[0]);
      chain_aot_ovh.push_back(*t[2] - *t[0]);
    }
  }
  const std::optional<Line> graph_fit = FitLine(chain_n, chain_graph_ovh);
  const std::optional<Line> aot_fit = FitLine(chain_n, chain_aot_ovh);
  if (graph_fit && aot_fit) {
    std::printf(
        "\nrelu chains, least-squares fit of (executor - direct) = fixed + per_node * N:\n"
        "  graph: %7.2f ns per node, %8.1f ns fixed per run\n"
        "  aot:   %7.2f ns per node, %8.1f ns fixed per run\n",
        graph_fit->slope, graph_fit->fixed, aot_fit->slope, aot_fit->fixed);
  }
}

// OpenBLAS threads that spin between calls share the cores with the benchmark and make every
// number after a BLAS-heavy case noisy (tens of percent on two cores), so BLAS runs on one
// thread unless OPENBLAS_NUM_THREADS says otherwise. Returns what the context should show.
std::string LimitBlasThreads() {
  if (const char* env = std::getenv("OPENBLAS_NUM_THREADS")) {
    return std::string("OPENBLAS_NUM_THREADS=") + env;
  }
  using SetThreads = void (*)(int);
  auto set_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_threads == nullptr) return "library default (not OpenBLAS)";
  set_threads(1);
  return "1 (set OPENBLAS_NUM_THREADS to change)";
}

int Main(int argc, char** argv) {
  if (!InitializeBenchmark(argc, argv, kDefaultFlags)) return 1;
  benchmark::AddCustomContext("blas_threads", LimitBlasThreads());

  StatusOr<compiler::TempDir> dir = compiler::TempDir::Create("ferry-bench-");
  if (!dir.ok()) {
    std::fprintf(stderr, "executor_overhead_bench: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "executor_overhead_bench: building the model library...\n");
  StatusOr<std::vector<std::unique_ptr<Case>>> cases = PrepareCases(dir->path());
  if (!cases.ok()) {
    std::fprintf(stderr, "executor_overhead_bench: %s\n", cases.status().ToString().c_str());
    return 1;
  }
  for (const auto& c : *cases) RegisterCase(*c);

  RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  PrintSummary(*cases, reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  return ferry::bench::RunMain("executor_overhead_bench", ferry::bench::Main, argc, argv);
}
