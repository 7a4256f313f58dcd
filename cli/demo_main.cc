// ferry-demo: Ferry's main job on this machine, end to end: build the zoo models into model
// libraries with each executor, load them, run them, and print outputs and timings.
//
// usage: ferry-demo [--model mlp|cnn ...] [--workdir DIR]
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "util/arg_parser.h"
#include "compiler/export_library.h"
#include "compiler/subprocess.h"
#include "device_agent/agent.h"
#include "rpc/client_session.h"
#include "compiler/zoo.h"
#include "runtime/executor_module.h"
#include "runtime/library_module.h"
#include "runtime/time_evaluator.h"

namespace ferry::cli {

using util::OptionSpec;
using util::ParseArgs;
using util::ParsedArgs;
using util::FormatOptions;
namespace {

const OptionSpec kOptions[] = {
    {"model", "", true, "NAME  zoo model to demonstrate (default: mlp and cnn)"},
    {"workdir", "", true, "DIR  where to write the libraries (default: a temporary directory)"},
    {"help", "h", false, "show this help"},
};

struct RunResult {
  std::vector<float> output;
  double mean_ms = 0, min_ms = 0;
};

// Runs model `key` of the library at `path` here, or in a session on `remote` (uploading
// the library first), and times its run where it runs.
StatusOr<RunResult> RunLibrary(const std::string& path, const std::string& key,
                               const NDArray& input, rpc::RemoteSession* remote) {
  Module library;
  Device device = Device::Cpu();
  if (remote != nullptr) {
    RETURN_IF_ERROR(remote->Upload(path));
    ASSIGN_OR_RETURN(library, remote->LoadModule(std::filesystem::path(path).filename().string()));
    device = remote->Cpu(0);
  } else {
    ASSIGN_OR_RETURN(library, LoadModule(path));
  }
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

Status DemoModel(const std::string& name, const std::string& workdir, rpc::RemoteSession* remote,
                 std::ostream& out) {
  ASSIGN_OR_RETURN(compiler::Model model, compiler::BuildZooModel(name));
  const TensorInfo& info = model.graph.entries[model.graph.inputs[0].entry];
  ASSIGN_OR_RETURN(NDArray input, NDArray::Empty(info.shape, info.dtype, Device::Cpu()));
  std::mt19937 engine(7);
  for (int64_t i = 0; i < input.NumElements(); ++i) {
    input.data_as<float>()[i] = static_cast<float>(engine() % 2001) / 1000.0f - 1.0f;
  }
  out << "== " << name << ": input data " << info.ToString() << ", " << model.graph.nodes.size()
      << " nodes, " << model.params.size() << " parameters\n";

  std::vector<RunResult> results;
  for (ExecutorKind kind : {ExecutorKind::kGraph, ExecutorKind::kAot}) {
    const std::string path =
        workdir + "/" + name + "_" + std::string(ExecutorKindName(kind)) + ".so";
    const compiler::ModelBuild build{&model, kind};
    RETURN_IF_ERROR(compiler::ExportLibrary({&build, 1}, path));
    ASSIGN_OR_RETURN(RunResult local, RunLibrary(path, name, input, nullptr));
    out << "  " << ExecutorKindName(kind) << " executor (" << path << ")\n"
        << "    output_0 " << FormatValues(local.output) << "\n"
        << "    here:        run time mean " << local.mean_ms << " ms, min " << local.min_ms << " ms\n";
    ASSIGN_OR_RETURN(RunResult remote_result, RunLibrary(path, name, input, remote));
    out << "    on the agent: run time mean " << remote_result.mean_ms << " ms, min "
        << remote_result.min_ms << " ms; outputs "
        << (remote_result.output == local.output ? "identical" : "DIFFER") << "\n";
    if (remote_result.output != local.output) {
      return InternalError("remote and local outputs of '" + name + "' differ");
    }
    results.push_back(std::move(local));
  }
  float max_diff = 0;
  for (size_t i = 0; i < results[0].output.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(results[0].output[i] - results[1].output[i]));
  }
  out << "  graph vs aot: max |difference| = " << max_diff << (max_diff <= 1e-5f ? " (agree)" : " (DISAGREE)")
      << "\n";
  if (max_diff > 1e-5f) return InternalError("graph and AOT outputs of '" + name + "' disagree");
  return Status::Ok();
}

Status Demo(std::span<const std::string> args, std::ostream& out) {
  ASSIGN_OR_RETURN(ParsedArgs parsed, ParseArgs(args, kOptions));
  if (parsed.Has("help")) {
    out << "usage: ferry-demo [--model NAME ...] [--workdir DIR]\n\n"
           "Builds zoo models into libraries with the graph and AOT executors, loads and runs\n"
           "them on this machine's CPU, and prints outputs and timings.\n\noptions:\n"
        << FormatOptions(kOptions);
    return Status::Ok();
  }
  std::vector<std::string> models = parsed.All("model");
  if (models.empty()) models = compiler::ListZooModels();
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
  // A device agent on this machine, on a free loopback port, served by a thread of this
  // process; its session workers are ferry-agent processes.
  std::error_code ec;
  agent::AgentConfig agent_config;
  agent_config.listen = "tcp://127.0.0.1:*";
  agent_config.work_dir = workdir + "/agent";
  agent_config.worker_executable =
      (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "ferry-agent").string();
  if (ec || !std::filesystem::exists(agent_config.worker_executable)) {
    return NotFoundError("ferry-agent is not next to ferry-demo (" + agent_config.worker_executable + ")");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<agent::Agent> device_agent, agent::Agent::Create(agent_config));
  std::atomic<bool> stop{false};
  std::thread serving([&] { (void)device_agent->Serve(stop); });
  struct StopAgent {
    std::atomic<bool>& stop;
    std::thread& serving;
    ~StopAgent() {
      stop = true;
      serving.join();
    }
  } stop_agent{stop, serving};
  ASSIGN_OR_RETURN(rpc::RemoteSession remote, rpc::Connect(device_agent->endpoint()));
  out << "device agent at " << device_agent->endpoint() << ", session " << remote.session_id()
      << "\n";
  for (const std::string& name : models) RETURN_IF_ERROR(DemoModel(name, workdir, &remote, out));
  (void)remote.Close();
  out << "demo finished: every model ran here and on the agent with both executors; outputs agree\n";
  return Status::Ok();
}

}  // namespace
}  // namespace ferry::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    const ferry::Status status = ferry::cli::Demo(args, std::cout);
    if (!status.ok()) {
      std::cerr << "ferry-demo: error: " << status.message() << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "ferry-demo: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
