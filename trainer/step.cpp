// trainer/step.cpp: the GRPO step as named, timed phases, and the trainer's checkpoint state.
// Phases: sample_prompts -> rollout (rollout::Engine) -> reward (verifier pool + rewards/) -> old_logprobs ->
// advantages (algo/) -> update (micro-batches by token budget, algo/ losses, clip, AdamW) -> metrics ->
// checkpoint when due. Not here: folder mechanics (checkpoint.cpp), sinks (metrics.cpp), components.
#include "trainer/step.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "algo/advantages.h"
#include "algo/logits.h"
#include "algo/losses.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "model/checkpoint.h"
#include "rollout/generate.h"
#include "trainer/checkpoint.h"
#include "trainer/eval.h"
#include "trainer/memory_plan.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

double lr_at(const OptimSection& o, int64_t s, int64_t total) {
  if (o.warmup_steps > 0 && s < o.warmup_steps) {
    return o.lr * static_cast<double>(s + 1) / static_cast<double>(o.warmup_steps);
  }
  if (o.schedule == "constant" || total <= o.warmup_steps) return o.lr;
  const double progress =
      static_cast<double>(s - o.warmup_steps) / static_cast<double>(total - o.warmup_steps);
  return o.lr * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

// The groups that go into one update: P' prompts x G answers, flattened prompt-major.
struct Trainer::Groups {
  std::vector<Row> rows;
  std::vector<std::vector<int64_t>> prompt_ids, responses;  // responses include the finishing EOS
  std::vector<bool> truncated;
  std::vector<rewards::Reward> rewards;
  std::vector<std::string> texts;
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

// Training layout: prompts left-padded to Tp, responses right-padded to Tr (the model accepts both).
struct Layout {
  torch::Tensor ids, attention_mask, response_mask;
  int64_t prompt_len = 0;
};
Layout make_layout(const std::vector<std::vector<int64_t>>& prompts,
                   const std::vector<std::vector<int64_t>>& responses, int64_t pad) {
  const auto n = static_cast<int64_t>(prompts.size());
  int64_t tp = 1, tr = 1;
  for (size_t i = 0; i < prompts.size(); ++i) {
    tp = std::max<int64_t>(tp, static_cast<int64_t>(prompts[i].size()));
    tr = std::max<int64_t>(tr, static_cast<int64_t>(responses[i].size()));
  }
  auto ids = torch::full({n, tp + tr}, pad, torch::kInt64);
  auto mask = torch::zeros({n, tp + tr}, torch::kInt64);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& p = prompts[static_cast<size_t>(i)];
    const auto& r = responses[static_cast<size_t>(i)];
    const int64_t off = tp - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j)
      ia[i][off + static_cast<int64_t>(j)] = p[j], ma[i][off + static_cast<int64_t>(j)] = 1;
    for (size_t j = 0; j < r.size(); ++j)
      ia[i][tp + static_cast<int64_t>(j)] = r[j], ma[i][tp + static_cast<int64_t>(j)] = 1;
  }
  return {ids, mask, mask.narrow(1, tp, tr).to(torch::kFloat32), tp};
}

// Logits [B, Tr, V] float32 at the positions that predict the response tokens. The LM head runs on those
// positions only (float32 logits of the prompt positions would be computed and dropped).
torch::Tensor response_logits(model::CausalLM& lm, const torch::Tensor& ids, const torch::Tensor& attn,
                              int64_t tp) {
  return lm->logits(lm->hidden_states(ids, attn).narrow(1, tp - 1, ids.size(1) - tp));
}

// Runs fn(begin, count) over [begin, end) in chunks of `chunk` rows.
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
  rows_ = build_rows(cfg);
  sampler_ = std::make_unique<EpochSampler>(static_cast<int64_t>(rows_.size()),
                                            static_cast<uint64_t>(cfg.run.seed), cfg.data.shuffle);
  tok_ = std::make_unique<tokenizer::Tokenizer>(build_tokenizer(cfg));
  ZRL_CHECK(tok_->eos_id().has_value(),
            "the tokenizer has no eos_token (tokenizer_config.json): answers could "
            "never finish");
  eos_ = *tok_->eos_id();
  lm_ = build_model(cfg, *tok_, device_);
  if (cfg.algo.kl_coef > 0) ref_ = clone_model(lm_);
  rollout::EngineOptions eo;
  if (!cfg.rollout.stop.empty()) eo.detokenizer = rollout::stream_detokenizer(*tok_);
  engine_ = std::make_unique<rollout::Engine>(lm_, eo);
  scorer_ = std::make_unique<Scorer>(cfg);
  torch::optim::AdamWOptions o(cfg.optim.lr);
  o.betas({cfg.optim.beta1, cfg.optim.beta2}).eps(cfg.optim.eps).weight_decay(cfg.optim.weight_decay);
  opt_ = std::make_unique<torch::optim::AdamW>(lm_->parameters(), o);
  if (cfg.trainer.memory_check) check_memory();
}

