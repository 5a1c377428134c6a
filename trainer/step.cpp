// trainer/step.cpp: the GRPO step as named, timed phases, and the trainer's checkpoint state.
// Phases: sample_prompts -> rollout -> reward -> advantages/old_logprobs -> update (micro-batches, clip,
// AdamW) -> metrics -> checkpoint when due. Not here: folder mechanics (checkpoint.cpp), sinks (metrics.cpp).
#include "trainer/step.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "core/strings.h"
#include "trainer/checkpoint.h"
#include "trainer/grpo.h"
#include "trainer/memory_plan.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

double lr_at(const OptimSection& o, int64_t s, int64_t total) {
  if (o.warmup_steps > 0 && s < o.warmup_steps)
    return o.lr * static_cast<double>(s + 1) / static_cast<double>(o.warmup_steps);
  if (o.schedule == "constant" || total <= o.warmup_steps) return o.lr;
  const double progress =
      static_cast<double>(s - o.warmup_steps) / static_cast<double>(total - o.warmup_steps);
  return o.lr * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

// The groups that go into one update: P' prompts x G answers, flattened row-major (prompt, then sample).
struct Trainer::Groups {
  std::vector<Row> rows;
  std::vector<std::vector<int64_t>> prompt_ids, responses;
  std::vector<bool> truncated;
  std::vector<Scored> scores;
  // Over everything sampled this step (dropped groups included): the honest picture of the policy.
  double reward_sum = 0, acc_sum = 0, fmt_sum = 0, len_sum = 0, len_max = 0, trunc_sum = 0, count = 0;
  int64_t generated_tokens = 0, sampled_groups = 0;
};

namespace {
torch::Device pick_device(const std::string& want) {
  if (want == "cuda" || (want == "auto" && torch::cuda::is_available())) {
    ZRL_CHECK(torch::cuda::is_available(), "run.device = cuda but no CUDA device is visible");
    return torch::Device(torch::kCUDA, 0);
  }
  return torch::Device(torch::kCPU);
}

// Training layout: prompts left-padded to Tp, responses (+ EOS when finished) right-padded to Tr.
struct Layout {
  torch::Tensor ids, attention_mask, response_mask;
  int64_t prompt_len = 0;
};
Layout make_layout(const std::vector<std::vector<int64_t>>& prompts,
                   const std::vector<std::vector<int64_t>>& responses, const std::vector<bool>& truncated,
                   int64_t eos) {
  const auto n = static_cast<int64_t>(prompts.size());
  int64_t tp = 1, tr = 1;
  for (int64_t i = 0; i < n; ++i) {
    tp = std::max<int64_t>(tp, static_cast<int64_t>(prompts[static_cast<size_t>(i)].size()));
    tr = std::max<int64_t>(tr, static_cast<int64_t>(responses[static_cast<size_t>(i)].size()) +
                                   (truncated[static_cast<size_t>(i)] ? 0 : 1));
  }
  auto ids = torch::full({n, tp + tr}, eos, torch::kInt64);
  auto mask = torch::zeros({n, tp + tr}, torch::kInt64);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = prompts[static_cast<size_t>(i)];
    std::vector<int64_t> r = responses[static_cast<size_t>(i)];
    if (!truncated[static_cast<size_t>(i)]) r.push_back(eos);
    const int64_t off = tp - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j)
      ia[i][off + static_cast<int64_t>(j)] = p[j], ma[i][off + static_cast<int64_t>(j)] = 1;
    for (size_t j = 0; j < r.size(); ++j)
      ia[i][tp + static_cast<int64_t>(j)] = r[j], ma[i][tp + static_cast<int64_t>(j)] = 1;
  }
  return {ids, mask, mask.narrow(1, tp, tr).to(torch::kFloat32), tp};
}

// Runs fn(begin, count) over [0, n) in chunks of `chunk` rows.
template <class F>
void for_chunks(int64_t begin, int64_t end, int64_t chunk, F&& fn) {
  for (int64_t b = begin; b < end; b += chunk) fn(b, std::min(chunk, end - b));
}

