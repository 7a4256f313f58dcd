// ferry demo: Ferry's main job on this machine, end to end. Builds the zoo models into model
// libraries with both executors, runs them here, starts a tracker and two device agents on
// loopback ports, gets a device through the tracker, runs the models there, and shows the
// tracker's status. Everything it starts stops when it ends, also when a step fails.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "cli/commands.h"
#include "cli/local_cluster.h"
#include "compiler/export_library.h"
#include "compiler/subprocess.h"
#include "compiler/zoo.h"
#include "rpc/tracker_client.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "util/arg_parser.h"

namespace ferry::cli {
namespace {

using util::OptionSpec;

const OptionSpec kOptions[] = {
    {"model", "", true, "NAME  zoo model to demonstrate; repeatable (default: mlp and cnn)"},
    {"workdir", "", true, "DIR  where to write libraries and agent state (default: a temp dir)"},
    {"help", "h", false, "show this help"},
};

constexpr const char* kUsage =
    "usage: ferry demo [--model NAME ...] [--workdir DIR]\n\n"
    "Builds zoo models into libraries, runs them here, starts a tracker and two device\n"
    "agents on loopback ports, runs the models on a device the tracker grants, and\n"
    "shows the tracker's status. Everything started is stopped at the end.\n\noptions:\n";

constexpr const char* kDeviceKey = "cpu";

struct RunResult {
  std::vector<float> output;
  double mean_ms = 0, min_ms = 0;
};

// Runs model `key` of `library` on `device` (here or in `remote`) and times its run there.
StatusOr<RunResult> RunModel(const Module& library, const std::string& key, Device device,
                             const NDArray& input, rpc::RemoteSession* remote) {
  ASSIGN_OR_RETURN(ExecutorModule executor, ExecutorModule::Create(library, key, device));
  RETURN_IF_ERROR(executor.SetInput("data", input));
  RETURN_IF_ERROR(executor.Run());
  ASSIGN_OR_RETURN(NDArray device_output, executor.GetOutput(0));
  ASSIGN_OR_RETURN(NDArray output, device_output.CopyTo(Device::Cpu()));
  RunResult result;
  result.output.assign(output.data_as<float>(), output.data_as<float>() + output.NumElements());
  TimeEvaluatorOptions timing{.number = 1, .repeat = 20, .min_repeat_ms = 20, .cooldown_ms = 0};
  ASSIGN_OR_RETURN(PackedFunc timer,
                   remote != nullptr
                       ? remote->TimeEvaluator(executor.module(), "run", device, timing)
                       : TimeEvaluator(executor.module(), "run", device, timing));
  ASSIGN_OR_RETURN(Value seconds_value, timer.Call());
  ASSIGN_OR_RETURN(NDArray seconds, seconds_value.As<NDArray>());
  double sum = 0, best = INFINITY;
  for (int i = 0; i < timing.repeat; ++i) {
    sum += seconds.data_as<double>()[i];
    best = std::min(best, seconds.data_as<double>()[i]);
  }
  result.mean_ms = sum / timing.repeat * 1e3;
  result.min_ms = best * 1e3;
  return result;
}

std::string FormatValues(const std::vector<float>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%s%.5f", i ? ", " : "", values[i]);
    out += buffer;
  }
  return out + "]";
}

std::string Timing(const RunResult& r) {
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "run time mean %.3f ms, min %.3f ms", r.mean_ms, r.min_ms);
  return buffer;
}

StatusOr<NDArray> DemoInput(const compiler::Model& model) {
  const TensorInfo& info = model.graph.entries[model.graph.inputs[0].entry];
  ASSIGN_OR_RETURN(NDArray input, NDArray::Empty(info.shape, info.dtype, Device::Cpu()));
  std::mt19937 engine(7);
  for (int64_t i = 0; i < input.NumElements(); ++i) {
    input.data_as<float>()[i] = static_cast<float>(engine() % 2001) / 1000.0f - 1.0f;
  }
  return input;
}

struct DemoModel {
  compiler::Model model;
  NDArray input;
  RunResult local[2];  // graph, aot
};

const ExecutorKind kKinds[] = {ExecutorKind::kGraph, ExecutorKind::kAot};

std::string LibraryPath(const std::string& workdir, ExecutorKind kind) {
  return workdir + "/demo_" + std::string(ExecutorKindName(kind)) + ".so";
}

