"""TVM's graph executor wrapper over an executor module.

::

    lib = ferry.load_module("mlp.so")
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))
    # or: gmod = ferry.graph_executor.create(lib["mlp"], ferry.cpu(0))
    gmod.set_input(data=x)
    gmod.run()
    y = gmod.get_output(0).numpy()

It only calls the module's functions (set_input, run, get_output, ...), so it works the same
on a local executor, an AOT executor and one in a remote session.
"""
from ._ferry import Module

__all__ = ["GraphModule", "create"]


def _parse_info(text):
    """Parses the executor's "name<TAB>dtype<TAB>d0,d1,..." lines into (shapes, dtypes)."""
    shapes, dtypes = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        name, dtype, dims = (line.split("\t") + ["", ""])[:3]
        shapes[name] = tuple(int(d) for d in dims.split(",") if d != "")
        dtypes[name] = dtype
    return shapes, dtypes


class GraphModule:
    """Wraps an executor module (``lib["key"](dev)``) with TVM's GraphModule methods."""

    def __init__(self, module):
        if not isinstance(module, Module):
            raise TypeError("GraphModule expects an executor Module, got %s" % type(module).__name__)
        self.module = module
        self._set_input = module.get_function("set_input")
        self._run = module.get_function("run")
        self._get_output = module.get_function("get_output")
        self._get_input = module.get_function("get_input")
        self._get_num_inputs = module.get_function("get_num_inputs")
        self._get_num_outputs = module.get_function("get_num_outputs")
        self._get_input_info = module.get_function("get_input_info")
        self._load_params = module.get_function("load_params")

    def set_input(self, key=None, value=None, **params):
        """Sets inputs by name or index (``set_input("data", x)``, ``set_input(0, x)``), by
        keyword (``set_input(data=x)``), or from a dict (``set_input(**params)``). Values are
        NDArrays, numpy arrays or DLPack tensors; shapes and dtypes must match (ValueError)."""
        if key is not None:
            if value is None:
                raise ValueError("set_input: no value given for input %r" % (key,))
            self._set_input(key, value)
        for name, val in params.items():
            self._set_input(name, val)

    def run(self, **input_dict):
        """Runs the model, after setting any inputs given as keywords."""
        if input_dict:
            self.set_input(**input_dict)
        self._run()

    def get_output(self, index, out=None):
        """Output `index` (the executor's own array, overwritten by the next run), or copies it
        into `out` and returns `out`."""
        output = self._get_output(index)
        if out is not None:
            out.copyfrom(output)
            return out
        return output

    def get_input(self, index, out=None):
        """Input `index` (an int or a name)."""
        value = self._get_input(index)
        if out is not None:
            out.copyfrom(value)
            return out
        return value

    def get_num_inputs(self):
        return self._get_num_inputs()

    def get_num_outputs(self):
        return self._get_num_outputs()

    def get_input_info(self):
        """(shape_dict, dtype_dict) of the inputs, as TVM's: {"data": (1, 784)}, {"data": "float32"}."""
        return _parse_info(self._get_input_info())

    def get_output_info(self):
        """(shape_dict, dtype_dict) of the outputs, named output_0, output_1, ..."""
        return _parse_info(self.module.get_function("get_output_info")())

    def load_params(self, params_bytes):
        """Loads parameters in the params format (e.g. the bytes of ``<library>.params``)."""
        self._load_params(bytes(params_bytes))

    def __getitem__(self, key):
        return self.module[key]

    def __repr__(self):
        return "<ferry.graph_executor.GraphModule %s>" % (self.module.type_key,)


def create(factory, device):
    """Creates a runtime with a model's factory (``lib["key"]``) on ``device`` and wraps it:
    ``create(lib["mlp"], ferry.cpu(0))``."""
    return GraphModule(factory(device))