double per_s(double amount, double seconds) { return seconds > 0 ? amount / seconds : 0.0; }
}  // namespace

Trainer::Trainer(const Config& cfg, const dist::Context& ctx)
    : cfg_(cfg), ctx_(ctx), device_(pick_device(cfg.run.device)) {
  ZRL_CHECK(ctx.world_size == 1, "{} launched {} processes; the trainer runs world size 1 for now",
            ctx.launcher, ctx.world_size);
  ZRL_CHECK(cfg.model.path.empty(),
            "model.path = '{}': loading Hugging Face checkpoints needs model/ (not merged "
            "into the trainer yet); leave model.path empty for the tiny random model",
            cfg.model.path);
  ZRL_CHECK(cfg.data.train_path.empty(),
            "data.train_path = '{}': text datasets need tokenizer/ and the verifier "
            "registry (not merged yet); leave it empty for the built-in toy task",
            cfg.data.train_path);
  rows_ = toy_addition_rows(cfg.data.toy_size, cfg.data.toy_max_operand, static_cast<uint64_t>(cfg.run.seed));
  sampler_ = std::make_unique<EpochSampler>(static_cast<int64_t>(rows_.size()),
                                            static_cast<uint64_t>(cfg.run.seed), cfg.data.shuffle);
  TinyQwen2Config mc;
  mc.vocab = ToyTokenizer::kVocab;
  mc.hidden = cfg.model.tiny_hidden_size;
  mc.layers = cfg.model.tiny_layers;
  mc.heads = cfg.model.tiny_heads;
  mc.kv_heads = std::max<int64_t>(1, cfg.model.tiny_heads / 2);
  mc.intermediate = 2 * cfg.model.tiny_hidden_size;
  model_ = make_tiny_qwen2(mc, mix_seed({static_cast<uint64_t>(cfg.run.seed), 0x696e6974ULL}), device_);
  if (cfg.algo.kl_coef > 0) ref_ = model_->clone();
  torch::optim::AdamWOptions o(cfg.optim.lr);
  o.betas({cfg.optim.beta1, cfg.optim.beta2}).eps(cfg.optim.eps).weight_decay(cfg.optim.weight_decay);
  opt_ = std::make_unique<torch::optim::AdamW>(model_->parameters(), o);
  if (cfg.trainer.memory_check) {
    MemoryInputs mi;
    for (auto& p : model_->parameters()) mi.params += p.numel();
    mi.layers = mc.layers, mi.hidden = mc.hidden, mi.intermediate = mc.intermediate, mi.vocab = mc.vocab;
    mi.kv_dim = mc.kv_heads * (mc.hidden / mc.heads);
    mi.micro_batch_tokens = cfg.algo.micro_batch_tokens;
    mi.rollout_seqs = cfg.rollout.prompts_per_step * cfg.rollout.group_size;
    mi.seq_len = 8 + cfg.rollout.max_new_tokens;
    mi.bf16_compute = device_.is_cuda();
    mi.gradient_checkpointing = cfg.model.gradient_checkpointing;
    mi.reference_model = ref_ != nullptr;
    mi.device_bytes = device_.is_cuda() ? 0.0 : host_memory_bytes();  // CUDA: needs model/'s device query
    const MemoryPlan plan = plan_memory(mi);
    ZRL_CHECK(plan.fits, "memory plan: {:.2f} GiB needed, {:.2f} GiB on the device: {}",
              plan.total / 1073741824.0, plan.device / 1073741824.0, plan.recommendation);
  }
}

Trainer::~Trainer() = default;

std::vector<int64_t> Trainer::encode_prompt(const Row& row) const { return toy_tok_.encode(row.prompt); }

