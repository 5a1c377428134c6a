// trainer/step.cpp: the GRPO step as named, timed phases.
// Phases: sample_prompts -> rollout (rollout::Engine) -> reward (verifier pool + rewards/) -> old_logprobs ->
// advantages -> update (these three in update.cpp) -> checkpoint when due (the fp32 masters when computing in
// bf16; step_state.cpp) -> metrics. Not here: checkpoint save/load and weight agreement over ranks
// (step_state.cpp), folder mechanics (checkpoint.cpp), sinks (metrics.cpp), components.
#include "trainer/step.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "algo/fused_adamw.h"
#include "algo/logits.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "dist/grad_sync.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "trainer/checkpoint.h"
#include "trainer/data_parallel.h"
#include "trainer/engine_setup.h"
#include "trainer/eval.h"
#include "trainer/lr_schedule.h"
#include "trainer/memory_plan.h"
#include "trainer/remote_rollout.h"
#include "trainer/report.h"
#include "trainer/zero_state.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

namespace {
double per_s(double amount, double seconds) { return seconds > 0 ? amount / seconds : 0.0; }

// rollout.max_staleness needs workers to overlap with (the colocated engine shares the trainer's thread and
// device); K >= 2 would draw a later step's prompts before this step's resample rounds, which a checkpoint's
// sampler state cannot express.
void check_staleness_settings(const Config& cfg) {
  const int64_t K = cfg.rollout.max_staleness;
  if (K == 0) return;
  ZRL_CHECK(
      cfg.rollout.mode == "workers",
      "rollout.max_staleness = {} needs rollout.mode: workers (the colocated engine cannot generate while "
      "the trainer updates); set rollout.max_staleness: 0",
      K);
  ZRL_CHECK(
      K == 1 || !cfg.rollout.dynamic_sampling,
      "rollout.max_staleness = {} with rollout.dynamic_sampling: resample rounds would draw after later "
      "steps' prompts; use rollout.max_staleness: 1, or dynamic_sampling: false",
      K);
  if (cfg.algo.off_policy_correction == "none") {
    ZRL_INFO(
        "rollout.max_staleness = {}: answers come from weights {} update(s) old; "
        "algo.off_policy_correction: tis corrects for that (now none)",
        K, K);
  }
}
}  // namespace

