// Building from Python: ferry.build_onnx, ferry.build_zoo and the factory module they return.
//
// A build imports the model, writes a model library (with its parameters) into a private
// temporary directory through compiler::ExportLibrary (the system C++ compiler, as
// `ferry build`) and loads it, so the result is usable at once: `lib["key"](dev)`.
// export_library(path) then copies that library; export_library(path, package_params=False)
// builds again without parameters and writes them to `path.params`, as
// `ferry build --no-package-params`. The temporary directory goes with the last reference
// to the factory module. The GIL is released while importing, compiling and loading.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bindings.h"
#include "compiler/export_library.h"
#include "compiler/model.h"
#include "compiler/onnx/onnx_importer.h"
#include "compiler/zoo.h"
#include "runtime/library_manifest.h"
#include "runtime/library_module.h"
#include "runtime/module.h"

namespace py = pybind11;
namespace fs = std::filesystem;

namespace ferry::python {
namespace {

// What a build produced: the models (kept for exporting without parameters), their executor
// kind, and the library built with parameters in a temporary directory owned by this object.
struct BuildArtifacts {
  std::vector<compiler::Model> models;
  ExecutorKind executor = ExecutorKind::kGraph;
  std::string directory;     // removed by the destructor
  std::string library_path;  // directory/<first key>.so, parameters packaged