Scored Trainer::score(const Row& row, const std::vector<int64_t>& response, bool truncated) const {
  Scored s;
  s.response = toy_tok_.decode(response);
  s.accuracy = trim(s.response) == row.answer ? 1.0 : 0.0;
  bool digits = !s.response.empty();
  for (char c : s.response) digits = digits && c >= '0' && c <= '9';
  s.format = (digits && !truncated) ? 1.0 : 0.0;
  const auto& r = cfg_.rewards;
  const auto len = static_cast<double>(response.size()),
             max_new = static_cast<double>(cfg_.rollout.max_new_tokens);
  s.reward = r.accuracy_weight * s.accuracy + r.format_weight * s.format - r.length_weight * len / max_new;
  const auto& a = cfg_.algo;
  if (a.overlong == "soft" &&
      a.overlong_buffer > 0) {  // DAPO eq. 13: linear penalty over the last buffer tokens
    const double start = max_new - static_cast<double>(a.overlong_buffer);
    if (len > start)
      s.reward -= a.overlong_penalty * std::min(1.0, (len - start) / static_cast<double>(a.overlong_buffer));
  }
  return s;
}

Trainer::Groups Trainer::rollout_groups(PhaseTimes& times) {
  const auto& ro = cfg_.rollout;
  const int64_t P = ro.prompts_per_step, G = ro.group_size;
  const int64_t rounds = ro.dynamic_sampling ? 1 + ro.max_resample_rounds : 1;
  const auto seed = static_cast<uint64_t>(cfg_.run.seed), step = static_cast<uint64_t>(step_ + 1);
  Groups g;
  for (int64_t round = 0; round < rounds && static_cast<int64_t>(g.rows.size()) < P; ++round) {
    std::vector<Row> rows;
    SampleRequest req;
    {
      ScopedTimer t(times, "sample_prompts");
      for (int64_t idx : sampler_->next(P)) rows.push_back(rows_[static_cast<size_t>(idx)]);
      for (const auto& row : rows) {
        const auto ids = encode_prompt(row);
        for (int64_t j = 0; j < G; ++j) {
          req.prompts.push_back(ids);
          req.row_seeds.push_back(mix_seed({seed, step, static_cast<uint64_t>(round),
                                            static_cast<uint64_t>(row.index), static_cast<uint64_t>(j)}));
        }
      }
      req.max_new_tokens = ro.max_new_tokens;
      req.temperature = ro.temperature;
      req.eos_id = req.pad_id = ToyTokenizer::kEos;
    }
    RolloutBatch batch;
    {
      ScopedTimer t(times, "rollout");
      batch = sample_batch(*model_, req);  // STOPGAP until rollout::Engine
    }
    ScopedTimer t(times, "reward");
    for (size_t p = 0; p < rows.size(); ++p) {
      std::vector<Scored> sc;
      bool all_equal = true;
      for (int64_t j = 0; j < G; ++j) {
        const size_t i = p * static_cast<size_t>(G) + static_cast<size_t>(j);
        sc.push_back(score(rows[p], batch.responses[i], batch.truncated[i]));
        const auto len = static_cast<double>(batch.responses[i].size());
        g.reward_sum += sc.back().reward, g.acc_sum += sc.back().accuracy, g.fmt_sum += sc.back().format;
        g.len_sum += len, g.len_max = std::max(g.len_max, len), g.trunc_sum += batch.truncated[i] ? 1 : 0,
                          g.count += 1;
        g.generated_tokens += static_cast<int64_t>(batch.responses[i].size()) + (batch.truncated[i] ? 0 : 1);
        all_equal = all_equal && sc.back().reward == sc.front().reward;
      }
      ++g.sampled_groups;
      if ((ro.dynamic_sampling && all_equal) || static_cast<int64_t>(g.rows.size()) == P) continue;
      g.rows.push_back(rows[p]);
      for (int64_t j = 0; j < G; ++j) {
        const size_t i = p * static_cast<size_t>(G) + static_cast<size_t>(j);
        g.prompt_ids.push_back(req.prompts[i]);
        g.responses.push_back(batch.responses[i]);
        g.truncated.push_back(batch.truncated[i]);
        g.scores.push_back(sc[static_cast<size_t>(j)]);
      }
    }
  }
  return g;
}

