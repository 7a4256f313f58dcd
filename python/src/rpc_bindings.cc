// Remote sessions and the tracker client (rpc::RemoteSession, rpc::TrackerClient) for
// Python; python/ferry/rpc.py turns host and port into endpoints and re-exports these as
// ferry.rpc.RemoteSession / TrackerSession.
//
// Waits: every network wait runs with the GIL released. Session calls (connect, upload,
// download, load_module...) run on a helper thread while the caller checks for Ctrl-C every
// 100 ms (CallFunction, bindings.h); an abandoned call finishes on its own within the
// session's deadline. A tracker request waits on the calling thread and asks Python about
// signals every 100 ms (TrackerClient::set_keep_waiting); Ctrl-C cancels the queued request at
// the tracker and raises KeyboardInterrupt at once.
//
// Remote devices: `remote.cpu(0)` is a RemoteDevice that carries its session, so
// ferry.nd.array / nd.empty / time_evaluator (runtime and array bindings) allocate and measure
// on the agent through the `_ferry_device`, `_ferry_empty` and `_ferry_time_evaluator` hooks.
#include <Python.h>
#include <pthread.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bindings.h"
#include "rpc/client_session.h"
#include "rpc/curve_keys.h"
#include "rpc/tracker_client.h"
#include "runtime/time_evaluator.h"

namespace py = pybind11;