Trainer::Trainer(const Config& cfg, const dist::Context& ctx)
    : cfg_(cfg), ctx_(ctx), device_(rank_device(cfg.run.device, ctx)) {
  comm_ = make_run_communicator(cfg, ctx, device_);  // world size 1: the local one, no MPI
  check_data_parallel(cfg, *comm_);
  tok_ = std::make_unique<tokenizer::Tokenizer>(build_tokenizer(cfg));
  rows_ = drop_long_prompts(cfg, *tok_, build_rows(cfg),
                            cfg.data.train_path.empty() ? "the built-in toy task" : cfg.data.train_path);
  sampler_ = std::make_unique<EpochSampler>(static_cast<int64_t>(rows_.size()),
                                            static_cast<uint64_t>(cfg.run.seed), cfg.data.shuffle);
  ZRL_CHECK(tok_->eos_id().has_value(),
            "the tokenizer has no eos_token (tokenizer_config.json): answers could "
            "never finish");
  eos_ = *tok_->eos_id();
  lm_ = build_model(cfg, *tok_, device_);
  lm_->set_gradient_checkpointing(cfg.model.gradient_checkpointing);
  const OldLogprobsChoice old_lp = resolve_old_logprobs(cfg, lm_->dtype(), device_.is_cuda());
  if (cfg.algo.old_logprobs == "auto")
    ZRL_INFO("algo.old_logprobs = auto -> {}: {}", old_lp.value, old_lp.why);
  cfg_.algo.old_logprobs = old_lp.value;  // what the update reads (and config.yaml records)
  validate_old_logprobs(cfg_);
  if (cfg.algo.kl_coef > 0) ref_ = clone_model(lm_);
  scorer_ = std::make_unique<Scorer>(cfg);
  torch::optim::AdamWOptions o(cfg.optim.lr);
  o.betas({cfg.optim.beta1, cfg.optim.beta2}).eps(cfg.optim.eps).weight_decay(cfg.optim.weight_decay);
  if (lm_->dtype() == torch::kFloat16) ZRL_WARN("model.dtype = float16 runs without loss scaling");
  if (lm_->dtype() != torch::kFloat32 && cfg.dist.zero == 0) {
    // bf16 compute: AdamW owns fp32 masters (mixed_precision.h); the engine keeps sampling with lm_.
    masters_ = std::make_unique<MasterWeights>(lm_, torch::kFloat32);
    if (stored_as_float32(cfg, lm_)) {  // an fp32 checkpoint (ours): not its bf16 rounding
      auto full = model::load_model(cfg.model.path, torch::kFloat32, device_);
      copy_parameters(masters_->masters(), full);
      masters_->push();
    }
  }
  if (cfg.dist.zero == 0)
    opt_ = std::make_unique<algo::FusedAdamW>(masters_ ? masters_->parameters() : lm_->parameters(), o);
  sync_initial_weights();
  // ZeRO-1: fp32 masters and moments sharded over ranks (trainer/zero_state.h), from the synced weights.
  if (cfg.dist.zero == 1) zero_ = make_sharded_adamw(cfg, *comm_, lm_);
  if (distributed(*comm_) && !zero_) {  // gradient buckets reduced while backward runs (dist/grad_overlap.h)
    overlap_ = std::make_unique<dist::OverlappedGradSync>(
        *comm_, lm_->parameters(), masters_ ? masters_->parameters() : lm_->parameters(),
        static_cast<int64_t>(cfg.dist.bucket_mb * 1048576.0));
  }
  // The KV budget is measured now, with the weights, masters and reference on the device.
  engine_ = std::make_unique<rollout::Engine>(lm_, engine_options(cfg, *tok_, device_));
  if (cfg.trainer.memory_check) check_memory();
  // rollout.mode = workers: rank 0 alone runs the coordinator; the other ranks get their shard of its answers
  // (rollout_share.h). After an update every rank holds the same weights, which rank 0 sends to the workers.
  if (cfg.rollout.mode == "workers" && comm_->rank() == 0) remote_ = std::make_unique<RemoteRollout>(cfg);
  check_staleness_settings(cfg);
  saver_ = std::make_unique<CheckpointSaver>(cfg.run.output_dir, cfg.trainer.keep_last,
                                             checkpoint_delay_from_env());
  if (ctx_.is_main()) {  // the first checkpoint's host copies, allocated (pinned on CUDA) while steps run
    CheckpointContents c;
    c.model = masters_ ? masters_->masters() : lm_;
    c.reference = ref_;
    c.optimizer = opt_.get();
    saver_->reserve(c);
  }
}

Trainer::~Trainer() = default;

// Sums (and maxima) of the step's metrics over ranks: after this, g and the hack metrics describe the
// global batch, as one process would have measured it (up to summation order).
void Trainer::reduce_metrics(Groups& g, Json& hack) {
  if (!distributed(*comm_)) return;
  const double local_count = g.count;
  std::vector<double> sums{g.reward_sum,
                           g.acc_sum,
                           g.fmt_sum,
                           g.len_sum,
                           g.trunc_sum,
                           g.count,
                           g.verifier_fail_sum,
                           static_cast<double>(g.generated_tokens),
                           static_cast<double>(g.sampled_groups),
                           static_cast<double>(g.rows.size())};
  for (const auto& [key, value] : hack.items())  // fractions of this rank's answers -> counts
    sums.push_back(key == "hack/flagged" ? value.get<double>() : value.get<double>() * local_count);
  std::vector<double> maxes{g.len_max};
  reduce_doubles(*comm_, sums, maxes);
  g.reward_sum = sums[0], g.acc_sum = sums[1], g.fmt_sum = sums[2], g.len_sum = sums[3];
  g.trunc_sum = sums[4], g.count = sums[5], g.verifier_fail_sum = sums[6];
  g.generated_tokens = static_cast<int64_t>(sums[7]), g.sampled_groups = static_cast<int64_t>(sums[8]);
  g.groups_kept_global = static_cast<int64_t>(sums[9]);
  g.len_max = maxes[0];
  size_t i = 10;
  for (auto& [key, value] : hack.items()) {
    const double v = sums[i++];
    if (key == "hack/flagged") {
      value = static_cast<int64_t>(v);
    } else {
      value = g.count > 0 ? v / g.count : 0.0;
    }
  }
}

