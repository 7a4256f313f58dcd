"""Arrays: ``ferry.nd.array(np_array, dev)``, ``ferry.nd.empty``, ``ferry.nd.from_dlpack``.

``array`` and ``NDArray.numpy()`` copy; ``from_dlpack`` and ``NDArray.__dlpack__`` share memory
(numpy >= 1.22: ``numpy.from_dlpack(ferry_array)``; torch: ``torch.utils.dlpack.from_dlpack``).
"""
from ._ferry import NDArray, DataType, array, empty  # noqa: F401

try:
    from ._ferry import from_dlpack  # noqa: F401
except ImportError:  # pragma: no cover - DLPack support compiled out
    pass

__all__ = ["NDArray", "DataType", "array", "empty", "from_dlpack"]
