// NDArray: numpy conversion (copying), copies between devices, and DLPack (sharing).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "bindings.h"
#include "runtime/device_api.h"
#include "runtime/dlpack_interop.h"
#include "runtime/ndarray.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

std::vector<int64_t> ToShape(const py::handle& shape) {
  if (py::isinstance<py::int_>(shape)) return {shape.cast<int64_t>()};
  std::vector<int64_t> dims;
  for (const py::handle& d : shape)
    dims.push_back(py::int_(py::reinterpret_borrow<py::object>(d)).cast<int64_t>());
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
  py::array array =
      numpy.attr("asarray")(source, ToNumpyDtype(target.dtype()), py::arg("order") = "C");
  std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
  if (shape != target.shape()) {
    throw py::value_error("copyfrom: array shape " + ShapeToString(shape) + " does not match " +
                          ShapeToString(target.shape()));
  }
  const void* src = array.data();
  size_t bytes = static_cast<size_t>(array.nbytes());
  py::gil_scoped_release release;
  Check(target.CopyFromBytes(src, bytes));
}

// DLPack capsules: named "dltensor" until a consumer takes the tensor and renames the capsule
// "used_dltensor"; only an unconsumed capsule deletes its tensor (the DLPack convention).
constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

void DeleteUnconsumedCapsule(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, kCapsuleName)) return;  // consumed (or renamed)
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (managed != nullptr && managed->deleter != nullptr) managed->deleter(managed);
}

py::capsule ToCapsule(const NDArray& a) {
  DLManagedTensor* managed = Unwrap(ToDLPack(a));
  PyObject* capsule = PyCapsule_New(managed, kCapsuleName, &DeleteUnconsumedCapsule);
  if (capsule == nullptr) {
    managed->deleter(managed);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(capsule);
}

// Takes the tensor of a "dltensor" capsule and marks the capsule used.
NDArray FromCapsule(const py::handle& capsule) {
  if (!PyCapsule_IsValid(capsule.ptr(), kCapsuleName)) {
    throw py::value_error("from_dlpack: the capsule is not an unconsumed DLPack tensor");
  }
  auto* producer = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), kCapsuleName));
  // The array may die on any thread, without the GIL, but a Python producer's deleter (numpy's
  // decrefs its array) needs it: wrap the tensor in one whose deleter takes the GIL first.
  auto* wrapper = new DLManagedTensor{producer->dl_tensor, producer, [](DLManagedTensor* self) {
                                        auto* inner =
                                            static_cast<DLManagedTensor*>(self->manager_ctx);
                                        if (inner->deleter != nullptr && Py_IsInitialized()) {
                                          py::gil_scoped_acquire gil;
                                          inner->deleter(inner);
                                        }
                                        delete self;
                                      }};
  StatusOr<NDArray> array = FromDLPack(wrapper);
  if (!array.ok()) {
    delete wrapper;  // the capsule still owns the producer's tensor
    Check(array.status());
  }
  PyCapsule_SetName(capsule.ptr(), kUsedCapsuleName);
  return *std::move(array);
}

py::tuple DLPackDevice(const NDArray& a) {
  return py::make_tuple(static_cast<int>(a.device().type), a.device().id);
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
  py::array array = numpy.attr("asarray")(source, py::arg("order") = "C");
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
      .def(
          "__array__",
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
      .def(
          "__dlpack__",
          [](const NDArray& a, const py::object& stream) {
            // Ferry's copies and runs are synchronous: the data is ready for any stream.
            return ToCapsule(a);
          },
          py::arg("stream") = py::none(),
          "A DLPack capsule sharing this array's memory (the array lives until the consumer "
          "is done). ValueError for an array on a remote device.")
      .def("__dlpack_device__", &DLPackDevice, "(DLPack device type, device id).")
      .def("to_dlpack", &ToCapsule, "A DLPack capsule sharing this array (legacy API).")
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
  m.def("from_dlpack", &NDArrayFromDLPackObject, py::arg("tensor"),
        "An NDArray sharing the memory of `tensor` (anything with __dlpack__, e.g. a torch "
        "tensor or numpy array, or a DLPack capsule); no copy is made and the producer's "
        "tensor stays alive as long as the NDArray. Only compact row-major tensors are "
        "accepted: ValueError naming the strides otherwise.");
  m.def(
      "empty",
      [](const py::object& shape, const py::object& dtype, const py::object& device) {
        return EmptyOn(ToShape(shape), ToDataType(dtype), device);
      },
      py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = Device::Cpu(0),
      "A new uninitialised array.");
}

NDArray NDArrayFromDLPackObject(const py::handle& object) {
  if (py::isinstance<NDArray>(object)) return object.cast<NDArray>();
  if (PyCapsule_CheckExact(object.ptr())) return FromCapsule(object);
  if (!py::hasattr(object, "__dlpack__")) {
    throw py::type_error(
        "from_dlpack expects an object with __dlpack__ (a torch tensor, a "
        "numpy array) or a DLPack capsule, got " +
        std::string(py::str(object.get_type().attr("__name__"))));
  }
  py::object capsule;
  if (py::hasattr(object, "__dlpack_device__")) {
    py::tuple dev = object.attr("__dlpack_device__")();
    if (dev[0].cast<int>() == kDLCUDA) {
      // The consumer's stream: ours is the legacy default stream (1 in the array API).
      capsule = object.attr("__dlpack__")(py::arg("stream") = 1);
    }
  }
  if (!capsule) capsule = object.attr("__dlpack__")();
  return FromCapsule(capsule);
}

}  // namespace ferry::python
