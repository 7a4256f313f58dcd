from ._ferry import DataType as DataType
from ._ferry import NDArray as NDArray
from ._ferry import array as array
from ._ferry import empty as empty
from ._ferry import from_dlpack as from_dlpack

__all__ = ["NDArray", "DataType", "array", "empty", "from_dlpack"]
