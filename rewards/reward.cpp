// rewards/reward.cpp: verdicts -> scalar reward, DAPO overlong penalty, data_source routing (see reward.h).
// Not here: verifiers, advantages, config parsing.
#include "rewards/reward.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "verifiers/language.h"

namespace zerorl::rewards {
namespace {

void check_finite(double value, const char* key) {
  ZRL_CHECK(std::isfinite(value), "rewards.{} must be a finite number, got {}", key, value);
}

void validate_hack_penalty(const RewardOptions& options) {
  const auto& known = hack_categories();
  for (const auto& [category, penalty] : options.hack_penalty) {
    ZRL_CHECK(std::find(known.begin(), known.end(), category) != known.end(),
              "rewards.hack_penalty.{}: unknown hack-sign category (known: code, math, format, repetition)",
              category);
    ZRL_CHECK(std::isfinite(penalty) && penalty >= 0, "rewards.hack_penalty.{} must be >= 0, got {}",
              category, penalty);
  }
}

}  // namespace

void validate(const RewardOptions& options) {
  validate_hack_penalty(options);
  check_finite(options.accuracy_weight, "accuracy_weight");
  check_finite(options.format_weight, "format_weight");
  check_finite(options.correct_reward, "correct_reward");
  check_finite(options.wrong_reward, "wrong_reward");
  check_finite(options.length_weight, "length_weight");
  check_finite(options.language_weight, "language_consistency_weight");
  if (options.language_weight != 0) {
    try {
      verifiers::check_language(options.language);
    } catch (const Error& e) {
      ZRL_FAIL("rewards.language: {}", e.what());
    }
  }
  const auto& o = options.overlong;
  const bool needs_max = o.enabled || options.length_weight != 0;
  ZRL_CHECK(!needs_max || options.max_response_tokens > 0,
            "rewards.max_response_tokens must be > 0 with overlong or length shaping, got {}",
            options.max_response_tokens);
  if (!o.enabled) return;
  ZRL_CHECK(o.buffer > 0 && o.buffer <= options.max_response_tokens,
            "rewards.overlong.buffer must be in (0, max_response_tokens = {}], got {}",
            options.max_response_tokens, o.buffer);
  ZRL_CHECK(std::isfinite(o.penalty_factor) && o.penalty_factor >= 0,
            "rewards.overlong.penalty_factor must be >= 0, got {}", o.penalty_factor);
}

double verdict_score(const verifiers::Verdict& verdict) {
  if (verdict.correct) return 1.0;
  if (!std::isfinite(verdict.reward)) return 0.0;
  return std::clamp(verdict.reward, 0.0, 1.0);
}

double overlong_penalty(int64_t response_tokens, int64_t max_length, const OverlongOptions& options) {
  if (!options.enabled) return 0.0;
  ZRL_CHECK(response_tokens >= 0, "overlong_penalty: response length must be >= 0, got {}", response_tokens);
  ZRL_CHECK(options.buffer > 0 && options.buffer <= max_length,
            "overlong_penalty: buffer must be in (0, L_max = {}], got {}", max_length, options.buffer);
  const int64_t expected = max_length - options.buffer;  // L_max - L_cache
  if (response_tokens <= expected) return 0.0;
  if (response_tokens > max_length) return -options.penalty_factor;
  const double r_length =
      static_cast<double>(expected - response_tokens) / static_cast<double>(options.buffer);
  return r_length * options.penalty_factor;
}

Reward compute_reward(const RewardOptions& options, const verifiers::Verdict& accuracy,
                      const verifiers::Verdict* format, int64_t response_tokens) {
  Reward r;
  r.correct = accuracy.correct;
  r.status = accuracy.status;
  r.accuracy =
      options.wrong_reward + (options.correct_reward - options.wrong_reward) * verdict_score(accuracy);
  r.has_format = format != nullptr;
  r.format = r.has_format ? verdict_score(*format) : 0.0;
  r.overlong = overlong_penalty(response_tokens, options.max_response_tokens, options.overlong);
  if (options.length_weight != 0) {
    ZRL_CHECK(options.max_response_tokens > 0,
              "rewards: length shaping needs max_response_tokens > 0, got {}", options.max_response_tokens);
    r.length = -options.length_weight * static_cast<double>(response_tokens) /
               static_cast<double>(options.max_response_tokens);
  }
  r.total = options.accuracy_weight * r.accuracy + options.format_weight * r.format + r.overlong + r.length;
  return r;
}

void apply_language_consistency(const RewardOptions& options, const std::string& response, Reward* reward) {
  if (options.language_weight == 0) return;
  reward->language = verifiers::language_consistency(response, options.language);
  reward->total += options.language_weight * reward->language;
}

void apply_hack_signs(const RewardOptions& options, std::vector<HackSign> signs, Reward* reward) {
  std::vector<std::string> categories;
  for (const auto& s : signs) {
    if (std::find(categories.begin(), categories.end(), s.category) == categories.end())
      categories.push_back(s.category);
  }
  double penalty = 0;
  for (const auto& c : categories) {
    auto it = options.hack_penalty.find(c);
    if (it != options.hack_penalty.end()) penalty += it->second;
  }
  reward->hack_signs = std::move(signs);
  reward->hack_penalty = -penalty;
  reward->total -= penalty;
}

const std::string& verifier_for(const RewardOptions& options, const std::string& data_source) {
  auto it = options.verifier_by_source.find(data_source);
  if (it != options.verifier_by_source.end()) return it->second;
  ZRL_CHECK(!options.default_verifier.empty(),
            "no verifier for data_source '{}': add it to rewards.verifier_by_source or set "
            "rewards.default_verifier",
            data_source);
  return options.default_verifier;
}

}  // namespace zerorl::rewards
