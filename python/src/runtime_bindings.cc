// Device, DataType, Module, PackedFunc, load_module and time_evaluator.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings.h"
#include "runtime/data_type.h"
#include "runtime/device.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

void BindDevice(py::module_& m) {
  py::class_<Device>(m, "Device", "A device: DLPack's device type and an ordinal.")
      .def(py::init([](int type, int id) { return Device{static_cast<DLDeviceType>(type), id}; }),
           py::arg("device_type"), py::arg("device_id") = 0)
      .def_property_readonly("device_type", [](const Device& d) { return static_cast<int>(d.type); })
      .def_property_readonly("device_id", [](const Device& d) { return d.id; })
      .def_property_readonly("is_remote", &Device::is_remote)
      .def("__repr__", [](const Device& d) {
        if (d.is_remote()) return "remote[" + d.Local().ToString() + "]";
        return d.ToString();
      })
      .def("__eq__", [](const Device& a, const Device& b) { return a == b; })
      .def("__hash__", [](const Device& d) { return py::hash(py::make_tuple(static_cast<int>(d.type), d.id)); });
  m.def("cpu", &Device::Cpu, py::arg("dev_id") = 0, "The CPU device `dev_id`.");
  m.def("cuda", &Device::Cuda, py::arg("dev_id") = 0, "The CUDA device `dev_id`.");
  m.def("device", [](const std::string& text) { return Unwrap(ParseDevice(text)); },
        py::arg("name"), "Parses \"cpu\", \"cpu(0)\", \"cuda:1\"; ValueError otherwise.");
}

}  // namespace

void BindRuntime(py::module_& m) {
  BindDevice(m);
}

}  // namespace ferry::python
