// rollout/worker.cpp: the worker's receive -> (apply weights | generate) -> send loop.
// Not here: sockets (dist/control_client.cpp), weight packing (weight_channel.cpp).
#include "rollout/worker.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "core/log.h"

namespace zerorl::rollout {
namespace {

namespace wire = dist::wire;

GenerateConfig generate_config(const wire::Work& work, const StopRules& stop) {
  GenerateConfig gc;
  gc.sampler = {work.sampler.temperature, work.sampler.top_k, work.sampler.top_p, work.sampler.min_p};
  gc.stop = stop;
  gc.stop.max_new_tokens = work.max_new_tokens;
  gc.group_size = work.group_size;
  gc.seed = work.seed;
  gc.step = work.step;
  gc.prompt_keys = work.prompt_keys;
  return gc;
}

// Works that one engine call can serve together: the same stream keys' step and seed, weights, group size,
// length limit and sampler (a step's groups always are).
bool same_call(const wire::Work& a, const wire::Work& b) {
  return a.step == b.step && a.seed == b.seed && a.weight_version == b.weight_version &&
         a.group_size == b.group_size && a.max_new_tokens == b.max_new_tokens &&
         a.sampler.temperature == b.sampler.temperature && a.sampler.top_k == b.sampler.top_k &&
         a.sampler.top_p == b.sampler.top_p && a.sampler.min_p == b.sampler.min_p;
}

// One engine call over the prompts of `works` (same_call), as a colocated rollout batches a step's groups:
// a GPU needs hundreds of rows per decode step, one group has G. The streams are keyed by (seed, step,
// prompt key, sample), so the answers are the ones each group would get alone. One Result per Work; the
// call's seconds are shared out by new tokens.
std::vector<wire::Result> answer(Engine& engine, const std::vector<wire::Work>& works,
                                 const StopRules& stop) {
  std::vector<std::vector<int64_t>> prompts;
  std::vector<size_t> work_of;  // combined prompt index -> index into works
  std::vector<int64_t> first;   // works[w]'s first combined prompt index
  GenerateConfig gc = generate_config(works.front(), stop);
  gc.prompt_keys.clear();
  for (size_t w = 0; w < works.size(); ++w) {
    first.push_back(static_cast<int64_t>(prompts.size()));
    for (const auto& p : works[w].prompts) prompts.emplace_back(p.begin(), p.end()), work_of.push_back(w);
    gc.prompt_keys.insert(gc.prompt_keys.end(), works[w].prompt_keys.begin(), works[w].prompt_keys.end());
  }
  const auto start = std::chrono::steady_clock::now();
  RolloutResult res;
  {
    torch::NoGradGuard no_grad;
    res = engine.generate(prompts, gc);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<wire::Result> out(works.size());
  for (size_t w = 0; w < works.size(); ++w)
    out[w].group_id = works[w].group_id, out[w].weight_version = works[w].weight_version;
  for (const Trajectory& t : res.samples) {
    const size_t w = work_of[static_cast<size_t>(t.prompt_index)];
    out[w].new_tokens += static_cast<int64_t>(t.tokens.size());
    out[w].samples.push_back({t.prompt_index - first[w], t.sample_index,
                              std::vector<int32_t>(t.tokens.begin(), t.tokens.end()), t.logprobs,
                              t.logprobs_policy, static_cast<uint8_t>(t.finish), t.text});
  }
  const double tokens = std::max<double>(1.0, static_cast<double>(res.new_tokens));
  for (auto& r : out)
    r.generate_s = res.new_tokens > 0 ? seconds * static_cast<double>(r.new_tokens) / tokens
                                      : seconds / static_cast<double>(works.size());
  return out;
}

// After a Work: the Works already waiting behind it (sent together by the coordinator), read until a
// message of another kind, an incompatible Work (both kept in `next` for the loop), or a quiet gap of
// kGatherS. A bad frame ends the gathering; its error is kept in `error`.
constexpr double kGatherS = 0.005;

void gather_work(dist::ControlClient& client, std::vector<wire::Work>& batch,
                 std::optional<wire::Message>& next, std::string& error) {
  auto quiet_since = std::chrono::steady_clock::now();
  while (true) {
    if (!client.message_waiting()) {
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - quiet_since).count() >= kGatherS)
        return;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    wire::Decoded<wire::Message> msg = client.receive();
    if (!msg.ok()) {
      error = msg.error;
      return;
    }
    auto* work = std::get_if<wire::Work>(&msg.value);
    if (work == nullptr || !same_call(*work, batch.front())) {
      next = std::move(msg.value);
      return;
    }
    batch.push_back(std::move(*work));
    quiet_since = std::chrono::steady_clock::now();
  }
}

}  // namespace

WorkerStats run_worker(dist::ControlClient& client, Engine& engine, WeightChannel& weights,
                       const StopRules& stop) {
  WorkerStats stats;
  std::optional<wire::Message> next;  // read while gathering Works, handled before anything else
  std::string pending_error;          // a bad frame met while gathering: the loop ends after the batch
  while (true) {
    wire::Message message;
    if (next) {
      message = std::move(*next);
      next.reset();
    } else if (!pending_error.empty()) {
      stats.end_reason = pending_error;
      return stats;
    } else {
      wire::Decoded<wire::Message> msg = client.receive();
      if (!msg.ok()) {  // a bad frame from the trainer is as fatal to this connection as a lost one
        stats.end_reason = msg.error;
        return stats;
      }
      message = std::move(msg.value);
    }
    if (auto* w = std::get_if<wire::Weights>(&message)) {
      const uint64_t version = w->version;
      if (weights.receive(std::move(*w), engine.model())) {
        ++stats.weight_updates;
        ZRL_DEBUG("rollout worker: weights version {} applied", version);
      }
    } else if (auto* work = std::get_if<wire::Work>(&message)) {
      if (work->weight_version != weights.applied_version()) {
        stats.end_reason = "work for weights version " + std::to_string(work->weight_version) + ", have " +
                           std::to_string(weights.applied_version());
        stats.end = WorkerEnd::kProtocol;
        client.send(wire::Bye{stats.end_reason});
        return stats;
      }
      std::vector<wire::Work> batch{std::move(*work)};
      gather_work(client, batch, next, pending_error);
      for (const wire::Result& r : answer(engine, batch, stop)) {
        if (!client.send(r)) {
          stats.end_reason = "the trainer's connection is gone";
          return stats;
        }
      }
      stats.groups += static_cast<int64_t>(batch.size());
      ++stats.engine_calls;
    } else if (auto* bye = std::get_if<wire::Bye>(&message)) {
      stats.end_reason = "bye: " + bye->reason;
      stats.end = WorkerEnd::kBye;
      return stats;
    } else {
      stats.end_reason = std::string("unexpected ") + wire::type_name(wire::type_of(message));
      stats.end = WorkerEnd::kProtocol;
      client.send(wire::Bye{stats.end_reason});
      return stats;
    }
  }
}

}  // namespace zerorl::rollout
