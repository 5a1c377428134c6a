// tests/trainer/rollout_batch.h: one rollout::Engine call turned into the trainer's UpdateBatch, with rewards
// varied within each group by a fixed rule. Shared by the policy-update tests on CPU and CUDA.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "rollout/engine.h"
#include "trainer/update.h"

namespace zerorl::testing {

inline trainer::UpdateBatch rollout_batch(rollout::Engine& engine,
                                          const std::vector<std::vector<int64_t>>& prompts,
                                          const rollout::GenerateConfig& gc) {
  rollout::RolloutResult res;
  {
    torch::NoGradGuard ng;
    res = engine.generate(prompts, gc);
  }
  trainer::UpdateBatch b;
  for (size_t i = 0; i < res.samples.size(); ++i) {
    const auto& s = res.samples[i];
    b.prompt_ids.push_back(prompts[static_cast<size_t>(s.prompt_index)]);
    b.responses.push_back(s.tokens);
    b.truncated.push_back(s.finish == rollout::FinishReason::kLength);
    b.rewards.push_back(static_cast<double>((i * 7) % 3));
    b.logprobs_policy.push_back(s.logprobs_policy);
    b.logprobs_sampling.push_back(s.logprobs);
  }
  return b;
}

}  // namespace zerorl::testing
