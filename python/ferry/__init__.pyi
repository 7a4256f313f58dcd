"""Type stubs of the `ferry` package."""
from . import graph_executor as graph_executor
from . import nd as nd
from . import rpc as rpc
from ._ferry import BenchmarkResult as BenchmarkResult
from ._ferry import DataType as DataType
from ._ferry import Device as Device
from ._ferry import FactoryModule as FactoryModule
from ._ferry import FailedPreconditionError as FailedPreconditionError
from ._ferry import Module as Module
from ._ferry import NDArray as NDArray
from ._ferry import NotFoundError as NotFoundError
from ._ferry import PackedFunc as PackedFunc
from ._ferry import ResourceExhaustedError as ResourceExhaustedError
from ._ferry import build_onnx as build_onnx
from ._ferry import build_zoo as build_zoo
from ._ferry import cpu as cpu
from ._ferry import cuda as cuda
from ._ferry import device as device
from ._ferry import load_module as load_module

__all__: list[str]
