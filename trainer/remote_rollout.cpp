// trainer/remote_rollout.cpp: scheduling of prompt groups over rollout workers (one prompt = one group, all
// G answers on one worker), exactly once: a group is done when its result arrives, re-queued when its worker
// leaves first. Not here: frames and sockets (dist/), generation (the workers' rollout::Engine).
#include "trainer/remote_rollout.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"

namespace zerorl::trainer {
namespace wire = dist::wire;
using Kind = dist::ControlEvent::Kind;

namespace {
// Groups a worker holds at once: enough to keep it busy while a result travels, few enough that a faster
// worker takes more of the step's groups.
constexpr size_t kMaxInFlight = 2;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

// One generate() call: the groups not yet sent, and where each group's answers go.
struct RemoteRollout::Pending {
  std::deque<size_t> queue;                 // prompt indices waiting for a worker
  std::map<uint64_t, size_t> group_prompt;  // group id -> prompt index (sent, not answered)
  std::vector<wire::Work> work;             // per prompt (group_id set when sent)
  rollout::RolloutResult result;
  std::vector<bool> filled;  // per trajectory slot
  size_t done = 0;
  int64_t group_size = 1;
  uint64_t version = 0;
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
  std::fprintf(stderr, "rollout coordinator: listening on %s\n", server_->address().c_str());
}

RemoteRollout::~RemoteRollout() {
  for (const auto& [id, w] : workers_) server_->send(id, wire::Bye{"the trainer is done"});
}

void RemoteRollout::wait_for_workers(size_t wanted) {
  const RolloutSection& ro = ro_;
  Stopwatch waited;
  while (workers_.size() < wanted) {
    const double left = ro.worker_wait_s - waited.seconds();
    ZRL_CHECK(left > 0,
              "rollout.mode = workers: {} of {} workers registered with the coordinator at {} within "
              "rollout.worker_wait_s = {} s; start them with `zerorl rollout-worker --config <this config> "
              "--trainer {}`",
              workers_.size(), wanted, server_->address(), ro.worker_wait_s, server_->address());
    std::optional<dist::ControlEvent> e = server_->next_event(left);
    if (!e) continue;
    Pending none;
    handle(*e, none);
  }
}

void RemoteRollout::handle(dist::ControlEvent& e, Pending& p) {
  if (e.kind == Kind::kJoined) {
    workers_[e.worker] = Worker{};
  } else if (e.kind == Kind::kLeft) {
    auto it = workers_.find(e.worker);
    if (it == workers_.end()) return;
    for (uint64_t group : it->second.in_flight) {  // back to the front of the queue, in prompt order
      p.queue.push_front(p.group_prompt.at(group));
      p.group_prompt.erase(group);
      ++requeued_;
    }
    if (!it->second.in_flight.empty()) {
      ZRL_WARN("rollout: worker {} left ({}); {} groups re-queued", e.worker, e.reason,
               it->second.in_flight.size());
    }
    workers_.erase(it);
  } else if (e.kind == Kind::kMessage) {
    auto* r = std::get_if<wire::Result>(&e.message);
    auto it = workers_.find(e.worker);
    if (!r || it == workers_.end() || !it->second.in_flight.count(r->group_id)) {
      return server_->drop(e.worker, "result for a group it was not sent");
    }
    const size_t prompt = p.group_prompt.at(r->group_id);
    const auto G = static_cast<size_t>(p.group_size);
    bool valid = r->samples.size() == G && r->weight_version == p.version;
    std::vector<bool> seen(G, false);
    for (const auto& t : r->samples) {
      valid = valid && t.prompt_index == 0 && t.sample_index >= 0 &&
              static_cast<size_t>(t.sample_index) < G && !seen[static_cast<size_t>(t.sample_index)];
      if (valid) seen[static_cast<size_t>(t.sample_index)] = true;
    }
    if (!valid) return server_->drop(e.worker, "malformed result (sample count, index or weight version)");
    for (auto& t : r->samples) {
      const size_t slot = prompt * G + static_cast<size_t>(t.sample_index);
      p.filled[slot] = true;
      rollout::Trajectory& out = p.result.samples[slot];
      out.prompt_index = static_cast<int64_t>(prompt);
      out.sample_index = t.sample_index;
      out.tokens.assign(t.tokens.begin(), t.tokens.end());
      out.logprobs = std::move(t.logprobs);
      out.logprobs_policy = std::move(t.logprobs_policy);
      out.finish = static_cast<rollout::FinishReason>(t.finish);
      out.text = std::move(t.text);
    }
    p.result.new_tokens += r->new_tokens;
    it->second.in_flight.erase(r->group_id);
    ++it->second.groups;
    p.group_prompt.erase(r->group_id);
    ++p.done;
  }  // kRejected: a stranger, already logged by the server
}

void RemoteRollout::send_weights(uint64_t id, Worker& w, model::CausalLM& lm, uint64_t version) {
  Stopwatch sync;
  if (frames_version_ != version) {
    frames_ = channel_->pack(lm, version);
    frames_version_ = version;
  }
  for (const auto& frame : frames_) server_->send(id, frame);
  w.version = version;
  weight_sync_s_ += sync.seconds();
}

void RemoteRollout::dispatch(model::CausalLM& lm, Pending& p) {
  while (!p.queue.empty()) {
    Worker* best = nullptr;
    uint64_t best_id = 0;
    for (auto& [id, w] : workers_) {  // least loaded first; ties: the lowest id
      if (w.in_flight.size() < kMaxInFlight && (!best || w.in_flight.size() < best->in_flight.size())) {
        best = &w, best_id = id;
      }
    }
    if (!best) return;
    if (best->version != p.version) send_weights(best_id, *best, lm, p.version);
    const size_t prompt = p.queue.front();
    wire::Work& work = p.work[prompt];
    work.group_id = next_group_++;
    if (!server_->send(best_id, work)) return;  // it just left: its kLeft event is on the way
    p.queue.pop_front();
    p.group_prompt[work.group_id] = prompt;
    best->in_flight.insert(work.group_id);
  }
}

rollout::RolloutResult RemoteRollout::generate(model::CausalLM& lm, uint64_t weight_version,
                                               const std::vector<std::vector<int64_t>>& prompts,
                                               const rollout::GenerateConfig& gc) {
  ZRL_CHECK(weight_version >= 1, "remote rollout: weight versions start at 1");
  const RolloutSection& ro = ro_;
  wait_for_workers(started_ ? 1 : static_cast<size_t>(ro.workers));
  started_ = true;
  requeued_ = 0, weight_sync_s_ = 0;
  for (auto& [id, w] : workers_) w.groups = 0;
  Pending p;
  p.group_size = gc.group_size;
  p.version = weight_version;
  p.result.samples.resize(prompts.size() * static_cast<size_t>(gc.group_size));
  p.filled.assign(p.result.samples.size(), false);
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
    p.work.push_back(std::move(w));
    p.queue.push_back(i);
  }
  auto idle_since = std::chrono::steady_clock::now();
  while (p.done < prompts.size()) {
    dispatch(lm, p);
    std::optional<dist::ControlEvent> e = server_->next_event(1.0);
    if (e) handle(*e, p);
    if (!workers_.empty()) {
      idle_since = std::chrono::steady_clock::now();
    } else {
      ZRL_CHECK(seconds_since(idle_since) < ro.worker_wait_s,
                "rollout.mode = workers: every worker is gone and none registered with the coordinator at {} "
                "within rollout.worker_wait_s = {} s ({} of {} groups of step {} answered)",
                server_->address(), ro.worker_wait_s, p.done, prompts.size(), gc.step);
    }
  }
  return std::move(p.result);
}

Json RemoteRollout::step_metrics() const {
  Json m{{"rollout/workers", workers_.size()},
         {"rollout/requeued_groups", requeued_},
         {"time/weight_sync", weight_sync_s_}};
  return m;
}

}  // namespace zerorl::trainer