void Trainer::check_memory() {
  const auto& c = lm_->config();
  MemoryInputs mi;
  for (auto& p : lm_->parameters()) mi.params += p.numel();
  mi.layers = c.num_hidden_layers, mi.hidden = c.hidden_size, mi.intermediate = c.intermediate_size;
  mi.vocab = c.vocab_size, mi.kv_heads = c.num_key_value_heads, mi.head_dim = c.head_dim;
  mi.micro_batch_tokens = cfg_.algo.micro_batch_tokens;
  // The engine's cache: prompts are at most tokenizer.max_prompt_tokens (longer ones were dropped at load).
  // With periodic eval the same cache also serves eval's questions x k (all the budget holds when the
  // question count is not capped by eval.max_questions).
  const bool evals = cfg_.trainer.eval_every > 0 && !cfg_.data.eval_path.empty();
  const int64_t eval_new =
      cfg_.eval.max_new_tokens > 0 ? cfg_.eval.max_new_tokens : cfg_.rollout.max_new_tokens;
  mi.kv_budget = engine_->options().kv_budget;
  const int64_t step_seqs = cfg_.rollout.prompts_per_step * cfg_.rollout.group_size;
  const int64_t eval_seqs = cfg_.eval.max_questions > 0 ? cfg_.eval.max_questions * cfg_.eval.k : 0;
  mi.rollout_seqs = !evals ? step_seqs : eval_seqs > 0 ? std::max(step_seqs, eval_seqs) : 0;
  if (mi.rollout_seqs == 0 && !mi.kv_budget.limited()) mi.rollout_seqs = step_seqs;
  mi.seq_len =
      std::min(engine_->context_limit(), cfg_.tokenizer.max_prompt_tokens +
                                             std::max(cfg_.rollout.max_new_tokens, evals ? eval_new : 0));
  mi.bf16_compute = lm_->dtype() != torch::kFloat32;
  mi.gradient_checkpointing = cfg_.model.gradient_checkpointing;
  mi.reference_model = !ref_.is_empty();
  const auto head = lm_->lm_head_weight();  // the update's hidden states have the head's dtype and device
  mi.fused_lm_head = algo::float32_lm_head_fused(torch::empty({0, head.size(1)}, head.options()), head);
  mi.world_size = ctx_.world_size, mi.zero = cfg_.dist.zero;
  mi.device_bytes = host_memory_bytes();
  if (device_.is_cuda()) {
    double held = 0;  // what this process already put on the device: weights, masters, reference
    for (auto& p : lm_->parameters()) held += static_cast<double>(p.nbytes());
    if (masters_) held += 2.0 * held;  // fp32 = 2 x bf16
    if (zero_) held += 4.0 * static_cast<double>(zero_->layout().padded + 3 * zero_->layout().shard);
    if (!ref_.is_empty()) held += static_cast<double>(mi.params) * (mi.bf16_compute ? 2.0 : 4.0);
    const auto mem = cuda_device_memory();
    if (!mem) ZRL_WARN("memory plan: could not query CUDA memory (no CUDA runtime symbols); not checked");
    mi.device_bytes = mem ? device_budget_bytes(*mem, held) : 0.0;
  }
  const MemoryPlan plan = plan_memory_or_checkpoint(mi);
  if (device_.is_cuda()) ZRL_INFO("memory plan: {}", plan.to_json().dump());
  if (plan.checkpointing_turned_on) {
    ZRL_WARN(
        "memory plan: turning on model.gradient_checkpointing (without it {} tokens per micro-batch "
        "do not fit)",
        mi.micro_batch_tokens);
    lm_->set_gradient_checkpointing(true);
  }
  ZRL_CHECK(plan.fits, "memory plan: {:.2f} GiB needed, {:.2f} GiB on the device: {}",
            plan.total / 1073741824.0, plan.device / 1073741824.0, plan.recommendation);
}

Json Trainer::update(const Groups& g, PhaseTimes& times) {
  UpdateBatch b;
  b.prompt_ids = g.prompt_ids, b.responses = g.responses, b.truncated = g.truncated;
  for (const auto& x : g.rewards) b.rewards.push_back(x.total);
  b.logprobs_policy = g.logprobs_policy, b.logprobs_sampling = g.logprobs_sampling;
  PolicyState p{lm_,
                ref_,
                opt_.get(),
                masters_.get(),
                opt_steps_,
                comm_.get(),
                static_cast<int64_t>(cfg_.dist.bucket_mb * 1048576.0),
                zero_.get(),
                overlap_.get()};
  Json out = policy_update(cfg_, p, b, eos_, times);
  opt_steps_ = p.opt_steps;
  return out;
}

Json Trainer::step() { return run_step(false); }