namespace ferry::python {
namespace {

// Seconds (a Python float) as a positive number of milliseconds. ValueError otherwise.
std::chrono::milliseconds Milliseconds(double seconds, const char* what) {
  if (!(seconds > 0) || !std::isfinite(seconds) || seconds > 1e9) {
    throw py::value_error(std::string(what) + " must be a positive number of seconds");
  }
  return std::chrono::milliseconds(std::max<int64_t>(1, std::llround(seconds * 1e3)));
}

// Runs `work` with the GIL released on a helper thread, raising KeyboardInterrupt (or any
// exception a signal handler raises) as soon as Python sees the signal; see CallFunction.
template <class T>
T Interruptibly(std::function<StatusOr<T>()> work) {
  auto result = std::make_shared<std::optional<StatusOr<T>>>();
  PackedFunc call([work = std::move(work), result](std::span<const Value>) -> StatusOr<Value> {
    *result = work();
    return Value();
  });
  Check(CallFunction(call, {}, /*interruptible=*/true).status());
  return Unwrap(std::move(**result));
}

void InterruptiblyCheck(std::function<Status()> work) {
  Interruptibly<bool>([work = std::move(work)]() -> StatusOr<bool> {
    RETURN_IF_ERROR(work());
    return true;
  });
}

// The connection options of a session or a tracker: the call deadline and, with an identity
// (the file `identity`, else ~/.config/ferry/identity when it exists), CURVE to `server_key`
// (a Z85 key or a file holding one), as the CLI's --identity / --server-key / --tracker-key.
rpc::ConnectOptions MakeOptions(const std::optional<std::string>& identity,
                                const std::optional<std::string>& server_key, double timeout,
                                const char* server_key_name) {
  rpc::ConnectOptions options;
  options.timeout = Milliseconds(timeout, "timeout");
  std::optional<rpc::CurveKeyPair> keys = Unwrap(rpc::ResolveCurveIdentity(identity));
  std::string server;
  if (server_key) server = Unwrap(rpc::LoadCurvePublicKey(*server_key));
  if (!keys && !server.empty()) {
    throw py::value_error(std::string(server_key_name) +
                          " needs identity= (or ~/.config/ferry/identity): a CURVE connection "
                          "authenticates this client with its secret key");
  }
  if (keys) {
    if (server.empty()) {
      throw py::value_error(std::string("an identity needs the server's public key: pass ") +
                            server_key_name + "= (a Z85 key or a .pub file)");
    }
    options.channel.curve_identity = std::move(keys);
    options.channel.curve_server_key = std::move(server);
  }
  return options;
}

// A session, shared by the Python RemoteSession object and the devices it hands out.
struct Session {
  Session(rpc::RemoteSession opened, std::string at, bool curve)
      : remote(std::move(opened)), endpoint(std::move(at)), secure(curve) {}
  rpc::RemoteSession remote;
  std::string endpoint;
  bool secure = false;
  std::atomic<bool> closed{false};
};
using SessionPtr = std::shared_ptr<Session>;

// `remote.cpu(0)`: a remote device with the session it lives in.
struct RemoteDevice {
  SessionPtr session;
  Device device;  // carries kRemoteDeviceMask
};

std::string DeviceText(const RemoteDevice& d) {
  return "remote[" + d.device.Local().ToString() + "]";
}

SessionPtr Connect(const std::string& endpoint, const std::optional<std::string>& identity,
                   const std::optional<std::string>& server_key, double timeout) {
  rpc::ConnectOptions options = MakeOptions(identity, server_key, timeout, "server_key");
  const bool curve = options.channel.curve_identity.has_value();
  rpc::RemoteSession remote = Interruptibly<rpc::RemoteSession>(
      [endpoint, options]() { return rpc::Connect(endpoint, options); });
  return std::make_shared<Session>(std::move(remote), endpoint, curve);
}

std::string SessionRepr(const Session& s) {
  return "<ferry.rpc.RemoteSession " + s.endpoint + " id=" + s.remote.session_id() +
         (s.secure ? " curve" : "") + (s.closed ? " closed" : "") + ">";
}

PackedFunc RemoteTimeEvaluator(const RemoteDevice& dev, const Module& module,
                               const std::string& name, int number, int repeat, int min_repeat_ms,
                               int cooldown_ms) {
  SessionPtr session = dev.session;
  Device device = dev.device;
  TimeEvaluatorOptions options{number, repeat, min_repeat_ms, cooldown_ms};
  return Interruptibly<PackedFunc>([session, module, name, device, options]() {
    return session->remote.TimeEvaluator(module, name, device, options);
  });
}

void BindRemoteDevice(py::module_& m) {
  py::class_<RemoteDevice>(m, "RemoteDevice",
                           "A device of a remote session (remote.cpu(0)): pass it to factories, "
                           "ferry.nd.array / nd.empty and time_evaluator.")
      .def_property_readonly("_ferry_device", [](const RemoteDevice& d) { return d.device; })
      .def(
          "_ferry_empty",
          [](const RemoteDevice& d, std::vector<int64_t> shape, const std::string& dtype) {
            DataType type = Unwrap(ParseDataType(dtype));
            SessionPtr session = d.session;
            Device device = d.device;
            return Interruptibly<NDArray>([session, shape, type, device]() {
              return session->remote.Empty(shape, type, device);
            });
          },
          py::arg("shape"), py::arg("dtype"))
      .def(
          "_ferry_time_evaluator",
          [](const RemoteDevice& d, const Module& module, const std::string& name, int number,
             int repeat, int min_repeat_ms, int cooldown_ms) {
            return Function{
                RemoteTimeEvaluator(d, module, name, number, repeat, min_repeat_ms, cooldown_ms),
                "time_evaluator(" + name + ")", false, true};
          },
          py::arg("module"), py::arg("name"), py::arg("number"), py::arg("repeat"),
          py::arg("min_repeat_ms"), py::arg("cooldown_ms"))
      .def_property_readonly("device_type",
                             [](const RemoteDevice& d) { return static_cast<int>(d.device.type); })
      .def_property_readonly("device_id", [](const RemoteDevice& d) { return d.device.id; })
      .def_property_readonly("is_remote", [](const RemoteDevice&) { return true; })
      .def_property_readonly(
          "exist",
          [](const RemoteDevice& d) {
            py::gil_scoped_release release;
            return d.session->remote.GetDeviceAttributes(d.device).exists;
          },
          "Whether the agent has this device.")
      .def_property_readonly(
          "device_name",
          [](const RemoteDevice& d) -> py::object {
            DeviceAttributes attributes;
            {
              py::gil_scoped_release release;
              attributes = d.session->remote.GetDeviceAttributes(d.device);
            }
            if (!attributes.exists) return py::none();
            return py::str(attributes.name);
          },
          "The name the agent gives this device (None when it has none).")
      .def_property_readonly(
          "device", [](const RemoteDevice& d) { return d.device; },
          "The plain ferry.Device (remote, without the session).")
      .def("__repr__", &DeviceText)
      .def("__str__", &DeviceText)
      .def("__eq__",
           [](const RemoteDevice& a, const py::object& b) {
             if (py::isinstance<RemoteDevice>(b)) {
               const RemoteDevice& other = b.cast<const RemoteDevice&>();
               return a.session == other.session && a.device == other.device;
             }
             if (py::isinstance<Device>(b)) return a.device == b.cast<Device>();
             return false;
           })
      .def("__hash__", [](const RemoteDevice& d) {
        return py::hash(py::make_tuple(static_cast<int>(d.device.type), d.device.id));
      });
}

// Checks the session is open (a clear error after close()).
const SessionPtr& Open(const SessionPtr& s) {
  if (s->closed) Check(FailedPreconditionError("the session with " + s->endpoint + " is closed"));
  return s;
}

void BindSession(py::module_& m) {
  py::class_<Session, SessionPtr>(
      m, "RemoteSession",
      "A session with a device agent: files, load_module, devices. Use ferry.rpc.connect or "
      "TrackerSession.request. Closes at close(), at the end of a `with` block, or when it "
      "and every remote object are gone.")
      .def(
          "upload",
          [](const SessionPtr& s, const py::object& path,
             const std::optional<std::string>& target) {
            std::string local = py::module_::import("os").attr("fspath")(path).cast<std::string>();
            SessionPtr session = Open(s);
            std::string label = target.value_or("");
            InterruptiblyCheck(
                [session, local, label]() { return session->remote.Upload(local, label); });
          },
          py::arg("path"), py::arg("target") = py::none(),
          "Uploads a local file as `target` (default: its file name). NotFoundError for a "
          "missing file; the agent keeps content by SHA-256, so an unchanged file costs one "
          "round trip.")
      .def(
          "download",
          [](const SessionPtr& s, const std::string& name) {
            SessionPtr session = Open(s);
            std::string data = Interruptibly<std::string>(
                [session, name]() { return session->remote.Download(name); });
            return py::bytes(data);
          },
          py::arg("name"), "The bytes of a file of the session. NotFoundError when it has none.")
      .def(
          "listdir",
          [](const SessionPtr& s) {
            SessionPtr session = Open(s);
            std::vector<rpc::FileEntry> entries = Interruptibly<std::vector<rpc::FileEntry>>(
                [session]() { return session->remote.ListFiles(); });
            std::vector<std::string> names;
            for (const rpc::FileEntry& e : entries) names.push_back(e.label);
            return names;
          },
          "The names of the session's files.")
      .def(
          "list_files",
          [](const SessionPtr& s) {
            SessionPtr session = Open(s);
            std::vector<rpc::FileEntry> entries = Interruptibly<std::vector<rpc::FileEntry>>(
                [session]() { return session->remote.ListFiles(); });
            std::map<std::string, uint64_t> sizes;
            for (const rpc::FileEntry& e : entries) sizes[e.label] = e.size;
            return sizes;
          },
          "The session's files: {name: size in bytes}.")
      .def(
          "remove",
          [](const SessionPtr& s, const std::string& name) {
            SessionPtr session = Open(s);
            InterruptiblyCheck([session, name]() { return session->remote.RemoveFile(name); });
          },
          py::arg("name"), "Removes a file of the session. NotFoundError when it has none.")
      .def(
          "load_module",
          [](const SessionPtr& s, const std::string& name) {
            SessionPtr session = Open(s);
            return Interruptibly<Module>(
                [session, name]() { return session->remote.LoadModule(name); });
          },
          py::arg("name"),
          "Loads an uploaded model library in the session: a remote Module "
          "(lib[\"key\"](remote.cpu(0)) creates an executor there).")
      .def(
          "get_function",
          [](const SessionPtr& s, const std::string& name) {
            SessionPtr session = Open(s);
            PackedFunc func = Interruptibly<PackedFunc>(
                [session, name]() { return session->remote.GetFunction(name); });
            return Function{func, name, false, true};
          },
          py::arg("name"), "A global function of the session (e.g. \"ferry.echo\").")
      .def(
          "cpu",
          [](const SessionPtr& s, int id) {
            return RemoteDevice{s, s->remote.Cpu(id)};
          },
          py::arg("dev_id") = 0, "The remote CPU `dev_id`.")
      .def(
          "cuda",
          [](const SessionPtr& s, int id) {
            return RemoteDevice{s, s->remote.Cuda(id)};
          },
          py::arg("dev_id") = 0, "The remote CUDA device `dev_id`.")
      .def(
          "device",
          [](const SessionPtr& s, const py::object& dev, int id) {
            Device local;
            if (py::isinstance<py::str>(dev)) {
              local = Unwrap(ParseDevice(dev.cast<std::string>()));
              if (id != 0) local.id = id;
            } else {
              local = Device{static_cast<DLDeviceType>(dev.cast<int>()), id};
            }
            return RemoteDevice{s, Device::Remote(local.is_remote() ? local.Local() : local)};
          },
          py::arg("dev_type"), py::arg("dev_id") = 0,
          "A remote device by name (\"cpu\", \"cuda:1\") or DLPack type code.")
      .def(
          "close",
          [](const SessionPtr& s) {
            if (s->closed.exchange(true)) return;
            py::gil_scoped_release release;
            s->remote.Close().IgnoreError();  // best effort; the agent also times it out
          },
          "Ends the session: the agent frees what it held (a tracker's lease is released). "
          "Later calls raise FailedPreconditionError. Closing twice is harmless.")
      .def_property_readonly("closed", [](const SessionPtr& s) { return s->closed.load(); })
      .def_property_readonly("endpoint", [](const SessionPtr& s) { return s->endpoint; })
      .def_property_readonly("session_id",
                             [](const SessionPtr& s) { return s->remote.session_id(); })
      .def_property(
          "timeout",
          [](const SessionPtr& s) { return s->remote.core()->endpoint().timeout().count() / 1e3; },
          [](const SessionPtr& s, double seconds) {
            s->remote.set_timeout(Milliseconds(seconds, "timeout"));
          },
          "The deadline of each call, in seconds.")
      .def("__enter__", [](const SessionPtr& s) { return s; })
      .def("__exit__",
           [](const SessionPtr& s, const py::args&) {
             if (s->closed.exchange(true)) return false;
             py::gil_scoped_release release;
             s->remote.Close().IgnoreError();
             return false;
           })
      .def("__repr__", [](const SessionPtr& s) { return SessionRepr(*s); });

  m.def("_rpc_connect", &Connect, py::arg("endpoint"), py::arg("identity") = py::none(),
        py::arg("server_key") = py::none(), py::arg("timeout") = 60.0,
        "Opens a session with the agent at `endpoint` (tcp://HOST:PORT); use ferry.rpc.connect.");
}

// A tracker connection. TrackerClient is not thread-safe: calls are serialised here.
struct Tracker {
  Tracker(rpc::TrackerClient c, bool curve) : client(std::move(c)), secure(curve) {}
  std::mutex mutex;
  rpc::TrackerClient client;
  bool secure = false;
};
using TrackerPtr = std::shared_ptr<Tracker>;

// Runs `call` on the tracker on a helper thread (all signals blocked there, so a Ctrl-C
// never interrupts its socket wait) while this thread, with the GIL released, checks Python's
// signal handlers every 100 ms. When one raises (KeyboardInterrupt), the call is told to stop
// (TrackerClient::set_keep_waiting: a queued device request is cancelled at the tracker) and
// the exception is raised once the helper has finished; only the connection to an agent the
// tracker already granted is not cut short (it is bounded by the call deadline).
template <class T>
StatusOr<T> CallTracker(const TrackerPtr& tracker,
                        std::function<StatusOr<T>(rpc::TrackerClient&)> call) {
  auto stop = std::make_shared<std::atomic<bool>>(false);
  std::promise<StatusOr<T>> promise;
  std::future<StatusOr<T>> future = promise.get_future();
  std::optional<py::error_already_set> interrupted;
  {
    py::gil_scoped_release release;
    std::thread helper(
        [tracker, stop, call = std::move(call), promise = std::move(promise)]() mutable {
          sigset_t all;
          sigfillset(&all);
          pthread_sigmask(SIG_BLOCK, &all, nullptr);
          std::lock_guard<std::mutex> lock(tracker->mutex);
          tracker->client.set_keep_waiting([stop] { return !stop->load(); });
          StatusOr<T> result = call(tracker->client);
          tracker->client.set_keep_waiting(nullptr);
          promise.set_value(std::move(result));
        });
    while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (interrupted) continue;
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        interrupted.emplace();  // fetches the pending exception
        stop->store(true);
      }
    }
    helper.join();
    if (interrupted) {
      py::gil_scoped_acquire gil;
      interrupted->restore();
      interrupted.reset();
      throw py::error_already_set();
    }
  }
  return future.get();
}

