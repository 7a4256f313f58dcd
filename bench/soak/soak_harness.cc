#include "bench/soak/soak_harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <zmq.hpp>

#include "bench/soak/grant_ledger.h"
#include "bench/soak/simulated_fleet.h"
#include "bench/soak/soak_cluster.h"
#include "bench/soak/soak_workload.h"
#include "rpc/message.h"
#include "rpc/ticket.h"
#include "rpc/tracker_client.h"
#include "runtime/file_util.h"

namespace ferry::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kRealKey = "soak";
constexpr const char* kSimulatedKeyPrefix = "sim";
constexpr size_t kMaxFailuresKept = 100;
// A simulated agent is always free soon: its requests wait at most this long.
constexpr milliseconds kSimulatedRequestTimeout{10000};
// Beyond a request's own deadline, how long an answer may take before it counts as lost.
constexpr milliseconds kLateSlack{5000};

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// Everything the client threads share.
struct ClientContext {
  ClientContext(const SoakOptions& o, const SoakWorkload& w, std::string endpoint,
                std::string shared_secret, zmq::context_t& context, GrantLedger& grants)
      : options(o),
        workload(w),
        tracker_endpoint(std::move(endpoint)),
        secret(std::move(shared_secret)),
        zmq_context(context),
        ledger(grants) {}