Trainer::~Trainer() = default;

void Trainer::check_memory() {
  const auto& c = lm_->config();
  MemoryInputs mi;
  for (auto& p : lm_->parameters()) mi.params += p.numel();
  mi.layers = c.num_hidden_layers, mi.hidden = c.hidden_size, mi.intermediate = c.intermediate_size;
  mi.vocab = c.vocab_size, mi.kv_dim = c.num_key_value_heads * c.head_dim;
  mi.micro_batch_tokens = cfg_.algo.micro_batch_tokens;
  mi.rollout_seqs = cfg_.rollout.prompts_per_step * cfg_.rollout.group_size;
  mi.seq_len = cfg_.tokenizer.max_prompt_tokens + cfg_.rollout.max_new_tokens;
  mi.bf16_compute = lm_->dtype() != torch::kFloat32;
  mi.gradient_checkpointing = cfg_.model.gradient_checkpointing;
  mi.reference_model = !ref_.is_empty();
  mi.device_bytes = device_.is_cuda() ? 0.0 : host_memory_bytes();  // CUDA: no device query in this build
  const MemoryPlan plan = plan_memory(mi);
  ZRL_CHECK(plan.fits, "memory plan: {:.2f} GiB needed, {:.2f} GiB on the device: {}",
            plan.total / 1073741824.0, plan.device / 1073741824.0, plan.recommendation);
}

Trainer::Groups Trainer::rollout_groups(PhaseTimes& times) {
  const auto& ro = cfg_.rollout;
  const int64_t P = ro.prompts_per_step, G = ro.group_size;
  const int64_t rounds = ro.dynamic_sampling ? 1 + ro.max_resample_rounds : 1;
  Groups g;
  for (int64_t round = 0; round < rounds && static_cast<int64_t>(g.rows.size()) < P; ++round) {
    std::vector<Row> rows;
    std::vector<std::vector<int64_t>> prompts;
    rollout::GenerateConfig gc;
    {
      ScopedTimer t(times, "sample_prompts");
      for (int64_t idx : sampler_->next(P)) rows.push_back(rows_[static_cast<size_t>(idx)]);
      for (const auto& row : rows) {
        prompts.push_back(encode_prompt(cfg_, *tok_, row));
        gc.prompt_keys.push_back(static_cast<uint64_t>(row.index));
      }
      gc.sampler = {ro.temperature, ro.top_k, ro.top_p, ro.min_p};
      gc.stop.eos_ids = {eos_};
      gc.stop.stop = ro.stop;
      gc.stop.max_new_tokens = ro.max_new_tokens;
      gc.group_size = G;
      gc.seed = mix_seed({static_cast<uint64_t>(cfg_.run.seed), static_cast<uint64_t>(round)});
      gc.step = static_cast<uint64_t>(step_ + 1);
    }
    rollout::RolloutResult res;
    {
      ScopedTimer t(times, "rollout");
      torch::NoGradGuard ng;
      res = engine_->generate(prompts, gc);
    }
    ScopedTimer t(times, "reward");
    std::vector<Scorer::Item> items;
    std::vector<std::string> texts;
    for (const auto& tr : res.samples) {
      std::vector<int32_t> ids(tr.tokens.begin(), tr.tokens.end());
      texts.push_back(tok_->decode(ids, true));
      items.push_back({&rows[static_cast<size_t>(tr.prompt_index)], texts.back(),
                       static_cast<int64_t>(tr.tokens.size()), tr.finish != rollout::FinishReason::kLength});
    }
    const auto rewards = scorer_->score(items);
    for (size_t p = 0; p < rows.size(); ++p) {
      bool all_equal = true;
      for (int64_t j = 0; j < G; ++j) {
        const size_t i = p * static_cast<size_t>(G) + static_cast<size_t>(j);
        const auto& r = rewards[i];
        const auto len = static_cast<double>(items[i].tokens);
        g.reward_sum += r.total, g.acc_sum += r.correct ? 1 : 0, g.fmt_sum += r.format;
        g.len_sum += len, g.len_max = std::max(g.len_max, len), g.count += 1;
        g.trunc_sum += items[i].finished ? 0 : 1;
        g.generated_tokens += items[i].tokens;
        all_equal = all_equal && r.total == rewards[p * static_cast<size_t>(G)].total;
      }
      ++g.sampled_groups;
      if ((ro.dynamic_sampling && all_equal) || static_cast<int64_t>(g.rows.size()) == P) continue;
      g.rows.push_back(rows[p]);
      for (int64_t j = 0; j < G; ++j) {
        const size_t i = p * static_cast<size_t>(G) + static_cast<size_t>(j);
        g.prompt_ids.push_back(prompts[p]);
        g.responses.push_back(res.samples[i].tokens);
        g.truncated.push_back(!items[i].finished);
        g.rewards.push_back(rewards[i]);
        g.texts.push_back(texts[i]);
      }
    }
  }
  return g;
}

