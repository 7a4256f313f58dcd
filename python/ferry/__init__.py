"""Ferry: compiled models and remote execution from Python.

The names follow TVM's module-based runtime interface::

    lib = ferry.load_module("mlp.so")
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](ferry.cpu(0)))
    gmod.set_input(data=x); gmod.run(); y = gmod.get_output(0).numpy()
"""
from . import _ferry
from ._ferry import (  # noqa: F401
    Device,
    NotFoundError,
    ResourceExhaustedError,
    FailedPreconditionError,
    cpu,
    cuda,
    device,
)

__all__ = [
    "Device",
    "NotFoundError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "cpu",
    "cuda",
    "device",
]
