// rollout/engine.cpp: the decode loop. Each iteration admits waiting (prompt, sample) items into free
// slots (one batched prefill, its K/V copied to the prompt's other samples), runs one decode step over
// the live slots, samples, and retires finished rows. Not here: model math, sampler math.
#include "rollout/engine.h"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "core/log.h"

namespace zerorl::rollout {

namespace {

struct Live {
  int64_t item = 0;  // index into RolloutResult::samples
  int64_t slot = 0;
  uint64_t row_seed = 0;
  int64_t limit = 0;  // max new tokens for this row (max_new_tokens capped by the context)
  std::unique_ptr<StopChecker> stop;
};

// Copies the first `len` cached positions of slot `src` (every layer, K and V) into the slots `dst`.
void share_prefix(model::KvCache& cache, int64_t src, const std::vector<int64_t>& dst, int64_t len,
                  const torch::Device& device) {
  auto dst_t = torch::tensor(dst, torch::kLong).to(device);
  const auto n = static_cast<int64_t>(dst.size());
  for (size_t l = 0; l < cache.k.size(); ++l) {
    for (auto* kv : {&cache.k[l], &cache.v[l]}) {
      auto prefix = kv->narrow(2, 0, len);
      // clone(): the source must not alias the tensor written to.
      prefix.index_copy_(0, dst_t, prefix.narrow(0, src, 1).clone().expand({n, -1, -1, -1}));
    }
  }
  for (int64_t s : dst) cache.lengths[static_cast<size_t>(s)] = len;
}

void sync_if(bool on, const torch::Device& device) {
  if (on && device.is_cuda()) torch::cuda::synchronize();
}

// bf16/fp16 on CUDA: where the GEMM choice (split-K or not) decides the bits, see use_batch_invariant_gemm.
bool reduced_precision_cuda(const model::CausalLM& lm) {
  return lm->device().is_cuda() && lm->dtype() != torch::kFloat32;
}

}  // namespace

KvShape kv_shape(const model::ModelConfig& c, torch::Dtype dtype) {
  KvShape s;
  s.layers = c.num_hidden_layers;
  s.kv_heads = c.num_key_value_heads;
  s.head_dim = c.head_dim;
  s.dtype_bytes = static_cast<int64_t>(torch::elementSize(dtype));
  s.vocab = c.vocab_size;
  return s;
}

void use_batch_invariant_gemm(bool on) {
  model::set_causal_sdpa(!on);        // the trainer's attention: the engine's sum order, or flash (decoder.h)
  static std::atomic<int> state{-1};  // -1 torch's default, 0 off, 1 on
  if (state.exchange(on ? 1 : 0) == (on ? 1 : 0)) return;
  if (!compat::set_batch_invariant_gemm(on)) {
    if (on)
      ZRL_WARN(
          "rollout: torch {} cannot turn off cuBLAS split-K (needs >= 2.10): the engine's bf16 log-probs "
          "may differ from the trainer's by bf16 rounding (~1e-2 on 0.5B shapes)",
          compat::torch_version());
    return;
  }
  ZRL_INFO(
      "rollout: batch-invariant GEMMs {} (cuBLASLt, no split-K): decode and full forwards give a token {}",
      on ? "on" : "off", on ? "the same bits" : "bits that depend on the batch");
}

Engine::Engine(model::CausalLM lm, EngineOptions options) : lm_(std::move(lm)), options_(std::move(options)) {
  ZRL_CHECK(!lm_.is_empty(), "rollout::Engine needs a model");
  if (reduced_precision_cuda(lm_)) {
    use_batch_invariant_gemm(options_.batch_invariant);
  }
}

int64_t Engine::context_limit() const {
  return options_.max_context > 0 ? options_.max_context : lm_->config().max_position_embeddings;
}

void Engine::ensure_cache(int64_t wanted_slots, int64_t max_len) {
  const auto shape = kv_shape(lm_->config(), lm_->dtype());
  const KvPlan plan = plan_kv(shape, max_len, options_.kv_budget, wanted_slots);
  const bool same_place = cache_ && cache_->k.front().device() == lm_->device() &&
                          cache_->k.front().scalar_type() == lm_->dtype();
  // Reuse the cache unless it is too short, or a new one would need fewer waves of ceil(wanted / slots)
  // sequences (a cache sized under the same budget for longer sequences, e.g. eval's, or for fewer):
  // reallocating also recaptures the CUDA graphs, so a few slots more are not worth it.
  const auto waves = [&](int64_t slots) { return (wanted_slots + slots - 1) / slots; };
  if (same_place && cache_->capacity() >= max_len && waves(cache_->num_slots()) <= waves(plan.slots)) {
    cache_->reset_all();
    return;
  }
  release_cache();  // free the old cache before allocating the new one
  cache_.emplace(lm_->make_cache(plan.slots, max_len));
  const bool invariant_gemms = options_.batch_invariant && reduced_precision_cuda(lm_);
  step_ = std::make_unique<DecodeStep>(lm_, &*cache_, options_.cuda_graphs, options_.cuda_graph_bucket,
                                       invariant_gemms ? kMinInvariantMlpRows : 0);
  ZRL_INFO("rollout: KV cache {} ({} sequences wanted; budget: {})", plan.summary(), wanted_slots,
           options_.kv_budget.describe());
}

void Engine::release_cache() {
  step_.reset();
  cache_.reset();
}

// Per-call state of generate(): the work queue, the live slots and the output.
struct Engine::Run {
  Engine& engine;
  const std::vector<std::vector<int64_t>>& prompts;
  const GenerateConfig& config;
  RolloutResult out;
  std::vector<Live> live;
  std::vector<int64_t> free_slots;  // a stack; lowest slot on top
  std::vector<int64_t> last_token;  // per slot: the token the next decode step feeds
  int64_t next_item = 0;
  torch::Device device;

