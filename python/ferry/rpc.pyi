"""Type stubs of `ferry.rpc`: sessions with device agents and the tracker client."""
import os
from typing import Optional, Union

from ._ferry import RemoteDevice as RemoteDevice
from ._ferry import RemoteSession as RemoteSession
from ._ferry import TrackerSession as TrackerSession

_Path = Union[str, "os.PathLike[str]"]

__all__: list[str]

def endpoint(host: str, port: Optional[int] = None) -> str: ...
def connect(host: str, port: Optional[int] = None, *, identity: Optional[_Path] = None,
            server_key: Optional[Union[str, _Path]] = None,
            timeout: float = 60.0) -> RemoteSession: ...
def connect_tracker(host: str, port: Optional[int] = None, *, identity: Optional[_Path] = None,
                    tracker_key: Optional[Union[str, _Path]] = None,
                    timeout: float = 60.0) -> TrackerSession: ...