py::dict AgentDict(const rpc::TrackerAgentStatus& a) {
  py::list devices;
  for (const auto& d : a.devices) {
    py::dict device;
    device["type"] = d.type;
    device["count"] = d.count;
    device["memory"] = d.memory;
    device["name"] = d.name;
    devices.append(device);
  }
  py::dict agent;
  agent["agent_id"] = a.agent_id;
  agent["key"] = a.key;
  agent["address"] = a.address;
  agent["devices"] = devices;
  agent["tags"] = py::cast(a.tags);
  agent["busy"] = a.busy;
  agent["client_id"] = a.client_id;
  agent["lease_id"] = a.lease_id;
  agent["since_ms"] = a.since_ms;
  agent["last_heartbeat_ms"] = a.last_heartbeat_ms;
  return agent;
}

py::dict StatusDict(const rpc::TrackerStatus& status) {
  py::list agents, queue;
  for (const auto& a : status.agents) agents.append(AgentDict(a));
  for (const auto& q : status.queue) {
    py::dict entry;
    entry["request_id"] = q.request_id;
    entry["client_id"] = q.client_id;
    entry["key"] = q.key;
    entry["priority"] = q.priority;
    entry["waited_ms"] = q.waited_ms;
    entry["expires_in_ms"] = q.expires_in_ms;
    queue.append(entry);
  }
  py::dict out;
  out["agents"] = agents;
  out["queue"] = queue;
  return out;
}

