// trainer/old_logprobs.cpp: which log-probs stand for the old policy pi_old in the update's ratio
// (algo.old_logprobs): the rules of auto and the named errors of combinations that cannot work (update.h).
// Not here: computing them (update.cpp), the ratio and the correction formulas (algo/).
#include "compat/torch_compat.h"
#include "core/error.h"
#include "kernels/switch.h"
#include "trainer/update.h"

namespace zerorl::trainer {

namespace {

// The resolved value against algo.off_policy_correction (current with mask: current_refused).
void check_off_policy(const Config& cfg, const std::string& old_logprobs) {
  const auto& a = cfg.algo;
  if (a.off_policy_correction == "none") return;
  ZRL_CHECK(old_logprobs != "rollout",
            "algo.off_policy_correction = {} with algo.old_logprobs = rollout: the old policy would be the "
            "engine's own log-probs (mu = pi_old), every importance weight 1 and nothing corrected; set "
            "algo.old_logprobs: recompute (or auto), or algo.off_policy_correction: none",
            a.off_policy_correction);
  ZRL_CHECK(cfg.rollout.temperature > 0.0,
            "algo.off_policy_correction = {} with rollout.temperature = 0: greedy decoding has no sampling "
            "distribution to weigh against; sample (temperature > 0) or set algo.off_policy_correction: none",
            a.off_policy_correction);
}

// Why algo.old_logprobs = current cannot stand for pi_old in this config, or "" when it can.
std::string current_refused(const Config& cfg) {
  const auto& a = cfg.algo;
  if (a.minibatches != 1 || a.epochs != 1)
    return fmt::format(
        "algo.minibatches = {} and algo.epochs = {} take more than one optimizer step per "
        "batch, and after the first the current policy is no longer pi_old",
        a.minibatches, a.epochs);
  if (a.kl_coef > 0 && a.kl_in == "reward")
    return "algo.kl_in = reward puts KL(pi_old || ref) into the rewards before the update's forward";
  if (a.off_policy_correction == "mask")
    return "algo.off_policy_correction = mask drops tokens from the normalizers before the update's forward";
  return "";
}

// auto where the engine's log-probs are not the trainer's: current if it is exact, else recompute.
OldLogprobsChoice without_rollout(const Config& cfg, const std::string& why_not_rollout) {
  const std::string refused = current_refused(cfg);
  if (refused.empty())
    return {"current", why_not_rollout +
                           "; one optimizer step per batch, so pi_old is the update's own "
                           "forward, detached (no extra forward)"};
  return {"recompute", why_not_rollout + "; not current: " + refused};
}

}  // namespace

void validate_old_logprobs(const Config& cfg) { check_old_logprobs(cfg, cfg.algo.old_logprobs); }

void check_old_logprobs(const Config& cfg, const std::string& v) {
  check_off_policy(cfg, v);
  const auto& r = cfg.rollout;
  const bool filtered = r.top_k > 0 || r.top_p < 1.0 || r.min_p > 0.0;
  const bool t1 = r.temperature == 1.0 || r.temperature <= 0.0;
  ZRL_CHECK(v != "rollout" || t1 || !filtered,
            "algo.old_logprobs = rollout with rollout.temperature = {} and top_k/top_p/min_p filters: the "
            "engine returns no log-prob of the unfiltered tempered policy; use algo.old_logprobs = recompute",
            r.temperature);
  if (v == "current") {
    const std::string refused = current_refused(cfg);
    ZRL_CHECK(refused.empty(), "algo.old_logprobs = current: {}; use algo.old_logprobs: recompute (or auto)",
              refused);
  }
}

OldLogprobsChoice resolve_old_logprobs(const Config& cfg, torch::Dtype compute, bool cuda) {
  const auto& r = cfg.rollout;
  if (cfg.algo.old_logprobs != "auto") return {cfg.algo.old_logprobs, "set in the config"};
  if (cfg.algo.off_policy_correction != "none")
    return without_rollout(cfg, fmt::format("algo.off_policy_correction = {} weighs the trainer's pi_old "
                                            "against the engine's log-probs",
                                            cfg.algo.off_policy_correction));
  if (r.temperature != 1.0)
    return without_rollout(
        cfg, fmt::format("rollout.temperature is {}, not 1: the engine's log-probs are of a tempered policy",
                         r.temperature));
  if (r.top_k > 0 || r.top_p < 1.0 || r.min_p > 0.0)
    return without_rollout(cfg,
                           "top_k/top_p/min_p filter the sampling, and the ratio is of the unfiltered "
                           "policy");
  if (compute == torch::kFloat32)
    return {"rollout",
            "temperature 1, no filters, float32: the engine's log-probs are the trainer's to float "
            "rounding"};
  if (!cuda)
    return without_rollout(cfg,
                           "bf16/fp16 on CPU: no batch-invariant GEMMs, the engine's log-probs may "
                           "differ by bf16 rounding");
  if (cfg.algo.pack_sequences && !kernels::enabled("attention"))
    return without_rollout(cfg,
                           "algo.pack_sequences without the attention kernel: packed rows then take a "
                           "masked attention that sums a sequence's keys in other blocks than the "
                           "engine's (~1e-2 apart)");
  if (!r.batch_invariant)
    return without_rollout(cfg,
                           "rollout.batch_invariant is off: decode GEMMs round differently from the "
                           "trainer's forward (~1e-2 in bf16)");
  if (!compat::kHasSplitKControl)
    return without_rollout(cfg,
                           "this LibTorch cannot turn cuBLAS split-K off (needs >= 2.10): bf16 "
                           "log-probs may differ");
  return {"rollout",
          "temperature 1, no filters, bf16 with batch-invariant GEMMs: the engine's log-probs equal "
          "the trainer's forward"};
}

}  // namespace zerorl::trainer