Json Trainer::update(const Groups& g, PhaseTimes& times) {
  const auto& a = cfg_.algo;
  const int64_t G = cfg_.rollout.group_size, n = static_cast<int64_t>(g.responses.size());
  Json out{{"kl", 0.0}, {"entropy", 0.0}, {"clip_frac", 0.0}, {"grad_norm", 0.0}, {"update_tokens", 0}};
  if (n == 0) return out;  // dynamic sampling kept nothing: no update this step
  Layout lay = make_layout(g.prompt_ids, g.responses, g.truncated, ToyTokenizer::kEos);
  const int64_t T = lay.ids.size(1), Tr = T - lay.prompt_len;
  auto ids = lay.ids.to(device_), attn = lay.attention_mask.to(device_),
       rmask = lay.response_mask.to(device_);
  if (a.overlong == "mask") {
    for (int64_t i = 0; i < n; ++i) {
      if (g.truncated[static_cast<size_t>(i)]) rmask[i].zero_();
    }
  }
  const int64_t micro_rows = std::max<int64_t>(1, a.micro_batch_tokens / T);
  const double temp = cfg_.rollout.temperature;
  torch::Tensor logp_old = torch::zeros({n, Tr}, rmask.options()), logp_ref = torch::zeros_like(logp_old);
  {
    ScopedTimer t(times, "old_logprobs");
    torch::NoGradGuard ng;
    for_chunks(0, n, micro_rows, [&](int64_t b, int64_t c) {
      logp_old.narrow(0, b, c).copy_(
          response_logprobs(*model_, ids.narrow(0, b, c), attn.narrow(0, b, c), lay.prompt_len, temp));
      if (ref_)
        logp_ref.narrow(0, b, c).copy_(
            response_logprobs(*ref_, ids.narrow(0, b, c), attn.narrow(0, b, c), lay.prompt_len, temp));
    });
  }
  torch::Tensor adv;
  {
    ScopedTimer t(times, "advantages");
    std::vector<float> r;
    for (const auto& s : g.scores) r.push_back(static_cast<float>(s.reward));
    auto rewards = torch::tensor(r).view({n / G, G}).to(device_);
    if (ref_ && a.kl_in == "reward") {  // KL as a per-sequence reward penalty (InstructGPT style)
      auto kl_seq = (grpo::kl_estimate(logp_old, logp_ref, a.kl_estimator) * rmask).sum(1).view({n / G, G});
      rewards = rewards - a.kl_coef * kl_seq;
    }
    adv = grpo::group_advantages(rewards, a.advantage).reshape({n});
    if (a.whiten_batch && n > 1) adv = (adv - adv.mean()) / (adv.std() + 1e-6);
  }
  ScopedTimer t(times, "update");
  double kl_sum = 0, ent_sum = 0, clip_sum = 0, tok_sum = 0, grad_norm = 0;
  const int64_t per_mb = (n + a.minibatches - 1) / a.minibatches;
  const int64_t total_opt = cfg_.trainer.steps * a.minibatches * a.epochs;
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    for_chunks(0, n, per_mb, [&](int64_t mb, int64_t mb_rows) {
      opt_->zero_grad();
      const double global_tokens = std::max(1.0, rmask.narrow(0, mb, mb_rows).sum().item<double>());
      for_chunks(mb, mb + mb_rows, micro_rows, [&](int64_t b, int64_t c) {
        torch::Tensor ent, clipped;
        auto m = rmask.narrow(0, b, c);
        auto logp =
            response_logprobs(*model_, ids.narrow(0, b, c), attn.narrow(0, b, c), lay.prompt_len, temp, &ent);
        auto tok = grpo::ppo_clip_loss(logp, logp_old.narrow(0, b, c), adv.narrow(0, b, c), a.clip_low,
                                       a.clip_high, a.dual_clip_c, &clipped);
        auto kl = grpo::kl_estimate(logp, logp_ref.narrow(0, b, c), a.kl_estimator);
        if (ref_ && a.kl_in == "loss") tok = tok + a.kl_coef * kl;
        if (a.entropy_coef > 0) tok = tok - a.entropy_coef * ent;
        auto loss = grpo::aggregate(tok, m, a.loss_agg, global_tokens, static_cast<double>(mb_rows),
                                    static_cast<double>(cfg_.rollout.max_new_tokens));
        loss.backward();
        torch::NoGradGuard ng;
        if (ref_) kl_sum += (kl * m).sum().item<double>();
        ent_sum += (ent * m).sum().item<double>(), clip_sum += (clipped * m).sum().item<double>();
        tok_sum += m.sum().item<double>();
      });
      const double clip = cfg_.optim.grad_clip > 0 ? cfg_.optim.grad_clip : inf;
      grad_norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), clip);
      const double lr = lr_at(cfg_.optim, opt_steps_, total_opt);
      for (auto& group : opt_->param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      opt_->step();
      ++opt_steps_;
    });
  }
  out["kl"] = kl_sum / std::max(1.0, tok_sum);
  out["entropy"] = ent_sum / std::max(1.0, tok_sum);
  out["clip_frac"] = clip_sum / std::max(1.0, tok_sum);
  out["grad_norm"] = grad_norm;
  out["update_tokens"] = static_cast<int64_t>(n * T * a.epochs);
  return out;
}

