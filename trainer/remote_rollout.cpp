// trainer/remote_rollout.cpp: scheduling of prompt groups over rollout workers (one prompt = one group, all
// G answers on one worker), exactly once: a group is done when its result arrives, re-queued when its worker
// leaves first. One scheduler thread owns the sockets; submit() and collect() meet it under one mutex. Not
// here: frames and sockets (dist/), generation (the workers' rollout::Engine).
#include "trainer/remote_rollout.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"
#include "model/device.h"

namespace zerorl::trainer {
namespace wire = dist::wire;
using Kind = dist::ControlEvent::Kind;
using Clock = std::chrono::steady_clock;

namespace {
// Groups a worker holds at once: its even share of the groups queued and out, at least kMinInFlight. A
// worker generates the groups it holds in one engine call (rollout/worker.h), and a GPU needs hundreds of
// rows per decode step: with 2 groups (16 rows at G = 8) a 0.5B step took minutes on an H100 where colocated
// rollout takes 4 s. Re-queued groups (a worker lost) are shared out again the same way.
constexpr size_t kMinInFlight = 2;
// How long the scheduler waits for an event before it looks at its queue again (new submits, deadlines).
constexpr double kPollS = 0.02;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

// One submit(): its groups, and where their answers go.
struct RemoteRollout::Ticket {
  std::vector<wire::Work> work;  // per prompt (group_id set when sent)
  rollout::RolloutResult result;
  size_t done = 0;
  int64_t group_size = 1;
  uint64_t version = 0;
  int64_t requeued = 0;                // groups sent again after their worker left
  double generate_s = 0;               // the workers' generation seconds, summed
  std::map<uint64_t, int64_t> groups;  // worker -> groups it answered
  Clock::time_point submitted = Clock::now();
};

RemoteRollout::RemoteRollout(const Config& cfg) : ro_(cfg.rollout) {
  ZRL_CHECK(!cfg.rollout.auth_token_file.empty(),
            "rollout.mode = workers needs rollout.auth_token_file: a file holding a shared secret that the "
            "trainer and every `zerorl rollout-worker` read");
  dist::ControlOptions o;
  o.listen = cfg.rollout.listen;
  o.auth_token = dist::load_auth_token(cfg.rollout.auth_token_file);
  o.heartbeat_s = cfg.rollout.heartbeat_s;
  const auto bucket_bytes = static_cast<int64_t>(cfg.rollout.weight_bucket_mb * 1048576.0);
  o.max_body = wire::max_body_for_bucket(static_cast<uint64_t>(bucket_bytes));
  server_ = std::make_unique<dist::ControlServer>(o);
  channel_ = rollout::make_frame_weight_channel(bucket_bytes);
  bucket_bytes_ = bucket_bytes;
  ipc_host_ = rollout::cuda_ipc_host(model::resolve_device(cfg.run.device));
  std::fprintf(stderr, "rollout coordinator: listening on %s\n", server_->address().c_str());
  idle_since_ = Clock::now();
  thread_ = std::thread([this] { serve(); });
}

RemoteRollout::~RemoteRollout() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  thread_.join();
  for (const auto& [id, w] : workers_) server_->send(id, wire::Bye{"the trainer is done"});
}

void RemoteRollout::serve() {
  while (true) {
    std::optional<dist::ControlEvent> e = server_->next_event(kPollS);
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    if (!error_.empty()) continue;  // collect() throws it; the run ends
    try {
      if (e) handle(*e);
      started_ = started_ || workers_.size() >= static_cast<size_t>(ro_.workers);
      if (started_) dispatch();
      check_deadlines();
    } catch (const std::exception& ex) {
      error_ = ex.what();
    }
    done_cv_.notify_all();
  }
}

// Fails the run when work waits and no worker came (or is left) within rollout.worker_wait_s.
void RemoteRollout::check_deadlines() {
  const RolloutSection& ro = ro_;
  const bool waiting = !queue_.empty() || !sent_.empty();
  if (!started_) {
    ZRL_CHECK(!first_submit_ || seconds_since(*first_submit_) < ro.worker_wait_s,
              "rollout.mode = workers: {} of {} workers registered with the coordinator at {} within "
              "rollout.worker_wait_s = {} s; start them with `zerorl rollout-worker --config <this config> "
              "--trainer {}`",
              workers_.size(), ro.workers, server_->address(), ro.worker_wait_s, server_->address());
    return;
  }
  if (!workers_.empty() || !waiting) {
    idle_since_ = Clock::now();
    return;
  }
  size_t answered = 0, groups = 0;
  for (const auto& [id, t] : tickets_) answered += t.done, groups += t.work.size();
  ZRL_CHECK(seconds_since(idle_since_) < ro.worker_wait_s,
            "rollout.mode = workers: every worker is gone and none registered with the coordinator at {} "
            "within rollout.worker_wait_s = {} s ({} of {} submitted groups answered)",
            server_->address(), ro.worker_wait_s, answered, groups);
}

void RemoteRollout::handle(dist::ControlEvent& e) {
  if (e.kind == Kind::kJoined) {
    const auto* hello = std::get_if<wire::Hello>(&e.message);
    Worker& w = workers_[e.worker] = Worker{};
    w.cuda_ipc = hello && !ipc_host_.empty() && hello->cuda_ipc == ipc_host_;
  } else if (e.kind == Kind::kLeft) {
    on_left(e.worker, e.reason);
  } else if (e.kind == Kind::kMessage) {
    auto* r = std::get_if<wire::Result>(&e.message);
    auto it = workers_.find(e.worker);
    if (!r || it == workers_.end() || !it->second.in_flight.count(r->group_id)) {
      return server_->drop(e.worker, "result for a group it was not sent");
    }
    on_result(e.worker, *r);
  }  // kRejected: a stranger, already logged by the server
}

void RemoteRollout::on_left(uint64_t worker, const std::string& reason) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  const std::set<uint64_t>& lost = it->second.in_flight;
  for (auto g = lost.rbegin(); g != lost.rend(); ++g) {  // back to the front of the queue, in send order
    const auto [ticket, prompt] = sent_.at(*g);
    queue_.emplace_front(ticket, prompt);
    ++tickets_.at(ticket).requeued;
    sent_.erase(*g);
  }
  if (!lost.empty())
    ZRL_WARN("rollout: worker {} left ({}); {} groups re-queued", worker, reason, lost.size());
  workers_.erase(it);
}