  Run(Engine& e, const std::vector<std::vector<int64_t>>& p, const GenerateConfig& c)
      : engine(e), prompts(p), config(c), device(e.lm_->device()) {}

  int64_t total_items() const { return static_cast<int64_t>(prompts.size()) * config.group_size; }

  torch::Tensor uniforms(const std::vector<const Live*>& rows) {
    auto u = torch::empty({static_cast<int64_t>(rows.size())}, torch::kDouble);
    auto a = u.accessor<double, 1>();
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& t = out.samples[static_cast<size_t>(rows[i]->item)];
      a[static_cast<int64_t>(i)] = stream_uniform(rows[i]->row_seed, t.tokens.size());
    }
    return u;
  }

  // Samples one token for each row of `logits` ([R, V]; row i belongs to rows[i]) and records it.
  void sample_and_record(const torch::Tensor& logits, const std::vector<const Live*>& rows) {
    torch::Tensor host;
    {
      ScopedTimer t(out.times, "sample");
      auto u = config.sampler.greedy() ? torch::Tensor() : uniforms(rows);
      auto r = sample(logits, config.sampler, u.defined() ? u.to(device) : u);
      host = torch::stack({r.tokens.to(torch::kDouble), r.logprobs.to(torch::kDouble),
                           r.logprobs_policy.to(torch::kDouble)})
                 .cpu();
    }
    std::vector<int64_t> cols(rows.size());
    std::iota(cols.begin(), cols.end(), 0);
    record(host, rows, cols);
  }

  // host: CPU float64 [3, n] (token, logprob, policy logprob); rows[i]'s result is column cols[i].
  void record(const torch::Tensor& host, const std::vector<const Live*>& rows,
              const std::vector<int64_t>& cols) {
    ScopedTimer t(out.times, "host");
    auto a = host.accessor<double, 2>();
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto col = cols[i];
      const auto token = static_cast<int64_t>(a[0][col]);
      auto& traj = out.samples[static_cast<size_t>(rows[i]->item)];
      traj.tokens.push_back(token);
      traj.logprobs.push_back(static_cast<float>(a[1][col]));
      traj.logprobs_policy.push_back(static_cast<float>(a[2][col]));
      last_token[static_cast<size_t>(rows[i]->slot)] = token;
      auto reason = rows[i]->stop->feed(token);
      if (reason == FinishReason::kNone && static_cast<int64_t>(traj.tokens.size()) >= rows[i]->limit) {
        reason = FinishReason::kLength;
      }
      traj.finish = reason;
    }
    out.new_tokens += static_cast<int64_t>(rows.size());
  }

  // Moves waiting items into free slots; returns the new rows (prefilled, first token sampled).
  void admit();
  void decode_step();
  void retire();
};