Json Trainer::run_step(bool save) {
  PhaseTimes times;
  Stopwatch wall;
  Groups g = rollout_groups(times);
  prefetch_rollouts(times);  // rollout.max_staleness: later steps' groups generate while this one updates
  Json upd = update(g, times);
  ++step_;
  if (!ref_.is_empty() && cfg_.algo.ref_reset_every > 0 && step_ % cfg_.algo.ref_reset_every == 0) {
    copy_parameters(ref_, lm_);  // R1-style reference reset
  }
  check_weights_agree();
  Json hack = hack_->finish_step(step_);  // hack/*: fractions of answers with hack signs
  reduce_metrics(g, hack);
  const double c = std::max(1.0, g.count);
  const int64_t total_opt = cfg_.trainer.steps * cfg_.algo.minibatches * cfg_.algo.epochs;
  Json row{
      {"step", step_},
      {"reward_mean", g.reward_sum / c},
      {"accuracy", g.acc_sum / c},
      {"format_rate", g.fmt_sum / c},
      {"response_len_mean", g.len_sum / c},
      {"response_len_max", g.len_max},
      {"truncated_frac", g.trunc_sum / c},
      {"verifier_fail_frac", g.verifier_fail_sum / c},
      {"lr", lr_at(lr_schedule(cfg_.optim, total_opt), std::max<int64_t>(0, opt_steps_ - 1))},
      {"groups_kept", g.groups_kept_global >= 0 ? g.groups_kept_global : static_cast<int64_t>(g.rows.size())},
      {"groups_sampled", g.sampled_groups},
      {"epoch", sampler_->epoch()}};
  // Only what the update measured: no kl without a reference model, nothing when no group was kept.
  for (const char* key : {"kl", "entropy", "clip_frac", "grad_norm", "pg_loss", "rollout_logprob_diff"}) {
    if (upd.contains(key)) row[key] = upd[key];
  }
  for (const auto& [key, value] : upd.items()) {  // algo.off_policy_correction's metrics
    if (key.rfind("off_policy/", 0) == 0) row[key] = value;
  }
  for (const auto& [key, value] : hack.items()) row[key] = value;
  if (remote_) {                                  // rank 0's coordinator (the row rank 0 writes)
    const Json remote = remote_->step_metrics();  // named: items() of a temporary would dangle
    for (const auto& [key, value] : remote.items()) row[key] = value;
  }
  if (cfg_.rollout.mode == "workers") row["rollout/staleness"] = g.staleness;
  if (save) times["checkpoint_blocking"] = save_checkpoint_async();
  times["total"] = wall.seconds();
  for (const auto& [phase, s] : times) row["time/" + phase] = s;
  row["tokens_per_s/rollout"] = per_s(static_cast<double>(g.generated_tokens), times["rollout"]);
  // Real prompt + response tokens, once per step; the padded figure counts padding and every epoch.
  row["tokens_per_s/update"] = per_s(upd["update_tokens"].get<double>(), times["update"]);
  row["tokens_per_s/update_padded"] = per_s(upd["update_tokens_padded"].get<double>(), times["update"]);
  row["tokens_per_s/total"] = per_s(static_cast<double>(g.generated_tokens), times["total"]);
  if (!ctx_.is_main()) return row;  // only rank 0 writes and reports
  sink_->log_step(row);
  if (g.verifier_fail_sum > 0) {
    ZRL_WARN(
        "step {}: {} of {} verdicts failed (timeout/error) and scored 0: the verifier failed, not the "
        "answer (see its messages above; metrics: verifier_fail_frac)",
        step_, g.verifier_fail_sum, g.count);
  }
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
                             {"status", g.rewards[i].status},
                             {"truncated", static_cast<bool>(g.truncated[i])}});
    }
    sink_->log_samples(samples);
  }
  return row;
}

void Trainer::start(const std::string& resume) {
  const std::string out = cfg_.run.output_dir;
  if (resume == "auto") {
    if (auto ck = latest_valid_checkpoint(out)) load_checkpoint(ck->path);
  } else if (!resume.empty()) {
    load_checkpoint(resume);
  } else {
    const CheckpointScan scan = scan_checkpoints(out);
    warn_skipped(scan);  // a stray step_* folder is reported, not a reason to refuse a fresh run
    ZRL_CHECK(scan.ours.empty(),
              "run.output_dir '{}' already has checkpoints: pass --resume auto to "
              "continue, or choose another run.output_dir",
              out);
  }
  // Only rank 0 writes: the others keep their hack monitor's flagged answers to themselves (no folder).
  hack_ = std::make_unique<HackMonitor>(ctx_.is_main() ? out : "", cfg_.rewards.hack_monitor, step_);
  if (!ctx_.is_main()) return;
  fs::create_directories(out);
  write_file_atomic(out + "/config.yaml", config::to_yaml(cfg_));
  sink_ = std::make_unique<MetricsSink>(out, cfg_.trainer.tensorboard, step_, cfg_.trainer.steps,
                                        cfg_.trainer.log_every);
}

