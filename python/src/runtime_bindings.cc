// Device, DataType, Module, PackedFunc, load_module and time_evaluator.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "bindings.h"
#include "runtime/data_type.h"
#include "runtime/device.h"
#include "runtime/device_api.h"
#include "runtime/library_module.h"
#include "runtime/module.h"
#include "runtime/time_evaluator.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

void BindDevice(py::module_& m) {
  py::class_<Device>(m, "Device", "A device: DLPack's device type and an ordinal.")
      .def(py::init([](int type, int id) {
             return Device{static_cast<DLDeviceType>(type), id};
           }),
           py::arg("device_type"), py::arg("device_id") = 0)
      .def_property_readonly("device_type",
                             [](const Device& d) { return static_cast<int>(d.type); })
      .def_property_readonly("device_id", [](const Device& d) { return d.id; })
      .def_property_readonly("is_remote", &Device::is_remote)
      .def_property_readonly(
          "exist",
          [](const Device& d) {
            if (d.is_remote()) return false;  // ask the session (remote devices)
            StatusOr<DeviceApi*> api = GetDeviceApi(d.type);
            if (!api.ok()) return false;
            py::gil_scoped_release release;
            return (*api)->GetAttributes(d).exists;
          },
          "Whether this (local) device exists.")
      .def_property_readonly("device_name",
                             [](const Device& d) -> py::object {
                               StatusOr<DeviceApi*> api = GetDeviceApi(d.type);
                               if (d.is_remote() || !api.ok()) return py::none();
                               return py::str((*api)->GetAttributes(d).name);
                             })
      .def("__repr__",
           [](const Device& d) {
             if (d.is_remote()) return "remote[" + d.Local().ToString() + "]";
             return d.ToString();
           })
      .def("__eq__", [](const Device& a, const Device& b) { return a == b; })
      .def("__hash__", [](const Device& d) {
        return py::hash(py::make_tuple(static_cast<int>(d.type), d.id));
      });
  m.def("cpu", &Device::Cpu, py::arg("dev_id") = 0, "The CPU device `dev_id`.");
  m.def("cuda", &Device::Cuda, py::arg("dev_id") = 0, "The CUDA device `dev_id`.");
  m.def(
      "device", [](const std::string& text) { return Unwrap(ParseDevice(text)); }, py::arg("name"),
      "Parses \"cpu\", \"cpu(0)\", \"cuda:1\"; ValueError otherwise.");
}

void BindDataType(py::module_& m) {
  py::class_<DataType>(m, "DataType", "An element type: DLPack's code, bits and lanes.")
      .def(py::init([](const py::object& spec) { return ToDataType(spec); }), py::arg("dtype"),
           "From \"float32\", a numpy dtype or a DataType.")
      .def_property_readonly("type_code", [](const DataType& t) { return t.code; })
      .def_property_readonly("bits", [](const DataType& t) { return t.bits; })
      .def_property_readonly("lanes", [](const DataType& t) { return t.lanes; })
      .def("__str__", &DataType::ToString)
      .def("__repr__", [](const DataType& t) { return "DataType('" + t.ToString() + "')"; })
      .def("__eq__",
           [](const DataType& a, const py::object& b) {
             try {
               return a == ToDataType(b);
             } catch (py::error_already_set&) {
               return false;
             } catch (const std::exception&) {
               return false;
             }
           })
      .def("__hash__", [](const DataType& t) { return py::hash(py::str(t.ToString())); });
}

// Timings of a time evaluator (TVM's BenchmarkResult): seconds per call, one per repeat.
struct BenchmarkResult {
  std::vector<double> results;

  double mean() const {
    return results.empty() ? 0
                           : std::accumulate(results.begin(), results.end(), 0.0) /
                                 static_cast<double>(results.size());
  }
  double median() const {
    if (results.empty()) return 0;
    std::vector<double> sorted = results;
    std::sort(sorted.begin(), sorted.end());
    size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
  double min() const {
    return results.empty() ? 0 : *std::min_element(results.begin(), results.end());
  }
  double max() const {
    return results.empty() ? 0 : *std::max_element(results.begin(), results.end());
  }
  // Population standard deviation, as numpy.std.
  double std() const {
    if (results.empty()) return 0;
    double m = mean(), sum = 0;
    for (double r : results) sum += (r - m) * (r - m);
    return std::sqrt(sum / static_cast<double>(results.size()));
  }
};

std::string Milliseconds(double seconds) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.4f ms", seconds * 1e3);
  return text;
}