Json Trainer::update(const Groups& g, PhaseTimes& times) {
  const auto& a = cfg_.algo;
  const int64_t G = cfg_.rollout.group_size, n = static_cast<int64_t>(g.responses.size());
  Json out{{"kl", 0.0},        {"entropy", 0.0}, {"clip_frac", 0.0},
           {"grad_norm", 0.0}, {"pg_loss", 0.0}, {"update_tokens", 0}};
  if (n == 0) return out;  // dynamic sampling kept nothing: no update this step
  Layout lay = make_layout(g.prompt_ids, g.responses, eos_);
  const int64_t T = lay.ids.size(1), tp = lay.prompt_len;
  auto ids = lay.ids.to(device_), attn = lay.attention_mask.to(device_),
       rmask = lay.response_mask.to(device_);
  if (a.overlong == "mask") {
    for (int64_t i = 0; i < n; ++i) {
      if (g.truncated[static_cast<size_t>(i)]) rmask[i].zero_();
    }
  }
  auto targets = ids.narrow(1, tp, T - tp);
  const int64_t micro_rows = std::max<int64_t>(1, a.micro_batch_tokens / T);
  const double temp = cfg_.rollout.temperature > 0 ? cfg_.rollout.temperature : 1.0;
  torch::Tensor logp_old = torch::zeros_like(rmask), logp_ref;
  {
    ScopedTimer t(times, "old_logprobs");
    torch::NoGradGuard ng;
    if (!ref_.is_empty()) logp_ref = torch::zeros_like(rmask);
    for_chunks(0, n, micro_rows, [&](int64_t b, int64_t c) {
      auto i = ids.narrow(0, b, c), m = attn.narrow(0, b, c), y = targets.narrow(0, b, c);
      logp_old.narrow(0, b, c).copy_(algo::token_logprobs(response_logits(lm_, i, m, tp), y, temp));
      if (!ref_.is_empty())
        logp_ref.narrow(0, b, c).copy_(algo::token_logprobs(response_logits(ref_, i, m, tp), y, temp));
    });
  }
  const auto kl_kind = algo::parse_kl_estimator(a.kl_estimator);
  torch::Tensor adv;
  {
    ScopedTimer t(times, "advantages");
    std::vector<double> r;
    for (const auto& x : g.rewards) r.push_back(x.total);
    auto rewards = torch::tensor(r, torch::kFloat32).to(device_);
    if (!ref_.is_empty() && a.kl_in == "reward") {
      rewards = algo::kl_penalized_rewards(rewards, algo::kl_penalty(logp_old, logp_ref, kl_kind), rmask,
                                           a.kl_coef);
    }
    algo::AdvantageOptions ao;
    ao.estimator = algo::parse_advantage_estimator(a.advantage);
    adv = algo::group_advantages(rewards.view({n / G, G}), ao).reshape({n});
    if (a.whiten_batch && n > 1) adv = algo::whiten(adv);
  }
  ScopedTimer t(times, "update");
  algo::ClipOptions clip{a.clip_low, a.clip_high, a.dual_clip_c};
  algo::LossCoefficients coefs{a.kl_in == "loss" ? a.kl_coef : 0.0, a.entropy_coef};
  algo::AggregationOptions agg{algo::parse_loss_aggregation(a.loss_agg),
                               static_cast<double>(cfg_.rollout.max_new_tokens)};
  torch::Tensor stats = torch::zeros({algo::kLossStatCount}, torch::dtype(torch::kFloat64).device(device_));
  double grad_norm = 0;
  const int64_t per_mb = (n + a.minibatches - 1) / a.minibatches;
  const int64_t total_opt = cfg_.trainer.steps * a.minibatches * a.epochs;
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    for_chunks(0, n, per_mb, [&](int64_t mb, int64_t mb_rows) {
      opt_->zero_grad();
      const algo::LossCounts counts = algo::count_loss_terms(rmask.narrow(0, mb, mb_rows));
      for_chunks(mb, mb + mb_rows, micro_rows, [&](int64_t b, int64_t c) {
        auto m = rmask.narrow(0, b, c);
        auto logits = response_logits(lm_, ids.narrow(0, b, c), attn.narrow(0, b, c), tp);
        auto logp = algo::token_logprobs(logits, targets.narrow(0, b, c), temp);
        torch::Tensor ent = a.entropy_coef > 0 ? algo::entropy_from_logits(logits, temp)
                                               : algo::entropy_from_logits(logits.detach(), temp);
        auto pg = algo::policy_loss(logp, logp_old.narrow(0, b, c), adv.narrow(0, b, c), clip);
        torch::Tensor kl;
        if (!ref_.is_empty()) kl = algo::kl_penalty(logp, logp_ref.narrow(0, b, c), kl_kind);
        auto tok = algo::token_loss(pg.loss, coefs.kl > 0 ? kl : torch::Tensor(),
                                    a.entropy_coef > 0 ? ent : torch::Tensor(), coefs);
        algo::aggregate_loss(tok, m, agg, counts).backward();
        stats += algo::loss_stat_sums(pg, kl.defined() ? kl.detach() : kl, ent.detach(), m);
      });
      const double clip_to =
          cfg_.optim.grad_clip > 0 ? cfg_.optim.grad_clip : std::numeric_limits<double>::infinity();
      grad_norm = torch::nn::utils::clip_grad_norm_(lm_->parameters(), clip_to);
      const double lr = lr_at(cfg_.optim, opt_steps_, total_opt);
      for (auto& group : opt_->param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      opt_->step();
      ++opt_steps_;
    });
  }
  const algo::LossStats st = algo::read_loss_stats(stats);
  out["kl"] = st.kl, out["entropy"] = st.entropy, out["clip_frac"] = st.clip_frac,
  out["pg_loss"] = st.pg_loss;
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
  if (!ref_.is_empty() && cfg_.algo.ref_reset_every > 0 && step_ % cfg_.algo.ref_reset_every == 0) {
    copy_parameters(ref_, lm_);  // R1-style reference reset
  }
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
           {"pg_loss", upd["pg_loss"]},
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
    for (size_t i = 0; i < g.texts.size() && i < 16; ++i) {
      const Row& r = g.rows[i / static_cast<size_t>(cfg_.rollout.group_size)];
      samples.push_back(Json{{"step", step_},
                             {"prompt", r.prompt},
                             {"answer", r.answer},
                             {"response", g.texts[i]},
                             {"reward", g.rewards[i].total},
                             {"correct", g.rewards[i].correct},
                             {"format", g.rewards[i].format},
                             {"truncated", static_cast<bool>(g.truncated[i])}});
    }
    sink_->log_samples(samples);
  }
  return row;
}