Json Trainer::step() {
  PhaseTimes times;
  Stopwatch wall;
  Groups g = rollout_groups(times);
  Json upd = update(g, times);
  ++step_;
  if (ref_ && cfg_.algo.ref_reset_every > 0 && step_ % cfg_.algo.ref_reset_every == 0) ref_ = model_->clone();
  const double c = std::max(1.0, g.count);
  const int64_t total_opt = cfg_.trainer.steps * cfg_.algo.minibatches * cfg_.algo.epochs;
  Json row{{"step", step_},
           {"reward_mean", g.reward_sum / c},
           {"accuracy", g.acc_sum / c},
           {"format_rate", g.fmt_sum / c},
           {"response_len_mean", g.len_sum / c},
           {"response_len_max", g.len_max},
           {"truncated_frac", g.trunc_sum / c},
           {"kl", upd["kl"]},
           {"entropy", upd["entropy"]},
           {"clip_frac", upd["clip_frac"]},
           {"grad_norm", upd["grad_norm"]},
           {"lr", lr_at(cfg_.optim, std::max<int64_t>(0, opt_steps_ - 1), total_opt)},
           {"groups_kept", static_cast<int64_t>(g.rows.size())},
           {"groups_sampled", g.sampled_groups},
           {"epoch", sampler_->epoch()}};
  times["total"] = wall.seconds();
  for (const auto& [phase, s] : times) row["time/" + phase] = s;
  row["tokens_per_s/rollout"] = per_s(static_cast<double>(g.generated_tokens), times["rollout"]);
  row["tokens_per_s/update"] = per_s(upd["update_tokens"].get<double>(), times["update"]);
  row["tokens_per_s/total"] = per_s(static_cast<double>(g.generated_tokens), times["total"]);
  sink_->log_step(row);
  const int64_t k = cfg_.trainer.sample_every;
  if (k > 0 && step_ % k == 0) {
    Json samples = Json::array();
    for (size_t i = 0; i < g.scores.size() && i < 16; ++i) {
      const Row& r = g.rows[i / static_cast<size_t>(cfg_.rollout.group_size)];
      samples.push_back({{"step", step_},
                         {"prompt", r.prompt},
                         {"answer", r.answer},
                         {"response", g.scores[i].response},
                         {"reward", g.scores[i].reward},
                         {"accuracy", g.scores[i].accuracy},
                         {"truncated", g.truncated[i]}});
    }
    sink_->log_samples(samples);
  }
  return row;
}