void BindBenchmarkResult(py::module_& m) {
  py::class_<BenchmarkResult>(m, "BenchmarkResult",
                              "Timings of a time evaluator, in seconds per call (one entry of "
                              "`results` per repeat).")
      .def(
          py::init([](std::vector<double> results) { return BenchmarkResult{std::move(results)}; }),
          py::arg("results"))
      .def_readonly("results", &BenchmarkResult::results)
      .def_property_readonly("mean", &BenchmarkResult::mean)
      .def_property_readonly("median", &BenchmarkResult::median)
      .def_property_readonly("min", &BenchmarkResult::min)
      .def_property_readonly("max", &BenchmarkResult::max)
      .def_property_readonly("std", &BenchmarkResult::std)
      .def("__repr__", [](const BenchmarkResult& r) {
        return "BenchmarkResult(mean=" + Milliseconds(r.mean()) +
               ", median=" + Milliseconds(r.median()) + ", min=" + Milliseconds(r.min()) +
               ", max=" + Milliseconds(r.max()) + ", std=" + Milliseconds(r.std()) +
               ", repeat=" + std::to_string(r.results.size()) + ")";
      });
}

py::object CallFromPython(const Function& f, const py::args& args, const py::kwargs& kwargs) {
  if (kwargs.size() > 0 && !f.keyword_pairs) {
    throw py::type_error("PackedFunc" + (f.name.empty() ? "" : " '" + f.name + "'") +
                         " takes no keyword arguments");
  }
  py::object result = py::none();
  if (args.size() > 0 || kwargs.size() == 0) {
    std::vector<Value> values;
    values.reserve(args.size());
    for (const py::handle& arg : args) values.push_back(ToValue(arg));
    result = FromValue(Unwrap(CallFunction(f.func, std::move(values), f.interruptible)));
  }
  for (const auto& [key, value] : kwargs) {
    std::vector<Value> values{Value(key.cast<std::string>()), ToValue(value)};
    result = FromValue(Unwrap(CallFunction(f.func, std::move(values), f.interruptible)));
  }
  return result;
}

bool IsRemote(const Module& module) { return module.type_key().rfind("rpc:", 0) == 0; }

Function GetFunction(const Module& module, const std::string& name, bool query_imports) {
  // A remote module looks the name up on the agent: a network wait.
  StatusOr<PackedFunc> found = [&] {
    py::gil_scoped_release release;
    return module.GetFunction(name, query_imports);
  }();
  PackedFunc func = Unwrap(std::move(found));
  return Function{func, name, name == "set_input", IsRemote(module)};
}

std::vector<double> ReadSeconds(const Value& value) {
  NDArray seconds = Unwrap(value.As<NDArray>());
  std::vector<double> out(static_cast<size_t>(seconds.NumElements()));
  Check(seconds.CopyToBytes(out.data(), out.size() * sizeof(double)));
  return out;
}

std::vector<Value> ToValues(const py::args& args) {
  std::vector<Value> values;
  values.reserve(args.size());
  for (const py::handle& arg : args) values.push_back(ToValue(arg));
  return values;
}

// A local time evaluator, run in chunks of repeats so that Ctrl-C (checked between chunks)
// stops a long measurement: the first runtime call measures one repeat, later ones as many
// repeats as take about kChunkSeconds. A single repeat cannot be interrupted (a running kernel
// cannot be stopped safely). Each runtime call warms up once; `number` starts where the
// previous chunk's min_repeat_ms growth left it, so later chunks do not grow it again.
class LocalTimer {
 public:
  LocalTimer(Module module, std::string name, Device device, TimeEvaluatorOptions options)
      : module_(std::move(module)), name_(std::move(name)), device_(device), options_(options) {
    // Checks the name and the options now, as the runtime does.
    Unwrap(TimeEvaluator(module_, name_, device_, options_));
  }

  BenchmarkResult operator()(const py::args& args) const {
    constexpr double kChunkSeconds = 0.5;
    std::vector<Value> values = ToValues(args);
    TimeEvaluatorOptions chunk = options_;
    chunk.repeat = 1;
    BenchmarkResult result;
    while (static_cast<int>(result.results.size()) < options_.repeat) {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      PackedFunc timer = Unwrap(TimeEvaluator(module_, name_, device_, chunk));
      bool cool_first = !result.results.empty() && options_.cooldown_ms > 0;
      StatusOr<Value> seconds = [&] {
        py::gil_scoped_release release;
        if (cool_first)
          std::this_thread::sleep_for(std::chrono::milliseconds(options_.cooldown_ms));
        return timer.CallPacked(values);
      }();
      std::vector<double> chunk_seconds = ReadSeconds(Unwrap(std::move(seconds)));
      if (chunk_seconds.empty()) break;
      result.results.insert(result.results.end(), chunk_seconds.begin(), chunk_seconds.end());
      double per_call = chunk_seconds.back();
      if (options_.min_repeat_ms > 0 && per_call > 0) {
        double needed = options_.min_repeat_ms / 1e3 / per_call;
        if (needed > chunk.number) chunk.number = static_cast<int>(std::min(needed + 1, 1e9));
      }
      double repeat_seconds = per_call * chunk.number + options_.cooldown_ms / 1e3;
      int left = options_.repeat - static_cast<int>(result.results.size());
      int fit = repeat_seconds > 0 ? static_cast<int>(kChunkSeconds / repeat_seconds) : left;
      chunk.repeat = std::clamp(fit, 1, std::max(left, 1));
    }
    return result;
  }

 private:
  Module module_;
  std::string name_;
  Device device_;
  TimeEvaluatorOptions options_;
};

