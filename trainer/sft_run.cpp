// trainer/sft_run.cpp: the `zerorl sft` loop: seeded order over packed rows, AdamW with optim.* and the
// shared LR schedule, metrics, eval, checkpoints (model in HF layout + optimizer + sampler) and exact resume.
// Not here: data, packing and the loss (sft.cpp).
#include <cmath>
#include <filesystem>

#include "algo/fused_adamw.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/timer.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "trainer/checkpoint.h"
#include "trainer/components.h"
#include "trainer/data.h"
#include "trainer/eval.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics.h"
#include "trainer/sft.h"

namespace zerorl::trainer {
namespace {

namespace fs = std::filesystem;

class SftRun {
 public:
  explicit SftRun(const Config& cfg)
      : cfg_(cfg), device_(model::resolve_device(cfg.run.device)), tok_(build_tokenizer(cfg)) {
    lm_ = build_model(cfg, tok_, device_);
    ZRL_CHECK(lm_->dtype() == torch::kFloat32,
              "zerorl sft trains float32 weights for now: set model.dtype: float32 (got a {} model)",
              c10::toString(lm_->dtype()));
    samples_ = load_sft_samples(cfg, tok_);
    rows_ = pack_samples(samples_, cfg.sft.seq_len, cfg.sft.pack);
    sampler_ = std::make_unique<EpochSampler>(static_cast<int64_t>(rows_.size()),
                                              static_cast<uint64_t>(cfg.run.seed), cfg.data.shuffle);
    torch::optim::AdamWOptions o(cfg.optim.lr);
    o.betas({cfg.optim.beta1, cfg.optim.beta2}).eps(cfg.optim.eps).weight_decay(cfg.optim.weight_decay);
    opt_ = std::make_unique<algo::FusedAdamW>(lm_->parameters(), o);
    ZRL_INFO("sft: {} samples in {} rows of <= {} tokens", samples_.size(), rows_.size(), cfg.sft.seq_len);
  }

  void start(const std::string& resume) {
    const std::string out = cfg_.run.output_dir;
    if (resume == "auto") {
      if (auto ck = latest_valid_checkpoint(out)) load(ck->path);
    } else if (!resume.empty()) {
      load(resume);
    } else {
      ZRL_CHECK(list_checkpoints(out).empty(),
                "run.output_dir '{}' already has checkpoints: pass --resume auto to continue, or choose "
                "another run.output_dir",
                out);
    }
    fs::create_directories(out);
    write_file_atomic(out + "/config.yaml", config::to_yaml(cfg_));
    sink_ = std::make_unique<MetricsSink>(out, cfg_.trainer.tensorboard, step_, cfg_.trainer.steps,
                                          cfg_.trainer.log_every);
  }

  Json run() {
    const std::vector<Row> eval_rows = cfg_.trainer.eval_every > 0 && !cfg_.data.eval_path.empty()
                                           ? load_eval_rows(cfg_, tok_)
                                           : std::vector<Row>{};
    Json last_eval;
    auto eval_now = [&] {
      const std::string base = cfg_.run.output_dir + "/eval/step_" + std::to_string(step_);
      if (eval_rows.empty()) return;
      if (fs::exists(base + ".json")) {
        last_eval = read_json(base + ".json");
        return;
      }
      last_eval = evaluate(cfg_, lm_, tok_, eval_rows, base + "_samples.jsonl", static_cast<uint64_t>(step_));
      write_file_atomic(base + ".json", last_eval.dump(2) + "\n");
      ZRL_INFO("eval step {}: {}", step_, last_eval.dump());
    };
    if (step_ == 0) eval_now();
    const int64_t every = cfg_.trainer.save_every;
    double step_seconds = 0.0;  // trainer.max_minutes: this process's steps and saves, evals not counted
    while (step_ < cfg_.trainer.steps) {
      if (cfg_.trainer.max_minutes > 0 && step_seconds >= cfg_.trainer.max_minutes * 60.0) {
        ZRL_INFO("trainer.max_minutes = {} reached after step {} ({:.1f} s of steps): saving and stopping",
                 cfg_.trainer.max_minutes, step_, step_seconds);
        if (every == 0 || step_ % every != 0) save();
        if (!eval_rows.empty()) eval_now();  // once per step: nothing when step_ was just evaluated
        break;
      }
      Stopwatch w;
      one_step();
      if ((every > 0 && step_ % every == 0) || step_ == cfg_.trainer.steps) save();
      step_seconds += w.seconds();
      if (!eval_rows.empty() && (step_ % cfg_.trainer.eval_every == 0 || step_ == cfg_.trainer.steps))
        eval_now();
    }
    sink_->finish();
    return Json{{"steps", step_}, {"samples", samples_.size()}, {"rows", rows_.size()}, {"eval", last_eval}};
  }