void Trainer::save_checkpoint() {
  Stopwatch w;
  const std::string out = cfg_.run.output_dir;
  const std::string tmp = begin_checkpoint(out, step_);
  model::SaveOptions so;
  if (!cfg_.model.path.empty()) so.generation_config_from = cfg_.model.path;
  model::save_model(lm_, tmp, so);  // Hugging Face layout at the checkpoint's root
  tok_->save(tmp);
  const std::string st = tmp + "/trainer_state";
  fs::create_directories(st);
  torch::serialize::OutputArchive ar;
  opt_->save(ar);
  ar.save_to(st + "/optimizer.pt");
  if (!ref_.is_empty()) model::save_model(ref_, st + "/reference");
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
  {
    auto loaded = model::load_model(dir, lm_->dtype(), lm_->device());
    copy_parameters(lm_, loaded);  // in place: the engine shares lm_
  }
  const std::string st = dir + "/trainer_state";
  torch::serialize::InputArchive ar;
  ar.load_from(st + "/optimizer.pt");
  opt_->load(ar);
  if (!ref_.is_empty() && fs::exists(st + "/reference/config.json")) {
    auto loaded = model::load_model(st + "/reference", ref_->dtype(), ref_->device());
    copy_parameters(ref_, loaded);
  }
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
  std::vector<Row> eval_rows;
  if (cfg_.trainer.eval_every > 0 && !cfg_.data.eval_path.empty()) {
    const auto& d = cfg_.data;
    eval_rows = load_rows(d.eval_path,
                          FieldMapping{d.prompt_key, d.answer_key, d.data_source_key, d.default_data_source});
    if (cfg_.eval.max_questions > 0 && static_cast<int64_t>(eval_rows.size()) > cfg_.eval.max_questions) {
      eval_rows.resize(static_cast<size_t>(cfg_.eval.max_questions));
    }
  }
  while (step_ < cfg_.trainer.steps) {
    step();
    const int64_t every = cfg_.trainer.save_every;
    if ((every > 0 && step_ % every == 0) || step_ == cfg_.trainer.steps) save_checkpoint();
    if (!eval_rows.empty() && step_ % cfg_.trainer.eval_every == 0) {
      const std::string base = cfg_.run.output_dir + "/eval/step_" + std::to_string(step_);
      const Json summary =
          evaluate(cfg_, lm_, *tok_, eval_rows, base + "_samples.jsonl", static_cast<uint64_t>(step_));
      write_file_atomic(base + ".json", summary.dump(2) + "\n");
      ZRL_INFO("eval step {}: {}", step_, summary.dump());
    }
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