TrackerPtr ConnectTracker(const std::string& endpoint, const std::optional<std::string>& identity,
                          const std::optional<std::string>& tracker_key, double timeout) {
  rpc::ConnectOptions options = MakeOptions(identity, tracker_key, timeout, "tracker_key");
  const bool curve = options.channel.curve_identity.has_value();
  return std::make_shared<Tracker>(Unwrap(rpc::ConnectTracker(endpoint, options)), curve);
}

void BindTracker(py::module_& m) {
  py::class_<Tracker, TrackerPtr>(m, "TrackerSession",
                                  "A connection to a tracker (ferry.rpc.connect_tracker): "
                                  "request(key) grants a session on a free agent; status() "
                                  "lists agents and queued requests.")
      .def(
          "request",
          [](const TrackerPtr& t, const std::string& key, int priority, double session_timeout,
             const std::optional<std::map<std::string, std::string>>& tags) {
            rpc::DeviceRequest request;
            request.priority = priority;
            request.timeout = Milliseconds(session_timeout, "session_timeout");
            if (tags) request.tags = *tags;
            StatusOr<rpc::RemoteSession> remote =
                CallTracker<rpc::RemoteSession>(t, [key, request](rpc::TrackerClient& client) {
                  return client.Request(key, request);
                });
            rpc::RemoteSession opened = Unwrap(std::move(remote));
            std::string endpoint = t->client.endpoint() + " key=" + key;
            return std::make_shared<Session>(std::move(opened), endpoint, t->secure);
          },
          py::arg("key"), py::arg("priority") = 0, py::arg("session_timeout") = 60.0,
          py::arg("tags") = py::none(),
          "Waits up to session_timeout seconds for a free agent of `key` (carrying every tag "
          "in `tags`; higher priority first) and opens a session on it; the lease ends when "
          "the session does. TimeoutError when none became free; Ctrl-C cancels the request.")
      .def(
          "status",
          [](const TrackerPtr& t) {
            StatusOr<rpc::TrackerStatus> status = CallTracker<rpc::TrackerStatus>(
                t, [](rpc::TrackerClient& client) { return client.GetStatus(); });
            return StatusDict(Unwrap(std::move(status)));
          },
          "{'agents': [{'agent_id', 'key', 'address', 'devices', 'tags', 'busy', ...}], "
          "'queue': [{'request_id', 'client_id', 'key', 'priority', ...}]}.")
      .def(
          "text_summary",
          [](const TrackerPtr& t) {
            rpc::TrackerStatus status = Unwrap(CallTracker<rpc::TrackerStatus>(
                t, [](rpc::TrackerClient& client) { return client.GetStatus(); }));
            std::string text;
            for (const auto& a : status.agents) {
              text += a.key + "  " + a.agent_id + "  " + a.address + "  " +
                      (a.busy ? "busy" : "free") + "\n";
            }
            text += std::to_string(status.queue.size()) + " queued request(s)\n";
            return text;
          },
          "A short table of the agents (key, id, address, busy/free) and the queue length.")
      .def_property_readonly("endpoint", [](const TrackerPtr& t) { return t->client.endpoint(); })
      .def("__repr__", [](const TrackerPtr& t) {
        return "<ferry.rpc.TrackerSession " + t->client.endpoint() + (t->secure ? " curve" : "") +
               ">";
      });

  m.def("_rpc_connect_tracker", &ConnectTracker, py::arg("endpoint"),
        py::arg("identity") = py::none(), py::arg("tracker_key") = py::none(),
        py::arg("timeout") = 60.0,
        "Connects to the tracker at `endpoint`; use ferry.rpc.connect_tracker.");
}

}  // namespace

void BindRpc(py::module_& m) {
  BindRemoteDevice(m);
  BindSession(m);
  BindTracker(m);
}

}  // namespace ferry::python