void Engine::Run::admit() {
  struct Admission {
    int64_t prompt, first_item, count;
  };
  std::vector<Admission> batch;
  int64_t widest = 0;
  const auto slots_total = engine.cache_->num_slots();
  while (next_item < total_items() && !free_slots.empty()) {
    const int64_t p = next_item / config.group_size;
    const int64_t left_of_prompt = (p + 1) * config.group_size - next_item;
    const auto free_now = static_cast<int64_t>(free_slots.size());
    // A prompt's samples share one prefill: they wait until all fit, unless the cache has fewer slots than
    // they need (then the group is split across admissions, each with its own prefill).
    if (left_of_prompt > free_now && left_of_prompt <= slots_total) break;
    // Bound the padded prefill batch (rows x widest prompt): activations, not the KV cache, limit it.
    const int64_t width = std::max<int64_t>(widest, prompts[static_cast<size_t>(p)].size());
    if (!batch.empty() && width * static_cast<int64_t>(batch.size() + 1) > engine.options_.max_prefill_tokens)
      break;
    widest = width;
    const int64_t n = std::min(left_of_prompt, free_now);
    batch.push_back({p, next_item, n});
    next_item += n;
    for (int64_t i = 0; i < n; ++i) {
      Live l;
      l.item = batch.back().first_item + i;
      l.slot = free_slots.back();
      free_slots.pop_back();
      const auto& traj = out.samples[static_cast<size_t>(l.item)];
      const auto key = config.prompt_keys.empty()
                           ? static_cast<uint64_t>(traj.prompt_index)
                           : config.prompt_keys[static_cast<size_t>(traj.prompt_index)];
      l.row_seed = stream_seed(config.seed, config.step, key, static_cast<uint64_t>(traj.sample_index));
      const auto plen = static_cast<int64_t>(prompts[static_cast<size_t>(p)].size());
      l.limit = std::min(config.stop.max_new_tokens, engine.context_limit() - plen);
      l.stop = std::make_unique<StopChecker>(
          &config.stop, engine.options_.detokenizer ? engine.options_.detokenizer() : nullptr);
      live.push_back(std::move(l));
    }
  }
  if (batch.empty()) return;
  const size_t first_new = live.size() - static_cast<size_t>(std::accumulate(
                                             batch.begin(), batch.end(), int64_t{0},
                                             [](int64_t s, const Admission& a) { return s + a.count; }));
  // One batched prefill: row b = prompt of batch[b], right-padded, into the slot of its first sample.
  int64_t width = 0;
  for (const auto& a : batch) width = std::max<int64_t>(width, prompts[a.prompt].size());
  auto ids = torch::zeros({static_cast<int64_t>(batch.size()), width}, torch::kLong);
  std::vector<int64_t> slots, lens;
  size_t row = first_new;
  for (size_t b = 0; b < batch.size(); ++b) {
    const auto& prompt = prompts[static_cast<size_t>(batch[b].prompt)];
    ids[static_cast<int64_t>(b)].narrow(0, 0, prompt.size()).copy_(torch::tensor(prompt, torch::kLong));
    slots.push_back(live[row].slot);
    lens.push_back(static_cast<int64_t>(prompt.size()));
    row += static_cast<size_t>(batch[b].count);
  }
  auto& cache = *engine.cache_;
  torch::Tensor logits;
  {
    ScopedTimer t(out.times, "prefill");
    torch::NoGradGuard no_grad;
    logits = engine.lm_->forward_cached(ids.to(device), slots, cache, lens, /*all_logits=*/false);
    // Share the prefix: copy the first sample's K/V into the slots of the prompt's other samples.
    row = first_new;
    std::vector<int64_t> expand;  // logits row of each new live row
    for (size_t b = 0; b < batch.size(); ++b) {
      const auto n = batch[b].count;
      if (n > 1) {
        std::vector<int64_t> dst;
        for (int64_t i = 1; i < n; ++i) dst.push_back(live[row + static_cast<size_t>(i)].slot);
        share_prefix(cache, slots[b], dst, lens[b], device);
      }
      for (int64_t i = 0; i < n; ++i) expand.push_back(static_cast<int64_t>(b));
      row += static_cast<size_t>(n);
    }
    logits = logits.index_select(0, torch::tensor(expand, torch::kLong).to(device));
    sync_if(engine.options_.timing_sync, device);
  }
  out.prefills += static_cast<int64_t>(batch.size());
  std::vector<const Live*> rows;
  for (size_t i = first_new; i < live.size(); ++i) rows.push_back(&live[i]);
  sample_and_record(logits, rows);
}

