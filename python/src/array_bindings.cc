// NDArray: numpy conversion (copying), copies between devices, and DLPack (sharing).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "bindings.h"
#include "runtime/ndarray.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

std::vector<int64_t> ToShape(const py::handle& shape) {
  if (py::isinstance<py::int_>(shape)) return {shape.cast<int64_t>()};
  std::vector<int64_t> dims;
  for (const py::handle& d : shape) dims.push_back(py::int_(py::reinterpret_borrow<py::object>(d)).cast<int64_t>());
  return dims;
}

// A new uninitialised array on `device` (a Device or a remote device object).
NDArray EmptyOn(const std::vector<int64_t>& shape, DataType dtype, const py::handle& device) {
  if (!py::isinstance<Device>(device) && py::hasattr(device, "_ferry_empty")) {
    return device.attr("_ferry_empty")(shape, dtype.ToString()).cast<NDArray>();
  }
  Device dev = ToDevice(device);
  if (dev.is_remote()) {
    throw py::value_error("cannot allocate on " + dev.ToString() +
                          " without its session: use the session's device (remote.cpu(0))");
  }
  py::gil_scoped_release release;
  return Unwrap(NDArray::Empty(shape, dtype, dev));
}

py::tuple ShapeTuple(const NDArray& a) {
  const std::vector<int64_t>& shape = a.shape();
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

// A copy of `a` as a new numpy array.
py::array ToNumpy(const NDArray& a) {
  py::array out(ToNumpyDtype(a.dtype()), a.shape());
  if (a.NumBytes() > 0) {
    void* dst = out.mutable_data();
    size_t bytes = a.NumBytes();
    py::gil_scoped_release release;
    Check(a.CopyToBytes(dst, bytes));
  }
  return out;
}

// Copies `source` (an NDArray, a numpy array or anything numpy.asarray takes) into `target`.
// numpy sources are converted to the target's dtype (as TVM's copyfrom); shapes must match.
void CopyInto(NDArray target, const py::object& source) {
  if (py::isinstance<NDArray>(source)) {
    NDArray from = source.cast<NDArray>();
    py::gil_scoped_release release;
    Check(target.CopyFrom(from));
    return;
  }
  py::module_ numpy = py::module_::import("numpy");
  py::array array = numpy.attr("ascontiguousarray")(source, ToNumpyDtype(target.dtype()));
  std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
  if (shape != target.shape()) {
    throw py::value_error("copyfrom: array shape " + ShapeToString(shape) +
                          " does not match " + ShapeToString(target.shape()));
  }
  const void* src = array.data();
  size_t bytes = static_cast<size_t>(array.nbytes());
  py::gil_scoped_release release;
  Check(target.CopyFromBytes(src, bytes));
}

std::string Repr(const NDArray& a) {
  std::string text = "<ferry.NDArray " + a.ToString() + ">";
  if (a.device().type == kDLCPU && a.NumElements() <= 64) {
    try {
      text += "\n" + std::string(py::repr(ToNumpy(a)));
    } catch (const std::exception&) {
      // dtypes without a numpy equivalent print without values
    }
  }
  return text;
}

}  // namespace

NDArray NDArrayFromNumpy(const py::array& source, const py::handle& device) {
  py::module_ numpy = py::module_::import("numpy");
  py::array array = numpy.attr("ascontiguousarray")(source);
  DataType dtype = ToDataType(array.dtype());
  std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
  NDArray out = EmptyOn(shape, dtype, device);
  const void* src = array.data();
  size_t bytes = static_cast<size_t>(array.nbytes());
  py::gil_scoped_release release;
  Check(out.CopyFromBytes(src, bytes));
  return out;
}

void BindArrays(py::module_& m) {
  py::class_<NDArray>(m, "NDArray",
                      "A tensor on a device. Copies of an NDArray share its data; numpy() and "
                      "copyto() copy, __dlpack__ shares.")
      .def_property_readonly("shape", &ShapeTuple)
      .def_property_readonly("dtype", [](const NDArray& a) { return a.dtype().ToString(); })
      .def_property_readonly("device", &NDArray::device)
      .def_property_readonly("ndim", &NDArray::ndim)
      .def_property_readonly("size", &NDArray::NumElements)
      .def_property_readonly("nbytes", &NDArray::NumBytes)
      .def_property_readonly(
          "data_ptr", [](const NDArray& a) { return reinterpret_cast<uintptr_t>(a.data()); },
          "Address of the first element (a device address off the CPU).")
      .def("numpy", &ToNumpy, "A copy as a new numpy array.")
      .def("asnumpy", &ToNumpy, "Same as numpy() (TVM's older name).")
      .def("__array__",
           [](const NDArray& a, const py::object& dtype) {
             py::array out = ToNumpy(a);
             return dtype.is_none() ? out : py::array(out.attr("astype")(dtype));
           },
           py::arg("dtype") = py::none())
      .def(
          "copyfrom",
          [](NDArray self, const py::object& source) {
            CopyInto(self, source);
            return self;
          },
          py::arg("source"),
          "Copies an NDArray or a numpy array (converted to this dtype) into this array; "
          "ValueError for a shape mismatch. Returns self.")
      .def(
          "copyto",
          [](const NDArray& self, const py::object& target) -> py::object {
            if (py::isinstance<NDArray>(target)) {
              NDArray to = target.cast<NDArray>();
              {
                py::gil_scoped_release release;
                Check(to.CopyFrom(self));
              }
              return target;
            }
            NDArray out = EmptyOn(self.shape(), self.dtype(), target);
            {
              py::gil_scoped_release release;
              Check(out.CopyFrom(self));
            }
            return py::cast(out);
          },
          py::arg("target"),
          "A copy on device `target`, or copies into the NDArray `target` and returns it.")
      .def("same_as", [](const NDArray& a, const NDArray& b) { return a == b; })
      .def("__len__",
           [](const NDArray& a) {
             if (a.ndim() == 0) throw py::type_error("len() of a 0-d NDArray");
             return a.shape()[0];
           })
      .def("__repr__", &Repr)
      .def("__str__", &Repr);

  m.def(
      "array",
      [](const py::object& source, const py::object& device) -> NDArray {
        if (py::isinstance<NDArray>(source)) {
          NDArray from = source.cast<NDArray>();
          NDArray out = EmptyOn(from.shape(), from.dtype(), device);
          py::gil_scoped_release release;
          Check(out.CopyFrom(from));
          return out;
        }
        py::module_ numpy = py::module_::import("numpy");
        return NDArrayFromNumpy(numpy.attr("asarray")(source), device);
      },
      py::arg("arr"), py::arg("device") = Device::Cpu(0),
      "A new array on `device` holding a copy of `arr` (a numpy array, anything numpy.asarray "
      "takes, or an NDArray).");
  m.def(
      "empty",
      [](const py::object& shape, const py::object& dtype, const py::object& device) {
        return EmptyOn(ToShape(shape), ToDataType(dtype), device);
      },
      py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = Device::Cpu(0),
      "A new uninitialised array.");
}

NDArray NDArrayFromDLPackObject(const py::handle& object) {
  throw py::type_error("DLPack import is not available yet");
}

}  // namespace ferry::python