void RemoteRollout::on_result(uint64_t worker, wire::Result& r) {
  const auto [ticket_id, prompt] = sent_.at(r.group_id);
  Ticket& t = tickets_.at(ticket_id);
  const auto G = static_cast<size_t>(t.group_size);
  bool valid = r.samples.size() == G && r.weight_version == t.version;
  std::vector<bool> seen(G, false);
  for (const auto& s : r.samples) {
    valid = valid && s.prompt_index == 0 && s.sample_index >= 0 && static_cast<size_t>(s.sample_index) < G &&
            !seen[static_cast<size_t>(s.sample_index)];
    if (valid) seen[static_cast<size_t>(s.sample_index)] = true;
  }
  if (!valid) return server_->drop(worker, "malformed result (sample count, index or weight version)");
  for (auto& s : r.samples) {
    rollout::Trajectory& out = t.result.samples[prompt * G + static_cast<size_t>(s.sample_index)];
    out.prompt_index = static_cast<int64_t>(prompt);
    out.sample_index = s.sample_index;
    out.tokens.assign(s.tokens.begin(), s.tokens.end());
    out.logprobs = std::move(s.logprobs);
    out.logprobs_policy = std::move(s.logprobs_policy);
    out.finish = static_cast<rollout::FinishReason>(s.finish);
    out.text = std::move(s.text);
  }
  t.result.new_tokens += r.new_tokens;
  t.generate_s += r.generate_s;
  ++t.groups[worker];
  ++t.done;
  workers_.at(worker).in_flight.erase(r.group_id);
  sent_.erase(r.group_id);
}

void RemoteRollout::send_weights(uint64_t id, Worker& w, uint64_t version) {
  Stopwatch sync;
  Packed& p = packed_.at(version);
  if (p.shared && w.cuda_ipc) {
    server_->send(id, *p.shared);
  } else {
    if (p.frames.empty() && p.shared) p.frames = rollout::frames_from_shared(*p.shared, bucket_bytes_);
    for (const auto& frame : p.frames) server_->send(id, frame);
  }
  w.version = version;
  weight_sync_s_ += sync.seconds();
}

void RemoteRollout::dispatch() {
  size_t out = queue_.size();
  for (const auto& [id, w] : workers_) out += w.in_flight.size();
  const size_t cap =
      workers_.empty() ? kMinInFlight : std::max(kMinInFlight, (out + workers_.size() - 1) / workers_.size());
  while (!queue_.empty()) {
    Worker* best = nullptr;
    uint64_t best_id = 0;
    for (auto& [id, w] : workers_) {  // least loaded first; ties: the lowest id
      if (w.in_flight.size() < cap && (!best || w.in_flight.size() < best->in_flight.size())) {
        best = &w, best_id = id;
      }
    }
    if (!best) return;
    const auto [ticket, prompt] = queue_.front();
    Ticket& t = tickets_.at(ticket);
    // Weights travel ahead of the group on the same connection, so a worker never mixes two versions.
    if (best->version != t.version) send_weights(best_id, *best, t.version);
    wire::Work& work = t.work[prompt];
    work.group_id = next_group_++;
    if (!server_->send(best_id, work)) return;  // it just left: its kLeft event is on the way
    queue_.pop_front();
    sent_[work.group_id] = {ticket, prompt};
    best->in_flight.insert(work.group_id);
  }
}

