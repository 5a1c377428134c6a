// trainer/update.cpp: old_logprobs -> advantages -> update (see update.h), on rows laid out as the rollout
// engine's KV cache holds them (prompt then response from column 0), so recomputed log-probs can equal the
// engine's to float32 rounding; fp32 master weights and rollout log-probs are options.
// Not here: the rest of the step (step.cpp), the loss formulas (algo/), which pi_old to use
// (old_logprobs.cpp), the row layouts (update_layout.h, packing.h).
#include "trainer/update.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "algo/advantages.h"
#include "algo/logits.h"
#include "algo/losses.h"
#include "algo/off_policy.h"
#include "compat/torch_compat.h"
#include "core/error.h"
#include "dist/grad_sync.h"
#include "trainer/data_parallel.h"
#include "trainer/lr_schedule.h"
#include "trainer/packing.h"
#include "trainer/update_layout.h"

namespace zerorl::trainer {

std::vector<torch::Tensor> PolicyState::trainable() const {
  return masters != nullptr ? masters->parameters() : lm->parameters();
}

namespace {

// The data-parallel path: more than one rank, or an explicit mpi/nccl backend at world size 1.
bool data_parallel(const PolicyState& p) { return p.comm != nullptr && p.comm->backend() != "local"; }

// Sums `values` over ranks (float64; nothing to do in one process).
void sum_over_ranks(const PolicyState& p, std::vector<double>& values) {
  if (!data_parallel(p)) return;
  auto t = torch::tensor(values, torch::kFloat64).to(p.comm->device());
  p.comm->all_reduce(t);
  t = t.cpu();
  for (size_t i = 0; i < values.size(); ++i) values[i] = t[static_cast<int64_t>(i)].item<double>();
}

}  // namespace

algo::LinearLogprobs policy_token_logprobs(model::CausalLM& lm, const torch::Tensor& hidden,
                                           const torch::Tensor& tokens, double temperature) {
  const auto w = lm->lm_head_weight();
  if (algo::float32_lm_head_fused(hidden, w))
    return algo::linear_float32_token_logprobs(hidden, w, tokens, temperature);
  return algo::token_logprobs_entropy(lm->logits(hidden), tokens, temperature);
}

namespace {

// Runs fn(begin, count) over [begin, end) in chunks of `chunk` rows.
template <class F>
void for_chunks(int64_t begin, int64_t end, int64_t chunk, F&& fn) {
  for (int64_t b = begin; b < end; b += chunk) fn(b, std::min(chunk, end - b));
}

// Everything the three phases share.
struct Prepared {
  torch::Tensor ids, attn, rmask, targets, predict_at, logp_old, logp_ref, adv;
  // algo.old_logprobs = current: logp_old stays undefined and each micro-batch takes its own forward's,
  // detached (the importance weights and the engine distance then accumulate micro-batch by micro-batch).
  bool current = false;
  // algo.off_policy_correction on: the engine's behaviour log-probs mu, the per-token weights of the pg loss
  // and the tokens kept, the metric sums (algo/off_policy.h); undefined when off.
  torch::Tensor mu, is_weight, is_keep, is_stats;
  // At temperature 1 with the engine's T = 1 log-probs and pi_old computed here (recompute or current): those
  // log-probs [n, Tr] and the sums {sum |engine - pi_old| over response tokens, tokens} (float64, device).
  torch::Tensor engine_lp, diff_sums;
  int64_t n = 0, T = 0, micro_rows = 1;
  double temp = 1.0;
  // algo.pack_sequences: each micro-batch's sequences packed into rows of T (packing.h); the lengths per
  // answer build them.
  bool pack = false;
  std::vector<int64_t> prompt_len, response_len;
  torch::Tensor live;            // [N] the response positions the LM head runs on (set_live_positions)
  std::vector<int64_t> live_at;  // [n + 1]: answer i's live positions are live[live_at[i] .. live_at[i + 1])
};

// Runs fn(begin, count) over the micro-batches of answers [begin, end): micro_rows answers each, or with
// algo.pack_sequences as many consecutive answers as pack into micro_rows rows of T (packing.h): the same
// rows x columns budget, filled. The loss normalizers are the minibatch's, so the split moves no gradient.
template <class F>
void for_micro_batches(const Prepared& x, int64_t begin, int64_t end, F&& fn) {
  if (!x.pack) return for_chunks(begin, end, x.micro_rows, fn);
  std::vector<int64_t> len;
  for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i)
    len.push_back(x.prompt_len[i] + x.response_len[i]);
  for (const int64_t c : packed_micro_batch_sizes(len, x.micro_rows, x.T)) fn(begin, c), begin += c;
}

// The hidden states that predict the response tokens of answers s .. s+c-1, at live positions only.
struct ResponseHidden {
  torch::Tensor h;     // [N, H]
  torch::Tensor live;  // [N] int64: each one's flat index k * Tr + j into the micro-batch's [c, Tr]
};

// Live positions: response token j < |response k| (j = 0 for an empty response, so that every micro-batch
// has a loss to differentiate), as flat indices i * Tr + j over the batch (prepare() copies them once, so
// a micro-batch's slice costs no host-device sync). The LM head runs on these rows only: over the prompt or
// past a response it is wasted work (its matmul is ~27% of a Qwen2.5-0.5B token's forward FLOPs, and with
// spread answer lengths much of [c, Tr] lies past them). Past a response, every loss and metric is masked.
void set_live_positions(Prepared& x, int64_t tr) {
  std::vector<int64_t> live;
  x.live_at.assign(1, 0);
  for (int64_t i = 0; i < x.n; ++i) {
    const int64_t n = std::clamp<int64_t>(x.response_len[static_cast<size_t>(i)], 1, tr);
    for (int64_t j = 0; j < n; ++j) live.push_back(i * tr + j);
    x.live_at.push_back(static_cast<int64_t>(live.size()));
  }
  x.live = torch::tensor(live, torch::kInt64).to(x.ids.device());
}

// The live positions of answers s .. s+c-1 as flat indices k * Tr + j into their [c, Tr].
torch::Tensor live_positions(const Prepared& x, int64_t s, int64_t c, int64_t tr) {
  const auto at = x.live_at[static_cast<size_t>(s)], end = x.live_at[static_cast<size_t>(s + c)];
  return x.live.narrow(0, at, end - at) - s * tr;
}

// One padded row per answer, or packed rows (algo.pack_sequences; the same logits to float rounding). Adds
// the forward's rows x columns to `cells`.
ResponseHidden micro_hidden(model::CausalLM& lm, const Prepared& x, int64_t s, int64_t c, int64_t& cells) {
  const auto tr = x.targets.size(1);
  ResponseHidden r{torch::Tensor(), live_positions(x, s, c, tr)};
  torch::Tensor h, at;  // at [c, Tr]: the flat index into h [rows * columns, H] predicting each token
  if (!x.pack) {
    cells += c * x.T;
    h = lm->hidden_states(x.ids.narrow(0, s, c), x.attn.narrow(0, s, c), /*right_padded=*/true);
    at = x.predict_at.narrow(0, s, c) + torch::arange(c, x.predict_at.options()).unsqueeze(1) * x.T;
  } else {
    const auto span = [&](const std::vector<int64_t>& v) {
      return std::vector<int64_t>(v.begin() + s, v.begin() + s + c);
    };
    const PackedMicroBatch pk =
        pack_micro_batch(x.ids.narrow(0, s, c), span(x.prompt_len), span(x.response_len), tr);
    cells += pk.ids.numel();
    h = lm->hidden_states_packed(pk.ids, pk.segment_ids);
    at = pk.predict_at;
  }
  r.h = h.reshape({-1, h.size(-1)}).index_select(0, at.reshape({-1}).index_select(0, r.live));
  return r;
}

// v [N] at the live positions -> [c, Tr], 0 elsewhere (differentiable: its backward gathers).
torch::Tensor to_grid(const torch::Tensor& v, const torch::Tensor& live, int64_t c, int64_t tr) {
  return torch::zeros({c * tr}, v.options()).scatter(0, live, v).view({c, tr});
}

// The targets [N] at the live positions of answers s .. s+c-1.
torch::Tensor live_targets(const Prepared& x, const torch::Tensor& live, int64_t s, int64_t c) {
  return x.targets.narrow(0, s, c).reshape({-1}).index_select(0, live);
}

// The model's log-probs of the response tokens (no grad), a micro-batch at a time, into out [n, Tr] (0 past
// each response).
void chunked_logprobs(model::CausalLM& lm, const Prepared& x, torch::Tensor& out) {
  torch::NoGradGuard ng;
  int64_t cells = 0;
  for_micro_batches(x, 0, x.n, [&](int64_t s, int64_t c) {
    const auto r = micro_hidden(lm, x, s, c, cells);
    const auto logp = algo::token_logprobs(lm->logits(r.h), live_targets(x, r.live, s, c), x.temp);
    out.narrow(0, s, c).copy_(to_grid(logp, r.live, c, out.size(1)));
  });
}

// Where pi_old is computed here (not read from the engine): the engine's T = 1 log-probs to measure it
// against (rollout_logprob_diff), and the behaviour log-probs mu of algo.off_policy_correction (the engine's
// sampling log-probs: the distribution the answers were drawn from, tempered and filtered as configured).
void engine_logprobs(const Config& cfg, const UpdateBatch& b, Prepared& x) {
  const auto& a = cfg.algo;
  const bool t1 = cfg.rollout.temperature == 1.0 || cfg.rollout.temperature <= 0.0;
  if (t1 && static_cast<int64_t>(b.logprobs_policy.size()) == x.n) {
    x.engine_lp = pad_rows(b.logprobs_policy, x.rmask.size(1)).to(x.rmask.device());
    x.diff_sums = torch::zeros({2}, x.rmask.options().dtype(torch::kFloat64));
  }
  if (a.off_policy_correction == "none") return;
  const auto& rows = b.logprobs_sampling;
  ZRL_CHECK(
      static_cast<int64_t>(rows.size()) == x.n,
      "algo.off_policy_correction = {}: {} rows of behaviour log-probs (the engine's, per answer) for {} "
      "answers",
      a.off_policy_correction, rows.size(), x.n);
  for (size_t i = 0; i < rows.size(); ++i) {
    ZRL_CHECK(rows[i].size() == b.responses[i].size(),
              "algo.off_policy_correction = {}: answer {} has {} tokens but {} behaviour log-probs",
              a.off_policy_correction, i, b.responses[i].size(), rows[i].size());
  }
  x.mu = pad_rows(rows, x.rmask.size(1)).to(x.rmask.device());
}

// pi_old `logp_old` [c, Tr] of answers s .. s+c-1 against the engine (no grad): adds to the distance sums and
// the off-policy metric sums, and returns the correction's weights and kept tokens of those rows (undefined
// without a correction). Called for the whole batch when pi_old is recomputed, per micro-batch with current.
algo::ImportanceWeights weigh_against_engine(const Config& cfg, Prepared& x, const torch::Tensor& logp_old,
                                             int64_t s, int64_t c) {
  torch::NoGradGuard ng;
  const auto m = x.rmask.narrow(0, s, c);
  if (x.diff_sums.defined()) {
    x.diff_sums[0] += ((x.engine_lp.narrow(0, s, c) - logp_old).abs() * m).sum().to(torch::kFloat64);
    x.diff_sums[1] += m.sum().to(torch::kFloat64);
  }
  if (!x.mu.defined()) return {};
  const auto corr = algo::parse_off_policy_correction(cfg.algo.off_policy_correction);
  const auto mu = x.mu.narrow(0, s, c);
  const auto w = algo::importance_weights(logp_old, mu, m, corr, cfg.algo.is_cap);
  auto sums = algo::off_policy_stat_sums(logp_old, mu, m, w, corr, cfg.algo.is_cap);
  if (x.is_stats.defined()) {  // every entry adds but the last, the max of r
    const int64_t k = algo::kOffPolicyStatCount - 1;
    sums.narrow(0, 0, k) += x.is_stats.narrow(0, 0, k);
    sums[k] = torch::maximum(sums[k], x.is_stats[k]);
  }
  x.is_stats = sums;
  return w;
}

void old_logprobs(const Config& cfg, PolicyState& p, const UpdateBatch& b, Prepared& x) {
  torch::NoGradGuard ng;
  const std::string resolved = resolve_old_logprobs(cfg, p.lm->dtype(), p.lm->device().is_cuda()).value;
  check_old_logprobs(cfg, resolved);
  if (resolved == "rollout") {
    const bool t1 = cfg.rollout.temperature == 1.0 || cfg.rollout.temperature <= 0.0;
    const auto& rows = t1 ? b.logprobs_policy : b.logprobs_sampling;
    ZRL_CHECK(static_cast<int64_t>(rows.size()) == x.n,
              "algo.old_logprobs = rollout: {} rows of rollout log-probs for {} answers", rows.size(), x.n);
    x.logp_old = pad_rows(rows, x.rmask.size(1)).to(x.rmask.device()) * x.rmask;
  } else {
    engine_logprobs(cfg, b, x);
    x.current = resolved == "current";
    if (!x.current) {
      x.logp_old = torch::zeros_like(x.rmask);
      chunked_logprobs(p.lm, x, x.logp_old);
      const auto w = weigh_against_engine(cfg, x, x.logp_old, 0, x.n);
      x.is_weight = w.weight, x.is_keep = w.keep;
    }
  }
  if (!p.ref.is_empty()) {
    x.logp_ref = torch::zeros_like(x.rmask);
    chunked_logprobs(p.ref, x, x.logp_ref);
  }
}

// Mean |engine T = 1 log-prob - pi_old| over every rank's response tokens: how far the sampling policy is
// from the trainer's (0 with batch-invariant GEMMs); < 0 where not measured (pi_old read from the engine, or
// a temperature other than 1, where the engine's logprobs_policy and pi_old are different distributions).
double rollout_logprob_diff(const PolicyState& p, const Prepared& x) {
  if (!x.diff_sums.defined()) return -1;
  auto t = x.diff_sums.cpu();
  std::vector<double> v{t[0].item<double>(), t[1].item<double>()};
  sum_over_ranks(p, v);
  return v[1] > 0 ? v[0] / v[1] : -1;
}

// off_policy/* metrics over every rank's tokens.
void add_off_policy_metrics(const Config& cfg, const PolicyState& p, const Prepared& x, Json& out) {
  if (!x.is_stats.defined()) return;
  auto v = x.is_stats.to(torch::kCPU).contiguous();
  std::vector<double> sums(v.data_ptr<double>(), v.data_ptr<double>() + algo::kOffPolicyStatCount - 1);
  std::vector<double> maxes{v.data_ptr<double>()[algo::kOffPolicyStatCount - 1]};
  if (data_parallel(p)) reduce_doubles(*p.comm, sums, maxes);
  sums.push_back(maxes[0]);
  const algo::OffPolicyStats st = algo::read_off_policy_stats(torch::tensor(sums, torch::kFloat64));
  out["off_policy/is_ratio_mean"] = st.ratio_mean, out["off_policy/is_ratio_max"] = st.ratio_max;
  out["off_policy/is_weight_mean"] = st.weight_mean;
  const bool mask = cfg.algo.off_policy_correction == "mask";
  out[mask ? "off_policy/is_masked_frac" : "off_policy/is_clip_frac"] = st.out_of_bound_frac;
  out["off_policy/logprob_abs_diff"] = st.logprob_abs_diff;
}

void advantages(const Config& cfg, PolicyState& p, const UpdateBatch& b, Prepared& x) {
  const auto& a = cfg.algo;
  const int64_t G = cfg.rollout.group_size;
  auto rewards = torch::tensor(b.rewards, torch::kFloat32).to(x.rmask.device());
  if (!p.ref.is_empty() && a.kl_in == "reward") {
    const auto kl_kind = algo::parse_kl_estimator(a.kl_estimator);
    rewards = algo::kl_penalized_rewards(rewards, algo::kl_penalty(x.logp_old, x.logp_ref, kl_kind), x.rmask,
                                         a.kl_coef);
  }
  algo::AdvantageOptions ao;
  ao.estimator = algo::parse_advantage_estimator(a.advantage);
  x.adv = algo::group_advantages(rewards.view({x.n / G, G}), ao).reshape({x.n});
  if (a.whiten_batch && x.n > 1) x.adv = algo::whiten(x.adv);
}

// One micro-batch: forward, loss, backward (grads land in the compute model); returns its stat sums.
torch::Tensor micro_step(const Config& cfg, PolicyState& p, Prepared& x, int64_t s, int64_t c,
                         const algo::LossCounts& counts, int64_t& cells) {
  const auto& a = cfg.algo;
  algo::ClipOptions clip{a.clip_low, a.clip_high, a.dual_clip_c};
  algo::LossCoefficients coefs{a.kl_in == "loss" ? a.kl_coef : 0.0, a.entropy_coef};
  algo::AggregationOptions agg{algo::parse_loss_aggregation(a.loss_agg),
                               static_cast<double>(cfg.rollout.max_new_tokens)};
  auto m = x.rmask.narrow(0, s, c);
  const auto r = micro_hidden(p.lm, x, s, c, cells);
  const auto targets = live_targets(x, r.live, s, c);
  torch::Tensor logp, ent;
  if (a.entropy_coef > 0) {  // an entropy bonus: differentiable entropy
    auto logits = p.lm->logits(r.h);
    logp = algo::token_logprobs(logits, targets, x.temp);
    ent = algo::entropy_from_logits(logits, x.temp);
  } else {  // the entropy is a metric: one walk over the logits for both
    auto both = policy_token_logprobs(p.lm, r.h, targets, x.temp);
    logp = both.logp, ent = both.entropy;
  }
  logp = to_grid(logp, r.live, c, m.size(1)), ent = to_grid(ent, r.live, c, m.size(1));
  const auto logp_old = x.current ? logp.detach() : x.logp_old.narrow(0, s, c);
  const auto is_weight = x.current               ? weigh_against_engine(cfg, x, logp_old, s, c).weight
                         : x.is_weight.defined() ? x.is_weight.narrow(0, s, c)
                                                 : torch::Tensor();
  auto pg = algo::policy_loss(logp, logp_old, x.adv.narrow(0, s, c), clip);
  if (is_weight.defined()) pg.loss = pg.loss * is_weight;  // off-policy correction
  torch::Tensor kl;
  if (!p.ref.is_empty())
    kl = algo::kl_penalty(logp, x.logp_ref.narrow(0, s, c), algo::parse_kl_estimator(a.kl_estimator));
  auto tok = algo::token_loss(pg.loss, coefs.kl > 0 ? kl : torch::Tensor(),
                              a.entropy_coef > 0 ? ent : torch::Tensor(), coefs);
  algo::aggregate_loss(tok, m, agg, counts).backward();
  if (p.zero != nullptr) {
    p.zero->accumulate_grads();
  } else if (p.masters != nullptr) {
    p.masters->accumulate_grads();
  }
  return algo::loss_stat_sums(pg, kl.defined() ? kl.detach() : kl, ent.detach(), m);
}

// Minibatch loop: zero grads, micro-batches, clip, LR, step, masters -> compute. Returns the last grad norm;
// adds the forward passes' rows x columns to `cells`.
double optimize(const Config& cfg, PolicyState& p, Prepared& x, torch::Tensor& stats, PhaseTimes& times,
                int64_t& cells) {
  const auto& a = cfg.algo;
  double grad_norm = 0;
  const int64_t per_mb = (x.n + a.minibatches - 1) / a.minibatches;
  const int64_t total_opt = cfg.trainer.steps * a.minibatches * a.epochs;
  const auto params = p.trainable();
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    for_chunks(0, x.n, per_mb, [&](int64_t mb, int64_t mb_rows) {
      if (p.zero != nullptr) {
        p.zero->zero_grad();
      } else {
        p.opt->zero_grad();
      }
      algo::LossCounts counts = algo::count_loss_terms(x.rmask.narrow(0, mb, mb_rows));
      std::vector<double> global{counts.tokens, counts.sequences};
      sum_over_ranks(p, global);  // the normalizers of the global minibatch
      counts.tokens = global[0], counts.sequences = global[1];
      for_micro_batches(x, mb, mb + mb_rows, [&](int64_t s, int64_t c) {
        // Gradient accumulation: only the last micro-batch's backward reduces (its hooks see the final sums).
        if (p.overlap != nullptr && data_parallel(p) && s + c == mb + mb_rows) p.overlap->arm();
        stats += micro_step(cfg, p, x, s, c, counts, cells);
      });
      const double clip_to =
          cfg.optim.grad_clip > 0 ? cfg.optim.grad_clip : std::numeric_limits<double>::infinity();
      const double lr = lr_at(lr_schedule(cfg.optim, total_opt), p.opt_steps);
      if (p.zero != nullptr) {
        std::optional<ScopedTimer> t;  // one process: no "grad_sync" phase, as with dist.zero = 0
        if (data_parallel(p)) t.emplace(times, "grad_sync");
        grad_norm = p.zero->step(lr, clip_to);
        ++p.opt_steps;
        return;
      }
      if (data_parallel(p) && p.overlap != nullptr) {
        ScopedTimer t(times, "grad_sync");  // what is left after backward: the last buckets' reduce
        p.overlap->finish();
      } else if (data_parallel(p)) {
        ScopedTimer t(times, "grad_sync");
        std::vector<torch::Tensor> grads;
        for (const auto& q : params) grads.push_back(q.grad());
        dist::all_reduce_buckets(*p.comm, grads,
                                 p.bucket_bytes);  // each rank's share sums to the global grad
      }
      grad_norm = torch::nn::utils::clip_grad_norm_(params, clip_to);
      for (auto& group : p.opt->param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      p.opt->step();
      if (p.masters != nullptr) p.masters->push();
      ++p.opt_steps;
    });
  }
  return grad_norm;
}

// The training layout of `b` on `device`, with overlong-masked rows zeroed and the micro-batch row count.
Prepared prepare(const Config& cfg, const UpdateBatch& b, int64_t pad, const torch::Device& device) {
  Prepared x;
  x.n = static_cast<int64_t>(b.responses.size());
  Layout lay = make_layout(b.prompt_ids, b.responses, pad);
  x.T = lay.ids.size(1);
  x.ids = lay.ids.to(device), x.attn = lay.attention_mask.to(device), x.rmask = lay.response_mask.to(device);
  x.targets = lay.targets.to(device), x.predict_at = lay.predict_at.to(device);
  if (cfg.algo.overlong == "mask") {
    for (int64_t i = 0; i < x.n; ++i) {
      if (b.truncated[static_cast<size_t>(i)]) x.rmask[i].zero_();
    }
  }
  x.micro_rows = std::max<int64_t>(1, cfg.algo.micro_batch_tokens / x.T);
  x.pack = cfg.algo.pack_sequences;
  for (int64_t i = 0; i < x.n; ++i) {
    x.prompt_len.push_back(static_cast<int64_t>(b.prompt_ids[static_cast<size_t>(i)].size()));
    x.response_len.push_back(static_cast<int64_t>(b.responses[static_cast<size_t>(i)].size()));
  }
  x.temp = cfg.rollout.temperature > 0 ? cfg.rollout.temperature : 1.0;
  set_live_positions(x, x.targets.size(1));
  return x;
}

}  // namespace

