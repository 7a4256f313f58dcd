// Python objects <-> ferry::Value.
#include <pybind11/pybind11.h>

#include "bindings.h"

namespace py = pybind11;

namespace ferry::python {

Value ToValue(const py::handle& object) {
  if (object.is_none()) return Value();
  if (py::isinstance<py::bool_>(object)) return Value(object.cast<bool>());
  if (py::isinstance<py::int_>(object)) return Value(object.cast<int64_t>());
  if (py::isinstance<py::float_>(object)) return Value(object.cast<double>());
  if (py::isinstance<py::str>(object)) return Value(object.cast<std::string>());
  if (py::isinstance<py::bytes>(object)) return Value(Bytes{object.cast<std::string>()});
  throw py::type_error("cannot pass a " + std::string(py::str(object.get_type().attr("__name__"))) +
                       " to a Ferry function");
}

py::object FromValue(Value value) { return py::none(); }

}  // namespace ferry::python
