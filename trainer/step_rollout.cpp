// trainer/step_rollout.cpp: the step's first phases: sample_prompts -> rollout -> reward, round by round
// (DAPO dynamic sampling adds rounds), on the trainer's engine or on rollout workers (with several ranks:
// rank 0 submits every shard and shares the answers), synchronously or K steps ahead (rollout.max_staleness).
// Not here: the update and the metrics row (step.cpp), the workers' scheduling (remote_rollout.cpp).
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "trainer/data_parallel.h"
#include "trainer/remote_rollout.h"
#include "trainer/rollout_share.h"
#include "trainer/step.h"

namespace zerorl::trainer {

Trainer::PromptBatch Trainer::draw_prompts(int64_t round, int64_t step) {
  const auto& ro = cfg_.rollout;
  const int64_t P = ro.prompts_per_step;
  PromptBatch b;
  // Every rank draws the step's P prompts (the sampler stays the same on every rank) and rolls out its
  // shard. Streams keyed by the draw (draw_keys): a row drawn twice in one step (an epoch boundary inside
  // it) gets two independent groups of samples, on whichever rank; the seed mixes the round.
  const std::vector<int64_t> picked = sampler_->next(P);
  std::vector<int64_t> drawn;
  for (int64_t idx : picked) drawn.push_back(rows_[static_cast<size_t>(idx)].index);
  const std::vector<uint64_t> keys = draw_keys(drawn);
  const PromptShard shard = prompt_shard(P, *comm_);
  if (remote_ && distributed(*comm_)) {  // rank 0 submits every rank's shard, with the shards' keys
    for (int64_t idx : picked)
      b.all_prompts.push_back(encode_prompt(cfg_, *tok_, rows_[static_cast<size_t>(idx)]));
    b.all_keys = keys;
  }
  for (int64_t i = shard.begin; i < shard.begin + shard.count; ++i) {
    const auto at = static_cast<size_t>(i);
    b.rows.push_back(rows_[static_cast<size_t>(picked[at])]);
    b.prompts.push_back(b.all_prompts.empty() ? encode_prompt(cfg_, *tok_, b.rows.back())
                                              : b.all_prompts[at]);
    b.gc.prompt_keys.push_back(keys[at]);
  }
  b.gc.sampler = {ro.temperature, ro.top_k, ro.top_p, ro.min_p};
  b.gc.stop.eos_ids = {eos_};
  b.gc.stop.stop = ro.stop;
  b.gc.stop.max_new_tokens = ro.max_new_tokens;
  b.gc.group_size = ro.group_size;
  b.gc.seed = mix_seed({static_cast<uint64_t>(cfg_.run.seed), static_cast<uint64_t>(round)});
  b.gc.step = static_cast<uint64_t>(step);
  return b;
}

void Trainer::score_round(const PromptBatch& b, const rollout::RolloutResult& res, Groups& g) {
  const int64_t P = cfg_.rollout.prompts_per_step, G = cfg_.rollout.group_size;
  std::vector<Scorer::Item> items;
  std::vector<std::string> texts;
  for (const auto& tr : res.samples) {
    std::vector<int32_t> ids(tr.tokens.begin(), tr.tokens.end());
    texts.push_back(tok_->decode(ids, true));
    items.push_back({&b.rows[static_cast<size_t>(tr.prompt_index)], texts.back(),
                     static_cast<int64_t>(tr.tokens.size()), tr.finish != rollout::FinishReason::kLength});
  }
  const auto rewards = scorer_->score(items);
  std::vector<const Row*> item_rows;
  for (const auto& it : items) item_rows.push_back(it.row);
  hack_->add(item_rows, texts, rewards);
  for (size_t p = 0; p < b.rows.size(); ++p) {
    bool all_equal = true;
    for (int64_t j = 0; j < G; ++j) {
      const size_t i = p * static_cast<size_t>(G) + static_cast<size_t>(j);
      const auto& r = rewards[i];
      const auto len = static_cast<double>(items[i].tokens);
      g.reward_sum += r.total, g.acc_sum += r.correct ? 1 : 0, g.fmt_sum += r.format;
      g.len_sum += len, g.len_max = std::max(g.len_max, len), g.count += 1;
      g.trunc_sum += items[i].finished ? 0 : 1;
      g.verifier_fail_sum += r.status == "timeout" || r.status == "error" ? 1 : 0;
      g.generated_tokens += items[i].tokens;
      all_equal = all_equal && r.total == rewards[p * static_cast<size_t>(G)].total;
    }
    ++g.sampled_groups;
    if ((cfg_.rollout.dynamic_sampling && all_equal) || static_cast<int64_t>(g.rows.size()) == P)
      continue;  // P: 1 rank
    g.rows.push_back(b.rows[p]);
    for (int64_t j = 0; j < G; ++j) {
      const size_t i = p * static_cast<size_t>(G) + static_cast<size_t>(j);
      g.prompt_ids.push_back(b.prompts[p]);
      g.responses.push_back(res.samples[i].tokens);
      g.truncated.push_back(!items[i].finished);
      g.rewards.push_back(rewards[i]);
      g.texts.push_back(texts[i]);
      g.logprobs_policy.push_back(res.samples[i].logprobs_policy);
      g.logprobs_sampling.push_back(res.samples[i].logprobs);
    }
  }
}

Trainer::Groups Trainer::rollout_groups(PhaseTimes& times) {
  const auto& ro = cfg_.rollout;
  const int64_t rounds = ro.dynamic_sampling ? 1 + ro.max_resample_rounds : 1;
  Groups g;
  for (int64_t round = 0; round < rounds && static_cast<int64_t>(g.rows.size()) < ro.prompts_per_step;
       ++round) {
    PromptBatch b;
    rollout::RolloutResult res;
    if (round == 0 && !prefetched_.empty()) {  // submitted K steps ago, generated meanwhile
      Prefetched f = std::move(prefetched_.front());
      prefetched_.erase(prefetched_.begin());
      ZRL_CHECK(f.step == step_ + 1,
                "rollout.max_staleness: the groups prefetched for step {} came up at step {}", f.step,
                step_ + 1);
      ScopedTimer t(times, "rollout");  // only what is still unanswered is waited for
      res = collect_round(f.ticket);
      g.staleness = step_ + 1 - static_cast<int64_t>(f.version);
      b = std::move(f.batch);
    } else {
      {
        ScopedTimer t(times, "sample_prompts");
        b = draw_prompts(round, step_ + 1);
      }
      ScopedTimer t(times, "rollout");
      torch::NoGradGuard ng;
      // rollout.mode = workers: the same groups and keys, answered by rollout workers with this step's
      // weights (version step_ + 1: the weights after step_ updates).
      res = cfg_.rollout.mode == "workers" ? collect_round(submit_round(b, static_cast<uint64_t>(step_ + 1)))
                                           : engine_->generate(b.prompts, b.gc);
    }
    ScopedTimer t(times, "reward");
    score_round(b, res, g);
  }
  return g;
}

void Trainer::prefetch_rollouts(PhaseTimes& times) {
  const int64_t K = cfg_.rollout.max_staleness;
  if (cfg_.rollout.mode != "workers" || K == 0) return;  // every rank draws; rank 0 alone submits
  ScopedTimer t(times, "rollout_submit");
  torch::NoGradGuard ng;
  while (static_cast<int64_t>(prefetched_.size()) < K) {
    const int64_t next = step_ + 2 + static_cast<int64_t>(prefetched_.size());
    if (next > cfg_.trainer.steps) return;
    Prefetched f;
    f.step = next;
    f.version = static_cast<uint64_t>(step_ + 1);  // the weights of now: this step's update has not run
    f.sampler_before = sampler_->state();
    f.batch = draw_prompts(0, next);
    f.ticket = submit_round(f.batch, f.version);
    prefetched_.push_back(std::move(f));
  }
}

uint64_t Trainer::submit_round(const PromptBatch& b, uint64_t version) {
  if (!remote_) return 0;
  if (b.all_prompts.empty()) return remote_->submit(lm_, version, b.prompts, b.gc);
  rollout::GenerateConfig gc = b.gc;
  gc.prompt_keys = b.all_keys;
  return remote_->submit(lm_, version, b.all_prompts, gc);
}

rollout::RolloutResult Trainer::collect_round(uint64_t ticket) {
  if (!distributed(*comm_)) return remote_->collect(ticket);
  // The other ranks wait in the broadcast while rank 0 collects: dist.timeout_s bounds a step's rollout.
  return share_rollout(
      *comm_, [&] { return remote_->collect(ticket); }, prompt_shard(cfg_.rollout.prompts_per_step, *comm_));
}

Json Trainer::sampler_state() const {
  // The prefetched draws are not saved: a resumed run draws them again (the same prompts, in order) and
  // generates them with the checkpoint's weights.
  return prefetched_.empty() ? sampler_->state() : prefetched_.front().sampler_before;
}

}  // namespace zerorl::trainer
