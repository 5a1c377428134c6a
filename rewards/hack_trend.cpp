// rewards/hack_trend.cpp: hack-sign fractions per step and the rising-fraction rule (hack_trend.h).
// Not here: the signs themselves, sinks.
#include "rewards/hack_trend.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace zerorl::rewards {

std::map<std::string, double> hack_fractions(const std::vector<std::vector<HackSign>>& signs_per_sample) {
  std::map<std::string, double> out;
  for (const auto& c : hack_categories()) out[c] = 0.0;
  out["any"] = 0.0;
  if (signs_per_sample.empty()) return out;
  for (const auto& signs : signs_per_sample) {
    for (const auto& c : hack_categories()) {
      const bool has =
          std::any_of(signs.begin(), signs.end(), [&](const HackSign& s) { return s.category == c; });
      out[c] += has ? 1.0 : 0.0;
    }
    out["any"] += signs.empty() ? 0.0 : 1.0;
  }
  for (auto& [k, v] : out) v /= static_cast<double>(signs_per_sample.size());
  return out;
}

HackTrend::HackTrend(int64_t window, double min_rise) : window_(window), min_rise_(min_rise) {
  ZRL_CHECK(window >= 0, "rewards.hack_monitor.window must be >= 0, got {}", window);
  ZRL_CHECK(min_rise > 0 && min_rise <= 1, "rewards.hack_monitor.min_rise must be in (0, 1], got {}",
            min_rise);
}

std::vector<std::string> HackTrend::observe(int64_t step, const std::map<std::string, double>& fractions) {
  std::vector<std::string> out;
  steps_.push_back(step);
  for (const auto& [category, f] : fractions) history_[category].push_back(f);
  const auto n = static_cast<int64_t>(steps_.size());
  if (window_ == 0 || n < 2 * window_) return out;
  for (const auto& [category, h] : history_) {
    if (static_cast<int64_t>(h.size()) != n) continue;  // a category that appeared late
    double before = 0, recent = 0;
    for (int64_t i = n - 2 * window_; i < n - window_; ++i) before += h[static_cast<size_t>(i)];
    for (int64_t i = n - window_; i < n; ++i) recent += h[static_cast<size_t>(i)];
    before /= static_cast<double>(window_), recent /= static_cast<double>(window_);
    auto w = warned_at_.find(category);
    if (w != warned_at_.end() && recent < w->second - min_rise_) {  // the last rise has subsided
      warned_at_.erase(w);
      w = warned_at_.end();
    }
    const double floor = w == warned_at_.end() ? before : std::max(before, w->second);
    if (recent - floor < min_rise_) continue;
    warned_at_[category] = recent;
    const auto s = [&](int64_t i) { return steps_[static_cast<size_t>(i)]; };
    out.push_back(fmt::format("hack signs rising: {} {:.3f} -> {:.3f} (mean of steps {}-{} vs {}-{})",
                              category, before, recent, s(n - window_), s(n - 1), s(n - 2 * window_),
                              s(n - window_ - 1)));
  }
  return out;
}

}  // namespace zerorl::rewards