 private:
  void one_step() {
    Stopwatch w;
    std::vector<std::vector<size_t>> batch_rows;
    for (int64_t r : sampler_->next(cfg_.sft.batch_rows)) batch_rows.push_back(rows_[static_cast<size_t>(r)]);
    const SftBatch b = make_sft_batch(samples_, batch_rows, *tok_.eos_id());
    const double lr = lr_at(lr_schedule(cfg_.optim, cfg_.trainer.steps), step_);
    for (auto& g : opt_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    opt_->zero_grad();
    auto loss = sft_loss(lm_, b);
    loss.backward();
    const double gnorm = cfg_.optim.grad_clip > 0
                             ? torch::nn::utils::clip_grad_norm_(lm_->parameters(), cfg_.optim.grad_clip)
                             : 0.0;
    opt_->step();
    const double l = loss.item<double>();
    ZRL_CHECK(std::isfinite(l), "sft: loss is {} at step {} (lower optim.lr {})", l, step_ + 1,
              cfg_.optim.lr);
    ++step_;
    int64_t samples = 0;
    for (const auto& r : batch_rows) samples += static_cast<int64_t>(r.size());
    const double s = w.seconds();
    sink_->log_step(Json{{"step", step_},
                         {"loss", l},
                         {"lr", lr},
                         {"grad_norm", gnorm},
                         {"response_tokens", b.label_tokens},
                         {"samples", samples},
                         {"epoch", sampler_->epoch()},
                         {"time/total", s},
                         {"tokens_per_s", static_cast<double>(b.ids.numel()) / std::max(1e-9, s)}});
  }

  void save() {
    const std::string out = cfg_.run.output_dir;
    const std::string tmp = begin_checkpoint(out, step_);
    model::SaveOptions so;
    if (!cfg_.model.path.empty()) so.generation_config_from = cfg_.model.path;
    model::save_model(lm_, tmp, so);  // Hugging Face layout: the checkpoint is the model
    tok_.save(tmp);
    const std::string st = tmp + "/trainer_state";
    fs::create_directories(st);
    torch::serialize::OutputArchive ar;
    opt_->save(ar);
    ar.save_to(st + "/optimizer.pt");
    // The sampler's state and the step are the whole random state (no dropout, no sampling).
    write_file_atomic(st + "/state.json",
                      Json{{"step", step_}, {"sampler", sampler_->state()}, {"kind", "sft"}}.dump(2));
    write_file_atomic(st + "/config.yaml", config::to_yaml(cfg_));
    commit_checkpoint(tmp, out, step_);
    prune_checkpoints(out, cfg_.trainer.keep_last);
  }

  void load(const std::string& dir) {
    const std::string problem = verify_checkpoint(dir);
    ZRL_CHECK(problem.empty(), "checkpoint '{}' is corrupted or incomplete: {}", dir, problem);
    auto loaded = model::load_model(dir, lm_->dtype(), lm_->device());
    copy_parameters(lm_, loaded);
    torch::serialize::InputArchive ar;
    ar.load_from(dir + "/trainer_state/optimizer.pt", lm_->device());  // beside the parameters
    opt_->load(ar);
    const Json state = read_json(dir + "/trainer_state/state.json");
    ZRL_CHECK(state.value("kind", "") == "sft", "checkpoint '{}' was not written by zerorl sft", dir);
    step_ = state.at("step").get<int64_t>();
    sampler_->load_state(state.at("sampler"));
    ZRL_INFO("resumed from {} (step {})", dir, step_);
  }

  Config cfg_;
  torch::Device device_;
  tokenizer::Tokenizer tok_;
  model::CausalLM lm_{nullptr};
  std::vector<SftSample> samples_;
  std::vector<std::vector<size_t>> rows_;
  std::unique_ptr<EpochSampler> sampler_;
  std::unique_ptr<torch::optim::AdamW> opt_;
  std::unique_ptr<MetricsSink> sink_;
  int64_t step_ = 0;
};

}  // namespace

int run_sft(const Config& cfg, const std::string& resume) {
  SftRun run(cfg);
  run.start(resume);
  const Json summary = run.run();
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace zerorl::trainer