  BuildArtifacts() = default;
  BuildArtifacts(const BuildArtifacts&) = delete;
  BuildArtifacts& operator=(const BuildArtifacts&) = delete;
  ~BuildArtifacts() {
    if (directory.empty()) return;
    std::error_code ignored;
    fs::remove_all(directory, ignored);
  }
};

// The factory module of a build: the loaded library (a Module, so lib["key"], get_function,
// time_evaluator... work) plus what export_library needs.
struct FactoryModule : Module {
  FactoryModule(Module loaded, std::shared_ptr<const BuildArtifacts> built)
      : Module(std::move(loaded)), artifacts(std::move(built)) {}
  std::shared_ptr<const BuildArtifacts> artifacts;
};

// os.fspath(path) as a string (str or os.PathLike). TypeError otherwise.
std::string PathArgument(const py::handle& path) {
  py::object text = py::module_::import("os").attr("fspath")(path);
  if (!py::isinstance<py::str>(text)) throw py::type_error("expected a str path, got bytes");
  return text.cast<std::string>();
}

StatusOr<std::string> MakeTemporaryDirectory() {
  std::error_code error;
  fs::path base = fs::temp_directory_path(error);
  if (error) base = "/tmp";
  std::string pattern = (base / "ferry-build-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return UnavailableError("cannot create a temporary directory under " + base.string() + ": " +
                            std::error_code(errno, std::generic_category()).message());
  }
  return pattern;
}

std::vector<compiler::ModelBuild> ModelBuilds(const BuildArtifacts& built) {
  std::vector<compiler::ModelBuild> builds;
  for (const compiler::Model& m : built.models) builds.push_back({&m, built.executor});
  return builds;
}

// Builds `models` into a library with parameters in a new temporary directory and loads it.
// Called without the GIL.
StatusOr<FactoryModule> BuildAndLoad(std::vector<compiler::Model> models, ExecutorKind executor) {
  auto built = std::make_shared<BuildArtifacts>();
  built->models = std::move(models);
  built->executor = executor;
  ASSIGN_OR_RETURN(built->directory, MakeTemporaryDirectory());
  built->library_path = (fs::path(built->directory) / (built->models.front().key + ".so")).string();
  std::vector<compiler::ModelBuild> builds = ModelBuilds(*built);
  RETURN_IF_ERROR(compiler::ExportLibrary(builds, built->library_path));
  ASSIGN_OR_RETURN(Module loaded, LoadModule(built->library_path));
  return FactoryModule(std::move(loaded), std::move(built));
}

// Copies `from` to `to` through a temporary file beside `to`, so that `to` is either the old
// file or the whole new one.
Status CopyAtomically(const std::string& from, const std::string& to) {
  const std::string temporary = to + ".tmp-" + std::to_string(getpid());
  std::error_code error;
  fs::copy_file(from, temporary, fs::copy_options::overwrite_existing, error);
  if (!error) fs::rename(temporary, to, error);
  if (error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    if (error == std::errc::no_such_file_or_directory) {
      return NotFoundError("cannot write " + to + ": " + error.message());
    }
    if (error == std::errc::permission_denied) {
      return PermissionDeniedError("cannot write " + to + ": " + error.message());
    }
    return UnavailableError("cannot write " + to + ": " + error.message());
  }
  return Status::Ok();
}

// export_library(path, package_params): one shared library with every model of the build.
Status Export(const FactoryModule& lib, const std::string& path, bool package_params) {
  const BuildArtifacts& built = *lib.artifacts;
  if (package_params) return CopyAtomically(built.library_path, path);
  compiler::ExportOptions options;
  options.package_params = false;
  std::vector<compiler::ModelBuild> builds = ModelBuilds(built);
  return compiler::ExportLibrary(builds, path, options);
}

ExecutorKind ExecutorArgument(const std::string& executor) {
  return Unwrap(ParseExecutorKind(executor));
}

std::string Keys(const FactoryModule& lib) {
  std::string keys;
  for (const compiler::Model& m : lib.artifacts->models) {
    keys += std::string(keys.empty() ? "" : ", ") + "'" + m.key + "'";
  }
  return keys;
}

// shape_dict: {"data": (1, 3, 224, 224)} (any sequence of ints per name).
std::map<std::string, std::vector<int64_t>> ShapeDict(const py::object& shape_dict) {
  std::map<std::string, std::vector<int64_t>> shapes;
  if (shape_dict.is_none()) return shapes;
  if (!py::isinstance<py::dict>(shape_dict)) {
    throw py::type_error("shape_dict must be a dict of input name -> shape");
  }
  for (const auto& [name, dims] : shape_dict.cast<py::dict>()) {
    std::vector<int64_t>& shape = shapes[py::str(name).cast<std::string>()];
    for (const py::handle& d : dims) {
      int64_t v = py::int_(py::reinterpret_borrow<py::object>(d)).cast<int64_t>();
      if (v < 0) {
        throw py::value_error("shape_dict['" + py::str(name).cast<std::string>() +
                              "'] has a negative dimension");
      }
      shape.push_back(v);
    }
  }
  return shapes;
}

FactoryModule BuildOnnx(const py::object& path_arg, const py::object& shape_dict,
                        const std::string& executor, const std::optional<std::string>& name,
                        const py::object& bind) {
  const std::string path = PathArgument(path_arg);
  compiler::onnx_import::OnnxImportOptions options;
  options.key = name ? *name : fs::path(path).stem().string();
  if (options.key.empty()) throw py::value_error("the model needs a key: pass name=");
  options.input_shapes = ShapeDict(shape_dict);
  if (!bind.is_none()) {
    if (!py::isinstance<py::dict>(bind)) {
      throw py::type_error("bind must be a dict of input name -> array");
    }
    for (const auto& [input, value] : bind.cast<py::dict>()) {
      py::array array = py::array::ensure(value);
      if (!array) throw py::type_error("bind values must be arrays");
      options.bound_inputs[py::str(input).cast<std::string>()] =
          NDArrayFromNumpy(array, py::cast(Device::Cpu(0)));
    }
  }
  const ExecutorKind kind = ExecutorArgument(executor);
  py::gil_scoped_release release;
  StatusOr<compiler::Model> model = compiler::onnx_import::ImportOnnxFile(path, options);
  if (!model.ok()) Check(model.status().WithContext(path));
  std::vector<compiler::Model> models;
  models.push_back(std::move(model).value());
  return Unwrap(BuildAndLoad(std::move(models), kind));
}

FactoryModule BuildZoo(const std::string& model_name, const std::string& executor,
                       const std::optional<std::string>& name,
                       const std::optional<std::string>& key, std::optional<uint32_t> seed) {
  if (name && key && *name != *key) {
    throw py::value_error("give the model's key as name= or key=, not both");
  }
  const ExecutorKind kind = ExecutorArgument(executor);
  py::gil_scoped_release release;
  compiler::Model model =
      Unwrap(compiler::BuildZooModel(model_name, seed.value_or(compiler::kDefaultZooSeed)));
  if (name) model.key = *name;
  if (key) model.key = *key;
  std::vector<compiler::Model> models;
  models.push_back(std::move(model));
  return Unwrap(BuildAndLoad(std::move(models), kind));
}

}  // namespace