// One token for every live slot through DecodeStep (slots [0, max live slot] run; idle ones are ignored).
void Engine::Run::decode_step() {
  if (live.empty()) return;
  int64_t rows = 0;
  for (const auto& l : live) rows = std::max(rows, l.slot + 1);
  std::vector<int64_t> ids(static_cast<size_t>(rows), 0);
  std::vector<double> u(static_cast<size_t>(rows), 0.5);
  std::vector<const Live*> live_rows;
  std::vector<int64_t> cols;
  for (const auto& l : live) {
    const auto s = static_cast<size_t>(l.slot);
    ids[s] = last_token[s];
    u[s] = stream_uniform(l.row_seed, out.samples[static_cast<size_t>(l.item)].tokens.size());
    live_rows.push_back(&l);
    cols.push_back(l.slot);
  }
  torch::Tensor host;
  {
    ScopedTimer t(out.times, "decode");
    host = engine.step_->run(ids, u, rows, config.sampler);
  }
  for (const auto& l : live) ++engine.cache_->lengths[static_cast<size_t>(l.slot)];
  ++out.decode_steps;
  record(host, live_rows, cols);
}

void Engine::Run::retire() {
  ScopedTimer t(out.times, "host");
  auto keep = live.begin();
  for (auto it = live.begin(); it != live.end(); ++it) {
    auto& traj = out.samples[static_cast<size_t>(it->item)];
    if (traj.finish == FinishReason::kNone) {
      if (keep != it) *keep = std::move(*it);
      ++keep;
      continue;
    }
    traj.text = it->stop->final_text();
    engine.cache_->reset(it->slot);
    free_slots.push_back(it->slot);
  }
  live.erase(keep, live.end());
  std::sort(free_slots.rbegin(), free_slots.rend());
}

RolloutResult Engine::generate(const std::vector<std::vector<int64_t>>& prompts,
                               const GenerateConfig& config) {
  config.sampler.validate();
  ZRL_CHECK(config.group_size >= 1, "rollout.group_size must be >= 1, got {}", config.group_size);
  ZRL_CHECK(config.prompt_keys.empty() || config.prompt_keys.size() == prompts.size(),
            "generate: {} prompt_keys for {} prompts", config.prompt_keys.size(), prompts.size());
  {
    auto keys = config.prompt_keys;
    std::sort(keys.begin(), keys.end());
    const auto dup = std::adjacent_find(keys.begin(), keys.end());
    ZRL_CHECK(dup == keys.end(),
              "generate: prompt key {} is given twice: those prompts would draw identical samples (a row "
              "drawn twice needs one key per draw)",
              dup == keys.end() ? 0 : *dup);
  }
  ZRL_CHECK(config.stop.max_new_tokens >= 1, "max_new_tokens must be >= 1, got {}",
            config.stop.max_new_tokens);
  const int64_t limit = context_limit(), vocab = lm_->config().vocab_size;
  int64_t longest = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto len = static_cast<int64_t>(prompts[p].size());
    ZRL_CHECK(len > 0, "prompt row {} is empty", p);
    ZRL_CHECK(len < limit,
              "prompt row {} has {} tokens: no room for a new token within the context limit of {}", p, len,
              limit);
    for (int64_t id : prompts[p]) {
      ZRL_CHECK(id >= 0 && id < vocab, "prompt row {} has token id {} outside the vocabulary [0, {})", p, id,
                vocab);
    }
    longest = std::max(longest, len);
  }
  if (options_.weight_sync) options_.weight_sync(lm_);
  Run run(*this, prompts, config);
  const int64_t total = run.total_items();
  run.out.samples.resize(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i) {
    run.out.samples[static_cast<size_t>(i)].prompt_index = i / config.group_size;
    run.out.samples[static_cast<size_t>(i)].sample_index = i % config.group_size;
  }
  if (total == 0) return std::move(run.out);
  ensure_cache(total, std::min(limit, longest + config.stop.max_new_tokens));
  step_->begin_call();
  for (int64_t s = cache_->num_slots() - 1; s >= 0; --s) run.free_slots.push_back(s);
  run.last_token.assign(static_cast<size_t>(cache_->num_slots()), 0);
  while (run.next_item < total || !run.live.empty()) {
    run.admit();
    run.retire();
    run.decode_step();
    run.retire();
  }
  return std::move(run.out);
}

}  // namespace zerorl::rollout