Status BuildAndRunLocally(std::vector<DemoModel>& models, const std::string& workdir,
                          std::ostream& out) {
  for (ExecutorKind kind : kKinds) {
    std::vector<compiler::ModelBuild> builds;
    for (const DemoModel& m : models) builds.push_back({&m.model, kind});
    const std::string path = LibraryPath(workdir, kind);
    RETURN_IF_ERROR(compiler::ExportLibrary(builds, path));
    out << "built " << path << " (" << models.size() << " models, " << ExecutorKindName(kind)
        << " executor)\n";
  }
  out << "\n== running here\n";
  for (DemoModel& m : models) {
    for (int k = 0; k < 2; ++k) {
      ASSIGN_OR_RETURN(Module library, LoadModule(LibraryPath(workdir, kKinds[k])));
      ASSIGN_OR_RETURN(m.local[k], RunModel(library, m.model.key, Device::Cpu(), m.input, nullptr));
      out << "  " << m.model.key << " (" << ExecutorKindName(kKinds[k]) << "): output_0 "
          << FormatValues(m.local[k].output) << "\n      " << Timing(m.local[k]) << "\n";
    }
    float max_diff = 0;
    for (size_t i = 0; i < m.local[0].output.size(); ++i) {
      max_diff = std::max(max_diff, std::fabs(m.local[0].output[i] - m.local[1].output[i]));
    }
    out << "  " << m.model.key << ": graph vs aot max |difference| = " << max_diff << "\n";
    if (max_diff > 1e-5f) return InternalError("graph and AOT outputs of '" + m.model.key + "' disagree");
  }
  return Status::Ok();
}

Status RunThroughTracker(std::vector<DemoModel>& models, const std::string& workdir,
                         const LocalCluster& cluster, std::ostream& out) {
  ASSIGN_OR_RETURN(rpc::TrackerClient tracker,
                   rpc::ConnectTracker(cluster.tracker_endpoint(), cluster.client_options()));
  rpc::DeviceRequest request;
  request.timeout = std::chrono::seconds(30);
  ASSIGN_OR_RETURN(rpc::RemoteSession remote, tracker.Request(kDeviceKey, request));
  out << "\n== running on a device granted by the tracker (key '" << kDeviceKey << "', session "
      << remote.session_id() << ")\n"
      << "  every connection (client, tracker, agents, session worker) is encrypted and\n"
      << "  authenticated with CURVE; keys generated in " << cluster.keys_dir() << "\n";
  for (int k = 0; k < 2; ++k) {
    const std::string path = LibraryPath(workdir, kKinds[k]);
    RETURN_IF_ERROR(remote.Upload(path));
    ASSIGN_OR_RETURN(Module library,
                     remote.LoadModule(std::filesystem::path(path).filename().string()));
    for (DemoModel& m : models) {
      ASSIGN_OR_RETURN(RunResult r, RunModel(library, m.model.key, remote.Cpu(0), m.input, &remote));
      const bool same = r.output == m.local[k].output;
      out << "  " << m.model.key << " (" << ExecutorKindName(kKinds[k]) << "): output_0 "
          << FormatValues(r.output) << "\n      " << Timing(r) << " on the agent; "
          << (same ? "identical to the local run" : "DIFFERS from the local run") << "\n";
      if (!same) return InternalError("remote and local outputs of '" + m.model.key + "' differ");
    }
  }
  out << "\n== ferry status --tracker " << cluster.tracker_endpoint() << " --identity "
      << cluster.keys_dir() << "/client --tracker-key " << cluster.keys_dir()
      << "/tracker.pub (session open)\n";
  ASSIGN_OR_RETURN(rpc::TrackerStatus status, tracker.GetStatus());
  PrintTrackerStatus(status, /*json=*/false, out);
  return remote.Close();
}

}  // namespace

Status DemoCommand(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(std::optional<util::ParsedArgs> command_line,
                   ParseCommandLine(args, kOptions, kUsage, out));
  if (!command_line) return Status::Ok();
  const util::ParsedArgs& parsed = *command_line;
  std::vector<std::string> names = parsed.All("model");
  if (names.empty()) names = compiler::ListZooModels();
  std::optional<compiler::TempDir> temp;
  std::string workdir;
  if (auto dir = parsed.Get("workdir")) {
    workdir = *dir;
    std::error_code ec;
    std::filesystem::create_directories(workdir, ec);
    if (ec) return UnavailableError("cannot create " + workdir + ": " + ec.message());
  } else {
    ASSIGN_OR_RETURN(compiler::TempDir created, compiler::TempDir::Create("ferry-demo-"));
    temp.emplace(std::move(created));
    workdir = temp->path();
  }
  std::error_code ec;
  const std::string agent_executable =
      (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "ferry-agent").string();
  if (ec || !std::filesystem::exists(agent_executable)) {
    return NotFoundError("ferry-agent is not installed next to ferry (" + agent_executable + ")");
  }

  std::vector<DemoModel> models;
  out << "== building\n";
  for (const std::string& name : names) {
    DemoModel m;
    ASSIGN_OR_RETURN(m.model, compiler::BuildZooModel(name));
    ASSIGN_OR_RETURN(m.input, DemoInput(m.model));
    models.push_back(std::move(m));
  }
  RETURN_IF_ERROR(BuildAndRunLocally(models, workdir, out));

  ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster,
                   LocalCluster::Start(workdir, agent_executable, kDeviceKey, 2));
  out << "\n== started a tracker at " << cluster->tracker_endpoint() << " and agents at";
  for (const std::string& e : cluster->agent_endpoints()) out << " " << e;
  out << "\n";
  RETURN_IF_ERROR(RunThroughTracker(models, workdir, *cluster, out));
  cluster.reset();
  out << "\ndemo finished: every model ran here and on a tracker-granted agent with both "
         "executors; outputs agree; the tracker and agents are stopped\n";
  return Status::Ok();
}

}  // namespace ferry::cli