void BindCompiler(py::module_& m) {
  py::class_<FactoryModule, Module>(
      m, "FactoryModule",
      "The factory module of a build (ferry.build_onnx / build_zoo): a loaded model library, "
      "so lib[\"key\"](dev) creates an executor here, plus export_library.")
      .def(
          "export_library",
          [](const FactoryModule& lib, const py::object& path, bool package_params) {
            const std::string target = PathArgument(path);
            py::gil_scoped_release release;
            Check(Export(lib, target, package_params));
          },
          py::arg("path"), py::arg("package_params") = true,
          "Writes the model library (.so) to `path`: it loads with ferry.load_module or a "
          "session's load_module. With package_params=False the parameters go to "
          "`path + \".params\"` (an executor's load_params reads them) and the library "
          "holds none, as `ferry build --no-package-params`.")
      .def_property_readonly(
          "keys",
          [](const FactoryModule& lib) {
            std::vector<std::string> keys;
            for (const compiler::Model& model : lib.artifacts->models) keys.push_back(model.key);
            return keys;
          },
          "The model keys of the library (lib[key] is a model's factory).")
      .def_property_readonly(
          "executor",
          [](const FactoryModule& lib) {
            return std::string(ExecutorKindName(lib.artifacts->executor));
          },
          "The executor kind the models were built for (\"graph\" or \"aot\").")
      .def_property_readonly(
          "library_path", [](const FactoryModule& lib) { return lib.artifacts->library_path; },
          "The temporary library (parameters packaged) this object loaded; removed with it.")
      .def("__repr__", [](const FactoryModule& lib) {
        return "<ferry.FactoryModule keys=[" + Keys(lib) +
               "] executor=" + std::string(ExecutorKindName(lib.artifacts->executor)) + ">";
      });

  m.def("build_onnx", &BuildOnnx, py::arg("path"), py::arg("shape_dict") = py::none(),
        py::arg("executor") = "graph", py::arg("name") = py::none(), py::arg("bind") = py::none(),
        "Imports an ONNX model and builds it into a model library, as `ferry build MODEL.onnx`. "
        "shape_dict fixes input shapes ({\"data\": (1, 3, 224, 224)}, required for dynamic "
        "dimensions); executor is \"graph\" or \"aot\"; the key is the file's stem unless "
        "`name` says otherwise; bind fixes inputs to values at build time ({name: array}). "
        "Returns a FactoryModule. Errors: NotFoundError (missing file), ValueError (a file "
        "that is not a valid ONNX model, wrong shapes, unknown input names, unknown executor), "
        "NotImplementedError (unsupported operators), RuntimeError (the compiler failed).");
  m.def("build_zoo", &BuildZoo, py::arg("model"), py::arg("executor") = "graph",
        py::arg("name") = py::none(), py::arg("key") = py::none(), py::arg("seed") = py::none(),
        "Builds a model of the built-in zoo (\"mlp\", \"cnn\"; compiler/zoo.h), as "
        "`ferry build --zoo MODEL`: its key is the model's name unless `name` (or `key`) says "
        "otherwise; `seed` picks other random weights. Returns a FactoryModule. Errors: "
        "NotFoundError for an unknown model, ValueError for an unknown executor.");
  m.def("zoo_models", &compiler::ListZooModels, "The names of the built-in zoo models.");
}

}  // namespace ferry::python