void Trainer::save_checkpoint() {
  Stopwatch w;
  const std::string out = cfg_.run.output_dir;
  const std::string tmp = begin_checkpoint(out, step_);
  model_->save(tmp);  // Hugging Face layout at the checkpoint's root
  const std::string st = tmp + "/trainer_state";
  fs::create_directories(st);
  torch::serialize::OutputArchive ar;
  opt_->save(ar);
  ar.save_to(st + "/optimizer.pt");
  if (ref_) {
    fs::create_directories(st + "/reference");
    ref_->save(st + "/reference");
  }
  // RNG: every stream is derived from mix_seed(run.seed, step, round, prompt, sample) or the sampler state,
  // so (seed, step, sampler) is the complete random state; nothing reads torch's global generator.
  const Json state{
      {"step", step_},
      {"optimizer_steps", opt_steps_},
      {"sampler", sampler_->state()},
      {"rng", {{"seed", cfg_.run.seed}, {"derivation", "mix_seed(seed, step, round, prompt, sample)"}}},
      {"world_size", ctx_.world_size}};
  write_file_atomic(st + "/state.json", state.dump(2));
  write_file_atomic(st + "/config.yaml", config::to_yaml(cfg_));
  const std::string final_dir = commit_checkpoint(tmp, out, step_);
  prune_checkpoints(out, cfg_.trainer.keep_last);
  ZRL_INFO("checkpoint {} ({:.2f} s)", final_dir, w.seconds());
}

void Trainer::load_checkpoint(const std::string& dir) {
  const std::string problem = verify_checkpoint(dir);
  ZRL_CHECK(problem.empty(), "checkpoint '{}' is corrupted or incomplete: {}", dir, problem);
  model_->load(dir);
  const std::string st = dir + "/trainer_state";
  torch::serialize::InputArchive ar;
  ar.load_from(st + "/optimizer.pt");
  opt_->load(ar);
  if (ref_ && fs::exists(st + "/reference/model.safetensors")) ref_->load(st + "/reference");
  const Json state = read_json(st + "/state.json");
  step_ = state.at("step").get<int64_t>();
  opt_steps_ = state.at("optimizer_steps").get<int64_t>();
  sampler_->load_state(state.at("sampler"));
  Config saved;
  config::load_yaml_file(saved, st + "/config.yaml");
  saved.trainer.steps = cfg_.trainer.steps;  // extending a run is the point of resuming
  if (config::to_yaml(saved, false) != config::to_yaml(cfg_, false)) {
    ZRL_WARN("resuming {} with a config that differs from the one it was saved with ({}/config.yaml)", dir,
             st);
  }
  ZRL_INFO("resumed from {} (step {})", dir, step_);
}

void Trainer::start(const std::string& resume) {
  const std::string out = cfg_.run.output_dir;
  if (resume == "auto") {
    if (auto ck = latest_valid_checkpoint(out)) load_checkpoint(ck->path);
  } else if (!resume.empty()) {
    load_checkpoint(resume);
  } else {
    ZRL_CHECK(list_checkpoints(out).empty(),
              "run.output_dir '{}' already has checkpoints: pass --resume auto to "
              "continue, or choose another run.output_dir",
              out);
  }
  fs::create_directories(out);
  write_file_atomic(out + "/config.yaml", config::to_yaml(cfg_));
  sink_ = std::make_unique<MetricsSink>(out, cfg_.trainer.tensorboard, step_, cfg_.trainer.steps);
}

void Trainer::run() {
  while (step_ < cfg_.trainer.steps) {
    step();
    const int64_t every = cfg_.trainer.save_every;
    if ((every > 0 && step_ % every == 0) || step_ == cfg_.trainer.steps) save_checkpoint();
  }
  sink_->finish();
}

int run_train(const Config& cfg, const std::string& resume) {
  Trainer t(cfg, dist::discover());
  t.start(resume);
  t.run();
  return 0;
}

}  // namespace zerorl::trainer