  const SoakOptions& options;
  const SoakWorkload& workload;
  std::string tracker_endpoint;
  std::string secret;
  zmq::context_t& zmq_context;
  GrantLedger& ledger;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> sessions_done{0}, simulated_done{0}, lost{0}, failed{0};
  std::atomic<int> clients_running{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::string> session_ids;  // of every granted session

  void Record(bool is_lost, const std::string& what) {
    ++(is_lost ? lost : failed);
    std::lock_guard<std::mutex> lock(mutex);
    if (failures.size() < kMaxFailuresKept) {
      failures.push_back((is_lost ? "LOST " : "FAILED ") + what);
    }
  }
};

// A status means "no answer" (lost) rather than a clear error.
bool IsNoAnswer(const Status& s) {
  return s.code() == StatusCode::kUnavailable ||
         (s.code() == StatusCode::kDeadlineExceeded &&
          s.message().find("became free within") == std::string::npos);
}

void SendFrames(zmq::socket_t& socket, rpc::Frames frames) {
  for (size_t i = 0; i < frames.size(); ++i) {
    socket.send(frames[i],
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

std::optional<rpc::Frames> ReceiveFrames(zmq::socket_t& socket, Clock::time_point deadline) {
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  while (true) {
    zmq::message_t first;
    if (socket.recv(first, zmq::recv_flags::dontwait)) {
      rpc::Frames frames;
      bool more = first.more();
      frames.push_back(std::move(first));
      while (more) {
        zmq::message_t frame;
        (void)socket.recv(frame);
        more = frame.more();
        frames.push_back(std::move(frame));
      }
      return frames;
    }
    const auto wait = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (wait.count() <= 0) return std::nullopt;
    zmq::poll(&item, 1, std::min(wait, milliseconds(100)));
  }
}

// One raw grant of a simulated agent, released at once (as tracker_bench does).
void SimulatedGrant(ClientContext& ctx, zmq::socket_t& socket, uint64_t& next_id,
                    const std::string& key, const std::string& who) {
  const uint64_t id = next_id++;
  const uint64_t timeout_ms = static_cast<uint64_t>(kSimulatedRequestTimeout.count());
  rpc::MessageWriter request = rpc::MessageWriter::Request(
      rpc::MessageType::kRequestDevice, id, static_cast<uint32_t>(timeout_ms + 2000), 4);
  auto& p = request.packer();
  p.pack(key);
  p.pack_array(0);
  p.pack(0);
  p.pack(timeout_ms);
  const Clock::time_point sent = Clock::now();
  SendFrames(socket, std::move(request).Finish());
  const Clock::time_point deadline = sent + kSimulatedRequestTimeout + 2000ms + kLateSlack;
  while (true) {
    std::optional<rpc::Frames> reply = ReceiveFrames(socket, deadline);
    if (!reply) {
      ctx.Record(true, who + " simulated grant of " + key + ": no answer within " +
                           std::to_string(Ms(deadline - sent)) + " ms");
      return;
    }
    StatusOr<rpc::ParsedMessage> m = rpc::ParseMessage(std::move(*reply), rpc::ProtocolLimits{});
    if (!m.ok()) {
      ctx.Record(false, who + " simulated grant: bad reply: " + m.status().ToString());
      return;
    }
    if (m->request_id != id) continue;  // a late reply to an earlier request
    if (!m->status.ok()) {
      ctx.Record(IsNoAnswer(m->status), who + " simulated grant of " + key + ": " +
                                            m->status.ToString());
      return;
    }
    StatusOr<uint64_t> lease = rpc::CheckBodySize(*m, 4).ok()
                                   ? rpc::ReadUint(m->item(2), "lease id")
                                   : StatusOr<uint64_t>(InvalidArgumentError("short grant"));
    StatusOr<std::string> agent = lease.ok() ? rpc::ReadString(m->item(3), "agent id")
                                             : StatusOr<std::string>(lease.status());
    StatusOr<std::string> text = agent.ok() ? rpc::ReadString(m->item(1), "ticket")
                                            : StatusOr<std::string>(agent.status());
    if (!text.ok()) {
      ctx.Record(false, who + " simulated grant: " + text.status().ToString());
      return;
    }
    StatusOr<rpc::Ticket> ticket = rpc::VerifyTicket(*text, ctx.secret, rpc::WallClockMs());
    // Ledger first, so that a bad grant is still checked for duplicates; release before the
    // ReleaseLease is sent, so a later grant of the agent is not taken for a duplicate.
    ctx.ledger.Grant(*agent, *lease);
    ctx.ledger.Release(*agent, *lease);
    rpc::MessageWriter release =
        rpc::MessageWriter::Request(rpc::MessageType::kReleaseLease, next_id++, 1000, 1);
    release.packer().pack(*lease);
    SendFrames(socket, std::move(release).Finish());
    if (!ticket.ok() || ticket->lease_id != *lease || ticket->agent_id != *agent) {
      ctx.Record(false, who + " simulated grant: bad ticket for lease " + std::to_string(*lease) +
                            (ticket.ok() ? "" : ": " + ticket.status().ToString()));
      return;
    }
    if (Clock::now() - sent > kSimulatedRequestTimeout + kLateSlack) {
      ctx.Record(true, who + " simulated grant answered after " +
                           std::to_string(Ms(Clock::now() - sent)) + " ms");
      return;
    }
    ++ctx.simulated_done;
    return;
  }
}

void RunClient(ClientContext& ctx, int c) {
  pthread_setname_np(pthread_self(), "soak-client");
  const SoakOptions& o = ctx.options;
  std::optional<rpc::TrackerClient> tracker;
  zmq::socket_t raw(ctx.zmq_context, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(ctx.tracker_endpoint);
  uint64_t raw_id = 1;
  const std::string simulated_key =
      kSimulatedKeyPrefix + std::to_string(c % std::max(1, o.simulated_keys));
  for (int i = 0; i < o.sessions_per_client && !ctx.stop; ++i) {
    const std::string who = "client " + std::to_string(c) + " session " + std::to_string(i);
    if (!tracker || (o.reconnect_every > 0 && i > 0 && i % o.reconnect_every == 0)) {
      tracker.reset();
      rpc::ConnectOptions connect;
      connect.timeout = 30s;
      StatusOr<rpc::TrackerClient> t = rpc::ConnectTracker(ctx.tracker_endpoint, connect);
      if (!t.ok()) {
        ctx.Record(true, who + ": connect to the tracker: " + t.status().ToString());
        continue;
      }
      tracker.emplace(std::move(*t));
    }
    rpc::DeviceRequest request;
    request.timeout = o.request_timeout;
    const Clock::time_point start = Clock::now();
    StatusOr<rpc::RemoteSession> remote = tracker->Request(kRealKey, request);
    const Clock::duration waited = Clock::now() - start;
    if (!remote.ok()) {
      ctx.Record(IsNoAnswer(remote.status()) || waited > o.request_timeout + kLateSlack,
                 who + ": request after " + std::to_string(Ms(waited)) +
                     " ms: " + remote.status().ToString());
      tracker.reset();  // start over on a fresh connection
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(ctx.mutex);
      ctx.session_ids.push_back(remote->session_id());
    }
    const int64_t k = static_cast<int64_t>(c) * o.sessions_per_client + i;
    Status worked = ctx.workload.RunSession(*remote, k, o.blob_bytes);
    Status closed = remote->Close();
    if (!worked.ok() || !closed.ok()) {
      const Status& s = worked.ok() ? closed : worked;
      ctx.Record(IsNoAnswer(s), who + " on session " + remote->session_id() + ": " +
                                    (worked.ok() ? "close: " : "") + s.ToString());
    } else {
      ++ctx.sessions_done;
    }
    if (o.simulated_agents > 0) {
      for (int g = 0; g < o.simulated_grants_per_session; ++g) {
        SimulatedGrant(ctx, raw, raw_id, simulated_key, who);
      }
    }
  }
  --ctx.clients_running;
}

// Waits (bounded) until the tracker lists `agents` agents.
Status AwaitRegistration(const std::string& endpoint, size_t agents, milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  size_t seen = 0;
  while (Clock::now() < deadline) {
    rpc::ConnectOptions connect;
    connect.timeout = 2s;
    StatusOr<rpc::TrackerClient> client = rpc::ConnectTracker(endpoint, connect);
    if (client.ok()) {
      StatusOr<rpc::TrackerStatus> status = client->GetStatus();
      if (status.ok()) {
        seen = status->agents.size();
        if (seen == agents) return Status::Ok();
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  return DeadlineExceededError("the tracker lists " + std::to_string(seen) + " agents, not " +
                               std::to_string(agents) + ", after " +
                               std::to_string(timeout.count()) + " ms");
}

// Waits (bounded) until every agent is free and nothing is queued; "" then, else what is not.
std::string AwaitIdle(const std::string& endpoint, milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string last = "no status";
  while (Clock::now() < deadline) {
    rpc::ConnectOptions connect;
    connect.timeout = 2s;
    StatusOr<rpc::TrackerClient> client = rpc::ConnectTracker(endpoint, connect);
    StatusOr<rpc::TrackerStatus> status =
        client.ok() ? client->GetStatus() : StatusOr<rpc::TrackerStatus>(client.status());
    if (status.ok()) {
      int busy = 0;
      for (const auto& a : status->agents) busy += a.busy;
      if (busy == 0 && status->queue.empty()) return "";
      last = std::to_string(busy) + " agents busy, " + std::to_string(status->queue.size()) +
             " requests queued";
    } else {
      last = status.status().ToString();
    }
    std::this_thread::sleep_for(200ms);
  }
  return "after the run, " + last + " (" + std::to_string(timeout.count()) + " ms later)";
}

void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

StatusOr<std::string> MakeDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/ferry-soak-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return UnavailableError("mkdtemp " + pattern + " failed");
  return pattern;
}

void Progress(const ClientContext& ctx, const SoakReport& r, double t, const ProcessProbe& probe) {
  StatusOr<ProcessSample> tracker = SampleProcess(probe.processes()[0].pid);
  std::fprintf(stderr,
               "soak: %6.0f s  sessions %lld/%lld  simulated grants %lld  lost %lld  failed %lld"
               "  tracker %lld KiB %lld fds\n",
               t, static_cast<long long>(ctx.sessions_done.load()),
               static_cast<long long>(r.sessions_planned),
               static_cast<long long>(ctx.simulated_done.load()),
               static_cast<long long>(ctx.lost.load()), static_cast<long long>(ctx.failed.load()),
               static_cast<long long>(tracker.ok() ? tracker->rss_kib : -1),
               static_cast<long long>(tracker.ok() ? tracker->fds : -1));
}

// Checks the real agents' logs: overlapping sessions, lease ids, the clients' sessions.
void AuditAgents(const SoakCluster& cluster, const std::vector<std::string>& client_sessions,
                 GrantLedger& ledger, SoakReport& r) {
  std::map<std::string, int> opened;  // session id -> how many logs opened it
  for (const ClusterProcess& agent : cluster.agents()) {
    StatusOr<std::string> text = ReadFile(agent.log);
    if (!text.ok()) {
      r.problems.push_back("cannot read " + agent.log + ": " + text.status().ToString());
      continue;
    }
    AgentLogAudit audit = AuditAgentLog(agent.name, *text);
    r.agent_sessions_opened += audit.sessions_opened;
    for (const std::string& o : audit.overlaps) r.duplicate_details.push_back(o);
    r.duplicates += static_cast<int64_t>(audit.overlaps.size());
    for (const std::string& s : audit.still_open) r.problems.push_back("never ended: " + s);
    for (const auto& [session, lease] : audit.leases) {
      ++opened[session];
      ledger.SeeLease(lease, "on " + agent.name + " for session " + session);
    }
  }
  for (const std::string& s : client_sessions) r.unaccounted_sessions += opened[s] != 1;
}

}  // namespace

StatusOr<SoakReport> RunSoak(const SoakOptions& options) {
  SoakReport r;
  ASSIGN_OR_RETURN(r.dir, MakeDir());
  RaiseOpenFileLimit();
  std::fprintf(stderr, "soak: building the model libraries in %s ...\n", r.dir.c_str());
  ASSIGN_OR_RETURN(SoakWorkload workload, SoakWorkload::Build(r.dir));

  ClusterOptions cluster_options;
  cluster_options.tracker_path = options.tracker_path;
  cluster_options.agent_path = options.agent_path;
  cluster_options.tracker_wrapper = options.tracker_wrapper;
  cluster_options.agent_wrapper = options.agent_wrapper;
  cluster_options.dir = r.dir;
  cluster_options.secret = "ferry-soak-shared-secret-0123456789abcdef";
  cluster_options.agents = options.real_agents;
  cluster_options.key = kRealKey;
  cluster_options.heartbeat = options.heartbeat;
  std::fprintf(stderr, "soak: starting the tracker and %d agents ...\n", options.real_agents);
  ASSIGN_OR_RETURN(std::unique_ptr<SoakCluster> cluster, SoakCluster::Start(cluster_options));

  zmq::context_t zmq_context(2);
  SimulatedFleet fleet(zmq_context, cluster->tracker().endpoint, cluster_options.secret,
                       options.simulated_agents, options.simulated_keys, kSimulatedKeyPrefix,
                       options.heartbeat);
  fleet.Start();
  const size_t all_agents = static_cast<size_t>(options.real_agents + options.simulated_agents);
  RETURN_IF_ERROR(AwaitRegistration(cluster->tracker().endpoint, all_agents, 30s));

  std::vector<WatchedProcess> watched = {{"tracker", cluster->tracker().pid}};
  for (const ClusterProcess& a : cluster->agents()) watched.push_back({a.name, a.pid});
  ProcessProbe probe(watched, options.sample_interval);

  GrantLedger ledger;
  ClientContext ctx(options, workload, cluster->tracker().endpoint, cluster_options.secret,
                    zmq_context, ledger);
  r.sessions_planned = static_cast<int64_t>(options.clients) * options.sessions_per_client;
  r.simulated_planned =
      options.simulated_agents > 0 ? r.sessions_planned * options.simulated_grants_per_session : 0;
  std::fprintf(stderr, "soak: %d clients x %d sessions, at most %lld s ...\n", options.clients,
               options.sessions_per_client, static_cast<long long>(options.duration.count()));
  probe.Start();
  ctx.clients_running = options.clients;
  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c) clients.emplace_back([&ctx, c] { RunClient(ctx, c); });
  double next_progress = static_cast<double>(options.progress_every.count());
  // Full load lasts until the first client is done or the time limit: afterwards clients
  // leave one by one (their connections and fds go), which is not what growth is about.
  double full_load_until = -1;
  while (ctx.clients_running > 0) {
    const double t = probe.Elapsed();
    if (full_load_until < 0 && (ctx.stop || ctx.clients_running < options.clients)) {
      full_load_until = t;
    }
    if (!ctx.stop && t >= static_cast<double>(options.duration.count())) {
      ctx.stop = true;
      r.stopped_by_duration = true;
      std::fprintf(stderr, "soak: %lld s passed; letting the sessions under way finish\n",
                   static_cast<long long>(options.duration.count()));
    }
    if (options.progress_every.count() > 0 && t >= next_progress) {
      Progress(ctx, r, t, probe);
      next_progress += static_cast<double>(options.progress_every.count());
    }
    std::this_thread::sleep_for(50ms);
  }
  for (std::thread& t : clients) t.join();  // each has returned already
  r.load_seconds = probe.Elapsed();
  r.full_load_seconds = full_load_until < 0 ? r.load_seconds : full_load_until;
  probe.Stop();

  r.sessions_done = ctx.sessions_done;
  r.simulated_done = ctx.simulated_done;
  r.lost = ctx.lost;
  r.failed = ctx.failed;
  r.failures = ctx.failures;
  if (std::string busy = AwaitIdle(cluster->tracker().endpoint, 15s); !busy.empty()) {
    r.problems.push_back(busy);
  }
  for (const std::string& name : cluster->ExitedProcesses()) {
    r.problems.push_back(name + " exited during the run (see its log)");
  }
  fleet.Stop();
  cluster->Stop();  // the agents end their sessions and flush their logs
  AuditAgents(*cluster, ctx.session_ids, ledger, r);
  for (const std::string& d : ledger.duplicates()) r.duplicate_details.push_back(d);
  r.duplicates += static_cast<int64_t>(ledger.duplicates().size());
  r.leases_audited = ledger.leases_seen();
  if (r.unaccounted_sessions > 0) {
    r.problems.push_back(std::to_string(r.unaccounted_sessions) +
                         " granted sessions are not in exactly one agent's log");
  }

  r.warm_up_until_s = options.warm_up_fraction * r.full_load_seconds;
  for (size_t i = 0; i < watched.size(); ++i) {
    ProcessReport p;
    p.name = watched[i].name;
    std::optional<ResourceSummary> s =
        Summarize(probe.samples(i), r.warm_up_until_s, r.full_load_seconds);
    if (s) {
      p.sampled = true;
      p.summary = *s;
    }
    r.processes.push_back(std::move(p));
  }
  if (!options.keep_dir && SoakPassed(options, r)) {
    std::error_code ec;
    std::filesystem::remove_all(r.dir, ec);
    r.dir.clear();
  }
  return r;
}

bool SoakPassed(const SoakOptions& options, const SoakReport& r) {
  if (r.lost != 0 || r.failed != 0 || r.duplicates != 0 || !r.problems.empty()) return false;
  for (const ProcessReport& p : r.processes) {
    if (!p.sampled) return false;
    if (p.summary.rss_kib.growth > options.max_growth) return false;
    if (p.summary.fds.growth > options.max_growth) return false;
  }
  return true;
}

void PrintSoakReport(const SoakOptions& o, const SoakReport& r, std::FILE* out) {
  const double secs = std::max(r.load_seconds, 1e-9);
  std::fprintf(out, "\nsoak: %d clients x %d sessions through one ferry-tracker; %d real agents, "
                    "%d simulated agents (%d keys); heartbeat %lld ms; limit %lld s\n",
               o.clients, o.sessions_per_client, o.real_agents, o.simulated_agents,
               o.simulated_keys, static_cast<long long>(o.heartbeat.count()),
               static_cast<long long>(o.duration.count()));
  std::fprintf(out, "  %-28s %lld / %lld in %.1f s (%.2f sessions/s)%s\n", "sessions done",
               static_cast<long long>(r.sessions_done), static_cast<long long>(r.sessions_planned),
               r.load_seconds, static_cast<double>(r.sessions_done) / secs,
               r.stopped_by_duration ? ", stopped by the time limit" : "");
  std::fprintf(out, "  %-28s %lld / %lld (%.1f grants/s)\n", "simulated grants released",
               static_cast<long long>(r.simulated_done),
               static_cast<long long>(r.simulated_planned),
               static_cast<double>(r.simulated_done) / secs);
  std::fprintf(out, "  %-28s %lld\n", "lost", static_cast<long long>(r.lost));
  std::fprintf(out, "  %-28s %lld\n", "failed", static_cast<long long>(r.failed));
  std::fprintf(out, "  %-28s %lld (%lld lease ids audited; %lld sessions in the agents' logs)\n",
               "duplicate grants", static_cast<long long>(r.duplicates),
               static_cast<long long>(r.leases_audited),
               static_cast<long long>(r.agent_sessions_opened));
  for (const std::string& f : r.failures) std::fprintf(out, "    %s\n", f.c_str());
  if (static_cast<int64_t>(r.failures.size()) < r.lost + r.failed) {
    std::fprintf(out, "    ... and %lld more\n",
                 static_cast<long long>(r.lost + r.failed -
                                        static_cast<int64_t>(r.failures.size())));
  }
  for (const std::string& d : r.duplicate_details) {
    std::fprintf(out, "    DUPLICATE %s\n", d.c_str());
  }
  for (const std::string& p : r.problems) std::fprintf(out, "    PROBLEM %s\n", p.c_str());
  std::fprintf(out,
               "\n  resources after warm-up, under full load (%.1f s <= t <= %.1f s; first/last: "
               "medians of the first/last %d samples; flat: growth <= %.0f%%)\n",
               r.warm_up_until_s, r.full_load_seconds, kEdgeSamples, o.max_growth * 100);
  std::fprintf(out, "  %-8s %7s | %-47s | %-35s |\n", "", "", "RSS KiB", "open fds");
  std::fprintf(out, "  %-8s %7s | %9s %9s %9s %9s %7s | %5s %5s %5s %5s %7s | %s\n", "process",
               "samples", "min", "first", "last", "max", "growth", "min", "first", "last",
               "max", "growth", "verdict");
  for (const ProcessReport& p : r.processes) {
    if (!p.sampled) {
      std::fprintf(out, "  %-8s no samples after warm-up                         | FAIL\n",
                   p.name.c_str());
      continue;
    }
    const FigureSummary& m = p.summary.rss_kib;
    const FigureSummary& f = p.summary.fds;
    const bool flat = m.growth <= o.max_growth && f.growth <= o.max_growth;
    std::fprintf(out,
                 "  %-8s %7d | %9lld %9lld %9lld %9lld %+6.1f%% | %5lld %5lld %5lld %5lld "
                 "%+6.1f%% | %s\n",
                 p.name.c_str(), p.summary.samples, static_cast<long long>(m.min),
                 static_cast<long long>(m.first), static_cast<long long>(m.last),
                 static_cast<long long>(m.max), m.growth * 100, static_cast<long long>(f.min),
                 static_cast<long long>(f.first), static_cast<long long>(f.last),
                 static_cast<long long>(f.max), f.growth * 100, flat ? "flat" : "GREW");
  }
  std::fprintf(out, "\n  %s\n", SoakPassed(o, r) ? "PASS" : "FAIL");
  if (!r.dir.empty()) std::fprintf(out, "  logs kept in %s\n", r.dir.c_str());
}

}  // namespace ferry::soak