void Trainer::run() {
  const std::vector<Row> eval_rows = cfg_.trainer.eval_every > 0 && !cfg_.data.eval_path.empty()
                                         ? load_eval_rows(cfg_, *tok_)
                                         : std::vector<Row>{};
  // eval/step_<N>.json, once per step (a resumed run keeps what it has). Data parallel: rank 0 decides (other
  // nodes may not see output_dir), every rank answers its share of the questions (evaluate's comm) and rank 0
  // alone writes. At world size 1 the broadcast is a no-op and evaluate runs as one process.
  auto eval_now = [&] {
    if (eval_rows.empty()) return;
    const std::string base = cfg_.run.output_dir + "/eval/step_" + std::to_string(step_);
    torch::Tensor todo = torch::tensor({ctx_.is_main() && !fs::exists(base + ".json") ? 1 : 0}, torch::kInt64)
                             .to(comm_->device());
    comm_->broadcast(todo, 0);
    if (todo.cpu().item<int64_t>() == 0) return;
    const Json summary = evaluate(cfg_, lm_, *tok_, eval_rows, base + "_samples.jsonl",
                                  static_cast<uint64_t>(step_), engine_.get(), comm_.get());
    if (!ctx_.is_main()) return;
    write_file_atomic(base + ".json", summary.dump(2) + "\n");
    ZRL_INFO("eval step {}: {}", step_, summary.dump());
  };
  // trainer.max_minutes: the seconds of this process's steps (evals not counted); rank 0's clock decides for
  // every rank, so all stop after the same step.
  double step_seconds = 0.0;
  auto out_of_time = [&] {
    if (cfg_.trainer.max_minutes <= 0) return false;
    auto flag = torch::full({1}, step_seconds >= cfg_.trainer.max_minutes * 60.0 ? 1.0 : 0.0,
                            torch::TensorOptions().dtype(torch::kFloat64).device(comm_->device()));
    if (distributed(*comm_)) comm_->broadcast(flag, 0);
    return flag.item<double>() > 0;
  };
  if (step_ == 0) eval_now();  // the base model, before any update
  const int64_t every = cfg_.trainer.save_every;
  while (step_ < cfg_.trainer.steps) {
    if (out_of_time()) {
      ZRL_INFO("trainer.max_minutes = {} reached after step {} ({:.1f} s of steps): saving and stopping",
               cfg_.trainer.max_minutes, step_, step_seconds);
      if (every == 0 || step_ % every != 0) save_checkpoint_async();
      eval_now();  // once per step: nothing when step_ was just evaluated
      break;
    }
    const int64_t next = step_ + 1;
    Stopwatch w;
    run_step((every > 0 && next % every == 0) || next == cfg_.trainer.steps);
    step_seconds += w.seconds();
    if (!eval_rows.empty() && (step_ % cfg_.trainer.eval_every == 0 || step_ == cfg_.trainer.steps))
      eval_now();
  }
  saver_->finish();  // the last checkpoint is on disk (or its error thrown) before the run counts as done
  comm_->barrier();  // a rank lost at the very end is still named, not waited for in MPI_Finalize
  if (!ctx_.is_main()) return;
  sink_->finish();
  if (!eval_rows.empty()) {
    const Json summary = write_run_report(cfg_.run.output_dir, step_);
    std::printf("\nheld-out eval (%s), before and after %lld RL steps:\n%s", cfg_.data.eval_path.c_str(),
                static_cast<long long>(step_), summary_table(summary).c_str());
    std::printf("summary: %s/summary.json\ncurves:  %s\n", cfg_.run.output_dir.c_str(),
                summary["curves"].get<std::string>().c_str());
  }
}

int run_train(const Config& cfg, const std::string& resume) {
  // rollout.mode = workers: the other programs of an MPMD mpirun are this trainer's workers, not its ranks.
  Trainer t(cfg, dist::discover(nullptr, cfg.rollout.mode == "workers"));
  t.start(resume);
  t.run();
  return 0;
}

}  // namespace zerorl::trainer