uint64_t RemoteRollout::submit(model::CausalLM& lm, uint64_t weight_version,
                               const std::vector<std::vector<int64_t>>& prompts,
                               const rollout::GenerateConfig& gc) {
  ZRL_CHECK(weight_version >= 1, "remote rollout: weight versions start at 1");
  Ticket t;
  t.group_size = gc.group_size;
  t.version = weight_version;
  t.result.samples.resize(prompts.size() * static_cast<size_t>(gc.group_size));
  for (size_t i = 0; i < prompts.size(); ++i) {
    wire::Work w;
    w.step = gc.step, w.seed = gc.seed, w.weight_version = weight_version, w.group_size = gc.group_size;
    w.max_new_tokens = gc.stop.max_new_tokens;
    w.sampler = {gc.sampler.temperature, gc.sampler.top_k, gc.sampler.top_p, gc.sampler.min_p};
    w.prompt_keys = {gc.prompt_keys.empty() ? i : gc.prompt_keys[i]};  // the engine's key for this prompt
    w.prompts.emplace_back();
    for (int64_t id : prompts[i]) {
      ZRL_CHECK(id >= 0 && id <= std::numeric_limits<int32_t>::max(), "prompt {}: token id {} out of range",
                i, id);
      w.prompts.back().push_back(static_cast<int32_t>(id));
    }
    t.work.push_back(std::move(w));
  }
  bool packed = false, ipc = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    packed = packed_.count(weight_version) > 0;
    for (const auto& [id, w] : workers_) ipc = ipc || w.cuda_ipc;  // one IPC worker: share a device buffer
  }
  Packed fresh;
  Stopwatch pack;
  if (!packed) {  // outside the lock: the scheduler goes on
    if (ipc)
      fresh.shared = rollout::pack_cuda_ipc(lm, weight_version);
    else
      fresh.frames = channel_->pack(lm, weight_version);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!packed) packed_[weight_version] = std::move(fresh), weight_sync_s_ += pack.seconds();
  if (!first_submit_) first_submit_ = Clock::now();
  const uint64_t id = next_ticket_++;
  for (size_t i = 0; i < prompts.size(); ++i) queue_.emplace_back(id, i);
  tickets_.emplace(id, std::move(t));
  return id;
}

rollout::RolloutResult RemoteRollout::collect(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = tickets_.find(ticket);
  ZRL_CHECK(it != tickets_.end(), "remote rollout: unknown ticket {}", ticket);
  done_cv_.wait(lock, [&] { return !error_.empty() || it->second.done == it->second.work.size(); });
  if (!error_.empty()) throw Error(error_, __FILE__, __LINE__);
  Ticket t = std::move(it->second);
  tickets_.erase(it);
  // Keep the packed versions a waiting ticket still needs, and the newest (the next submit may reuse it).
  for (auto f = packed_.begin(); f != packed_.end();) {
    bool needed = f->first == packed_.rbegin()->first;
    for (const auto& [id, other] : tickets_) needed = needed || other.version == f->first;
    f = needed ? std::next(f) : packed_.erase(f);
  }
  Collected& c = collected_;
  c.requeued += t.requeued;
  c.generate_s += t.generate_s;
  c.worker_s += seconds_since(t.submitted) * static_cast<double>(std::max<size_t>(1, workers_.size()));
  for (const auto& [worker, n] : t.groups) c.groups[worker] += n;
  return std::move(t.result);
}

Json RemoteRollout::step_metrics() {
  std::lock_guard<std::mutex> lock(mu_);
  const Collected c = std::exchange(collected_, Collected{});
  int64_t most = 0, least = std::numeric_limits<int64_t>::max();
  for (const auto& [id, w] : workers_) {  // a worker that answered nothing counts as 0
    const auto n = c.groups.count(id) ? c.groups.at(id) : int64_t{0};
    most = std::max(most, n), least = std::min(least, n);
  }
  Json out{{"rollout/workers", workers_.size()},
           {"rollout/requeued_groups", c.requeued},
           {"rollout/groups_per_worker_max", most},
           {"rollout/groups_per_worker_min", workers_.empty() ? 0 : least},
           {"time/weight_sync", weight_sync_s_}};
  if (c.worker_s > 0) out["rollout/worker_utilization"] = c.generate_s / c.worker_s;
  weight_sync_s_ = 0;
  return out;
}

}  // namespace zerorl::trainer
