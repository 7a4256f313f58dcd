"""Remote sessions with device agents, directly or through a tracker (TVM's ``rpc`` names).

::

    remote = ferry.rpc.connect("127.0.0.1", 9190)          # or connect("tcp://host:9190")
    remote.upload("mlp.so")
    lib = remote.load_module("mlp.so")
    gmod = ferry.graph_executor.GraphModule(lib["mlp"](remote.cpu(0)))
    gmod.set_input(data=ferry.nd.array(x, remote.cpu(0)))
    gmod.run()
    y = gmod.get_output(0).numpy()

    tracker = ferry.rpc.connect_tracker("127.0.0.1", 9191)
    with tracker.request("cpu-x86", priority=1, session_timeout=60) as remote:
        ...

Keys (CURVE): ``identity`` is a secret-key file made by ``ferry keygen`` (default:
``~/.config/ferry/identity`` when it exists, as the CLI); ``server_key`` / ``tracker_key`` is
the agent's / tracker's public key, as Z85 text or a file (``KEY.pub``). Without an identity
the connection is plaintext, which agents and trackers accept only on loopback or with
``--insecure``. Through a tracker, the granted agent's key comes with the grant.

Every call has a deadline (``timeout`` seconds, per call); waits release the GIL and Ctrl-C
interrupts them. Errors: ConnectionError (agent or tracker unreachable, session lost),
TimeoutError, PermissionError (a key refused), NotFoundError (a LookupError: missing files),
ValueError.
"""
from . import _ferry
from ._ferry import RemoteDevice, RemoteSession, TrackerSession  # noqa: F401

__all__ = ["RemoteDevice", "RemoteSession", "TrackerSession", "connect", "connect_tracker",
           "endpoint"]


def endpoint(host, port=None):
    """The ZeroMQ endpoint for ``host`` and ``port``: ``endpoint("10.0.0.2", 9190)`` ->
    ``"tcp://10.0.0.2:9190"``. ``host`` may already be an endpoint ("tcp://h:p") or "h:p"
    when ``port`` is None; IPv6 hosts are bracketed."""
    host = str(host)
    if port is None:
        if "://" in host:
            return host
        if ":" in host and not host.endswith("]"):
            return "tcp://" + host
        raise ValueError("no port given for %r: pass port= or an endpoint tcp://HOST:PORT" % host)
    if "://" in host:
        raise ValueError("give either an endpoint (%r) or a host and a port, not both" % host)
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError("port must be in 1..65535, got %d" % port)
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "tcp://%s:%d" % (host, port)


def _path(value):
    if value is None:
        return None
    import os

    return os.fspath(value)


def connect(host, port=None, *, identity=None, server_key=None, timeout=60.0):
    """Opens a session with the device agent at ``host``:``port`` (or the endpoint ``host``).

    ``identity``: this client's CURVE secret-key file; ``server_key``: the agent's public key
    (Z85 or a file); ``timeout``: the deadline of opening the session and of each call, in
    seconds. Returns a RemoteSession (a context manager: the session closes at the end of the
    ``with`` block). Errors: ConnectionError / TimeoutError when the agent does not answer,
    PermissionError when it refuses the key, NotFoundError for a missing key file.
    """
    return _ferry._rpc_connect(endpoint(host, port), identity=_path(identity),
                               server_key=_path(server_key), timeout=float(timeout))


def connect_tracker(host, port=None, *, identity=None, tracker_key=None, timeout=60.0):
    """Connects to the tracker at ``host``:``port`` (or the endpoint ``host``).

    The connection is made in the background: an unreachable tracker or a refused key shows
    with the first call (``request``, ``status``). ``timeout`` is the deadline of ``status``
    and of each call of the sessions it grants; ``request`` waits up to its own
    ``session_timeout`` for a free agent.
    """
    return _ferry._rpc_connect_tracker(endpoint(host, port), identity=_path(identity),
                                       tracker_key=_path(tracker_key), timeout=float(timeout))
