// rollout/worker.cpp: the worker's receive -> (apply weights | generate) -> send loop.
// Not here: sockets (dist/control_client.cpp), weight packing (weight_channel.cpp).
#include "rollout/worker.h"

#include <chrono>

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

wire::Result answer(Engine& engine, const wire::Work& work, const StopRules& stop) {
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& p : work.prompts) prompts.emplace_back(p.begin(), p.end());
  const auto start = std::chrono::steady_clock::now();
  RolloutResult res;
  {
    torch::NoGradGuard no_grad;
    res = engine.generate(prompts, generate_config(work, stop));
  }
  wire::Result out;
  out.group_id = work.group_id;
  out.weight_version = work.weight_version;
  out.generate_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.new_tokens = res.new_tokens;
  for (const Trajectory& t : res.samples) {
    out.samples.push_back({t.prompt_index, t.sample_index,
                           std::vector<int32_t>(t.tokens.begin(), t.tokens.end()), t.logprobs,
                           t.logprobs_policy, static_cast<uint8_t>(t.finish), t.text});
  }
  return out;
}

}  // namespace

WorkerStats run_worker(dist::ControlClient& client, Engine& engine, WeightChannel& weights,
                       const StopRules& stop) {
  WorkerStats stats;
  while (true) {
    wire::Decoded<wire::Message> msg = client.receive();
    if (!msg.ok()) {  // a bad frame from the trainer is as fatal to this connection as a lost one
      stats.end_reason = msg.error;
      return stats;
    }
    if (auto* w = std::get_if<wire::Weights>(&msg.value)) {
      const uint64_t version = w->version;
      if (weights.receive(std::move(*w), engine.model())) {
        ++stats.weight_updates;
        ZRL_DEBUG("rollout worker: weights version {} applied", version);
      }
    } else if (auto* work = std::get_if<wire::Work>(&msg.value)) {
      if (work->weight_version != weights.applied_version()) {
        stats.end_reason = "work for weights version " + std::to_string(work->weight_version) + ", have " +
                           std::to_string(weights.applied_version());
        stats.end = WorkerEnd::kProtocol;
        client.send(wire::Bye{stats.end_reason});
        return stats;
      }
      if (!client.send(answer(engine, *work, stop))) {
        stats.end_reason = "the trainer's connection is gone";
        return stats;
      }
      ++stats.groups;
    } else if (auto* bye = std::get_if<wire::Bye>(&msg.value)) {
      stats.end_reason = "bye: " + bye->reason;
      stats.end = WorkerEnd::kBye;
      return stats;
    } else {
      stats.end_reason = std::string("unexpected ") + wire::type_name(wire::type_of(msg.value));
      stats.end = WorkerEnd::kProtocol;
      client.send(wire::Bye{stats.end_reason});
      return stats;
    }
  }
}

}  // namespace zerorl::rollout