int64_t real_tokens(const UpdateBatch& b) {
  int64_t n = 0;
  for (size_t i = 0; i < b.responses.size(); ++i) {
    n += static_cast<int64_t>(b.prompt_ids[i].size() + b.responses[i].size());
  }
  return n;
}

torch::Tensor recompute_old_logprobs(const Config& cfg, model::CausalLM& lm, const UpdateBatch& b,
                                     int64_t pad) {
  Prepared x = prepare(cfg, b, pad, lm->device());
  x.logp_old = torch::zeros_like(x.rmask);
  if (x.n > 0) chunked_logprobs(lm, x, x.logp_old);
  return x.logp_old;
}

Json policy_update(const Config& cfg, PolicyState& p, const UpdateBatch& b, int64_t pad, PhaseTimes& times) {
  Json out{{"update_tokens", 0}, {"update_tokens_padded", 0}};
  if (b.responses.empty()) return out;  // dynamic sampling kept nothing: no update this step
  const torch::Device device = p.lm->device();
  Prepared x = prepare(cfg, b, pad, device);
  {
    ScopedTimer t(times, "old_logprobs");
    old_logprobs(cfg, p, b, x);
    if (device.is_cuda()) torch::cuda::synchronize();  // honest phase times (kernels run asynchronously)
  }
  {
    ScopedTimer t(times, "advantages");
    advantages(cfg, p, b, x);
    if (device.is_cuda()) torch::cuda::synchronize();
  }
  if (x.is_keep.defined()) x.rmask = x.is_keep;  // algo.off_policy_correction = mask: dropped tokens leave
  ScopedTimer t(times, "update");
  torch::Tensor stats = torch::zeros({algo::kLossStatCount}, torch::dtype(torch::kFloat64).device(device));
  int64_t cells = 0;  // rows x columns the update's forward passes computed, over every epoch
  const double grad_norm = optimize(cfg, p, x, stats, times, cells);
  if (data_parallel(p)) {
    stats = stats.to(p.comm->device()).contiguous();
    p.comm->all_reduce(stats);  // sums over every rank's tokens
  }
  const algo::LossStats st = algo::read_loss_stats(stats);
  if (!p.ref.is_empty()) out["kl"] = st.kl;  // no reference model: KL is not measured, not 0
  out["entropy"] = st.entropy, out["clip_frac"] = st.clip_frac, out["pg_loss"] = st.pg_loss;
  out["grad_norm"] = grad_norm;
  std::vector<double> tokens{static_cast<double>(real_tokens(b)), static_cast<double>(cells)};
  sum_over_ranks(p, tokens);
  out["update_tokens"] = static_cast<int64_t>(tokens[0]);
  out["update_tokens_padded"] = static_cast<int64_t>(tokens[1]);
  if (const double diff = rollout_logprob_diff(p, x); diff >= 0) out["rollout_logprob_diff"] = diff;
  add_off_policy_metrics(cfg, p, x, out);
  return out;
}

}  // namespace zerorl::trainer
