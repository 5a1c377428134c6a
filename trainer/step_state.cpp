// trainer/step_state.cpp: the Trainer's state across ranks and time: the weights every rank starts from,
// their agreement (dist.check_every), and checkpoints: saved (the fp32 masters when computing in bf16, copied
// to host memory here and written in the background by checkpoint_saver.h; ZeRO-1 shards by every rank,
// zero_state.h) and loaded. Not here: the step's phases (step.cpp), folder mechanics (checkpoint.cpp).
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "dist/grad_sync.h"
#include "model/checkpoint.h"
#include "trainer/checkpoint.h"
#include "trainer/data_parallel.h"
#include "trainer/step.h"
#include "trainer/zero_state.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

void Trainer::sync_initial_weights() {
  if (!distributed(*comm_)) return;
  broadcast_tensors(*comm_, lm_->parameters());
  if (masters_) {
    broadcast_tensors(*comm_, masters_->parameters());
    masters_->push();
  }
  if (!ref_.is_empty()) broadcast_tensors(*comm_, ref_->parameters());
}

void Trainer::check_weights_agree() {
  const int64_t every = cfg_.dist.check_every;
  if (!distributed(*comm_) || every == 0 || step_ % every != 0) return;
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  for (const auto& item : (masters_ ? masters_->masters() : lm_)->named_parameters()) {
    names.push_back(item.key());
    tensors.push_back(item.value());
  }
  const auto bad = dist::first_divergent_tensor(*comm_, names, tensors);
  ZRL_CHECK(!bad,
            "step {}: the weights differ between ranks, first in '{}' (dist.check_every = {}): the ranks "
            "no longer train the same model; report this with the config",
            step_, bad.value_or(""), every);
}

double Trainer::save_checkpoint_async() {
  // ZeRO-1: every rank writes its optimizer shard first (the only per-rank part of a checkpoint).
  const std::string shards = zero_ ? write_zero_shards(cfg_.run.output_dir, step_, *zero_, *comm_) : "";
  if (!ctx_.is_main()) {  // rank 0 writes the step every rank holds (weights, sampler; optimizer unless
                          // ZeRO-1)
    comm_->barrier();
    return 0.0;
  }
  CheckpointContents c;
  c.zero_shards = shards;
  // Hugging Face layout at the checkpoint's root: the fp32 masters when there are any (exact resume).
  c.model = masters_ ? masters_->masters() : lm_;
  c.reference = ref_;
  c.optimizer = opt_.get();
  c.tokenizer = tok_.get();
  if (!cfg_.model.path.empty()) c.generation_config_from = cfg_.model.path;
  // RNG: every stream is derived from mix_seed(run.seed, step, round, prompt, sample) or the sampler state,
  // so (seed, step, sampler) is the complete random state; nothing reads torch's global generator.
  c.state =
      Json{{"step", step_},
           {"optimizer_steps", opt_steps_},
           {"sampler", sampler_state()},
           {"rng", {{"seed", cfg_.run.seed}, {"derivation", "mix_seed(seed, step, round, prompt, sample)"}}},
           // Data parallel: every rank holds the same weights, optimizer state and sampler (each draws all P
           // prompts and rolls out its shard), so this state resumes on any world size.
           {"world_size", ctx_.world_size},
           {"dist_zero", cfg_.dist.zero}};
  c.config_yaml = config::to_yaml(cfg_);
  const double blocked = saver_->save(step_, c);
  const Json t = saver_->timing();
  ZRL_INFO(
      "checkpoint step_{}: the step loop waited {:.2f} s (the previous write {:.2f} s, copy to host memory "
      "{:.2f} s); writing in the background",
      step_, blocked, t.value("wait_previous_s", 0.0), t.value("copy_s", 0.0));
  comm_->barrier();  // the other ranks wait for rank 0's copy to host memory, not for the write
  return blocked;
}

void Trainer::save_checkpoint() {
  save_checkpoint_async();
  saver_->finish();
}

void Trainer::load_checkpoint(const std::string& dir) {
  const std::string problem = verify_checkpoint(dir);
  ZRL_CHECK(problem.empty(), "checkpoint '{}' is corrupted or incomplete: {}", dir, problem);
  if (masters_) {
    auto loaded = model::load_model(dir, masters_->dtype(), lm_->device());
    copy_parameters(masters_->masters(), loaded);
    masters_->push();  // in place: the engine shares lm_
  } else {
    auto loaded = model::load_model(dir, lm_->dtype(), lm_->device());
    copy_parameters(lm_, loaded);  // in place: the engine shares lm_
  }
  const std::string st = dir + "/trainer_state";
  if (zero_) {
    load_zero_shards(dir, *zero_);  // re-partitioned when written by another world size
  } else {
    check_not_zero_checkpoint(dir);
    torch::serialize::InputArchive ar;
    // Onto the parameters' device: the archive was written from host-memory mirrors (checkpoint_saver.h),
    // and AdamW's moments must sit beside its (CUDA) parameters.
    ar.load_from(st + "/optimizer.pt", lm_->device());
    opt_->load(ar);
  }
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

}  // namespace zerorl::trainer
