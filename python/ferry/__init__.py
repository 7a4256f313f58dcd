"""Ferry: compiled models and remote execution from Python.

The names follow TVM's module-based runtime interface::

    lib = ferry.load_module("mlp.so")
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))
    gmod.set_input(data=x); gmod.run(); y = gmod.get_output(0).numpy()

Errors are Python exceptions chosen by Ferry's status code: ValueError (invalid argument),
NotFoundError (a LookupError), ConnectionError (unavailable), TimeoutError, PermissionError,
NotImplementedError, ResourceExhaustedError, FailedPreconditionError, RuntimeError (internal).
Each has a ``status_code`` attribute ("NOT_FOUND", ...).
"""
import atexit as _atexit
from importlib.util import find_spec as _find_spec

from . import _ferry
from ._ferry import (  # noqa: F401
    BenchmarkResult,
    DataType,
    Device,
    FailedPreconditionError,
    Module,
    NDArray,
    NotFoundError,
    PackedFunc,
    ResourceExhaustedError,
    cpu,
    cuda,
    device,
    load_module,
)
from . import nd  # noqa: F401
from . import graph_executor  # noqa: F401

__all__ = [
    "BenchmarkResult",
    "DataType",
    "Device",
    "FailedPreconditionError",
    "Module",
    "NDArray",
    "NotFoundError",
    "PackedFunc",
    "ResourceExhaustedError",
    "cpu",
    "cuda",
    "device",
    "graph_executor",
    "load_module",
    "nd",
]

# The parts built by the other bindings, when this build has them.
for _name in ("build_onnx", "build_zoo", "FactoryModule"):
    if hasattr(_ferry, _name):
        globals()[_name] = getattr(_ferry, _name)
        __all__.append(_name)
if _find_spec(__name__ + ".rpc") is not None:
    from . import rpc  # noqa: F401

    __all__.append("rpc")
del _name

# Calls interrupted by Ctrl-C finish on their own threads (a remote one by its deadline);
# wait for them at exit so none runs while the process unloads its libraries.
_atexit.register(_ferry._wait_for_pending_calls)