py::object MakeTimeEvaluator(const Module& module, const std::string& name, const py::object& dev,
                             int number, int repeat, int min_repeat_ms, int cooldown_ms) {
  std::string doc_name = "time_evaluator(" + name + ")";
  const char* doc =
      "Runs the measurement with the timed function's arguments and returns a BenchmarkResult "
      "(seconds per call: mean, median, min, max, std, results).";
  if (py::hasattr(dev, "_ferry_time_evaluator")) {
    // A remote session measures on the agent; the wait is interruptible.
    py::object f =
        dev.attr("_ferry_time_evaluator")(module, name, number, repeat, min_repeat_ms, cooldown_ms);
    PackedFunc timer = f.cast<const Function&>().func;
    return py::cpp_function(
        [timer](const py::args& args) {
          return BenchmarkResult{
              ReadSeconds(Unwrap(CallFunction(timer, ToValues(args), /*interruptible=*/true)))};
        },
        py::name(doc_name.c_str()), py::doc(doc));
  }
  Device device = ToDevice(dev);
  if (device.is_remote() || IsRemote(module)) {
    throw py::value_error(
        "time_evaluator on a remote module needs its session's device "
        "(remote.cpu(0)), not " +
        device.ToString());
  }
  LocalTimer timer(module, name, device, {number, repeat, min_repeat_ms, cooldown_ms});
  return py::cpp_function([timer](const py::args& args) { return timer(args); },
                          py::name(doc_name.c_str()), py::doc(doc));
}

void BindModule(py::module_& m) {
  py::class_<Function>(m, "PackedFunc",
                       "A function of a module. Calls convert arguments (NDArray, numpy arrays, "
                       "numbers, strings, bytes, devices, modules) and release the GIL.")
      .def("__call__", &CallFromPython)
      .def_readonly("name", &Function::name)
      .def("__repr__", [](const Function& f) {
        return "<ferry.PackedFunc" + (f.name.empty() ? "" : " '" + f.name + "'") +
               (f.interruptible ? " (remote)" : "") + ">";
      });

  py::class_<Module>(m, "Module", "A collection of functions: a library, a factory, an executor.")
      .def(
          "__getitem__",
          [](const Module& mod, const std::string& name) { return GetFunction(mod, name, true); },
          py::arg("name"),
          "The function `name` (imports included); NotFoundError when there is none. "
          "`set_input` also accepts keywords: gmod[\"set_input\"](data=x).")
      .def("get_function", &GetFunction, py::arg("name"), py::arg("query_imports") = true)
      .def(
          "implements_function",
          [](const Module& mod, const std::string& name, bool query_imports) {
            py::gil_scoped_release release;
            return mod.GetFunction(name, query_imports).ok();
          },
          py::arg("name"), py::arg("query_imports") = false)
      .def("__contains__",
           [](const Module& mod, const std::string& name) {
             py::gil_scoped_release release;
             return mod.GetFunction(name, true).ok();
           })
      .def_property_readonly("type_key", &Module::type_key)
      .def_property_readonly("imported_modules", &Module::imports)
      .def("list_functions", [](const Module& mod) { return mod->ListFunctions(); })
      .def("time_evaluator", &MakeTimeEvaluator, py::arg("func_name"), py::arg("dev"),
           py::arg("number") = 1, py::arg("repeat") = 1, py::arg("min_repeat_ms") = 0,
           py::arg("cooldown_ms") = 0,
           "TVM's time_evaluator: a function that takes `func_name`'s arguments, warms up once, "
           "runs `repeat` repeats of `number` calls (raised until a repeat lasts "
           "min_repeat_ms), and returns a BenchmarkResult. Runs where the module lives.")
      .def("__eq__", [](const Module& a, const Module& b) { return a == b; })
      .def("__hash__", [](const Module& mod) { return std::hash<const void*>()(mod.get()); })
      .def("__repr__", [](const Module& mod) {
        std::string text = "<ferry.Module type_key='" + mod.type_key() + "'";
        std::vector<std::string> names = mod->ListFunctions();
        if (!names.empty() && names.size() <= 12) {
          text += " functions=[";
          for (size_t i = 0; i < names.size(); ++i) text += (i ? ", " : "") + names[i];
          text += "]";
        }
        if (!mod.imports().empty()) {
          text += " imports=" + std::to_string(mod.imports().size());
        }
        return text + ">";
      });

  m.def(
      "load_module",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return Unwrap(LoadModule(path));
      },
      py::arg("path"),
      "Loads a model library built by `ferry build` or export_library. NotFoundError for a "
      "missing file, ValueError for a file that is not a Ferry library.");
}

}  // namespace

void BindRuntime(py::module_& m) {
  BindDevice(m);
  BindDataType(m);
  BindBenchmarkResult(m);
  BindModule(m);
  m.def("_wait_for_pending_calls", &WaitForPendingCalls, py::arg("timeout_s") = 120.0,
        "Waits for interruptible calls still running (e.g. abandoned by Ctrl-C); used at exit.");
}

}  // namespace ferry::python
