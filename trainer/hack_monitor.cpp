// trainer/hack_monitor.cpp: per-step hack-sign fractions, flagged.jsonl and rising-fraction warnings
// (hack_monitor.h). Not here: the sign rules (rewards/hack_signs.cpp), the trend rule (rewards/hack_trend).
#include "trainer/hack_monitor.h"

#include <filesystem>

#include "core/log.h"
#include "trainer/metrics.h"

namespace zerorl::trainer {

std::map<std::string, double> hack_penalties(const HackPenaltySection& p) {
  std::map<std::string, double> out;
  for (const auto& [category, value] : {std::pair<const char*, double>{"code", p.code},
                                        {"math", p.math},
                                        {"format", p.format},
                                        {"repetition", p.repetition}}) {
    if (value != 0) out[category] = value;
  }
  return out;
}

HackMonitor::HackMonitor(const std::string& output_dir, const HackMonitorSection& options, int64_t first_step)
    : flagged_per_step_(options.flagged_per_step), trend_(options.window, options.min_rise) {
  if (output_dir.empty()) return;  // a data-parallel rank other than 0: metrics only, no file
  std::filesystem::create_directories(output_dir);
  const std::string path = output_dir + "/flagged.jsonl";
  truncate_jsonl_after_step(path, first_step);
  flagged_ = std::make_unique<JsonlWriter>(path);
}

HackMonitor::~HackMonitor() = default;

void HackMonitor::add(const std::vector<const Row*>& rows, const std::vector<std::string>& responses,
                      const std::vector<rewards::Reward>& rewards) {
  for (size_t i = 0; i < rewards.size(); ++i) {
    const auto& r = rewards[i];
    signs_.push_back(r.hack_signs);
    penalty_sum_ += r.hack_penalty;
    if (r.hack_signs.empty() || static_cast<int64_t>(pending_.size()) >= flagged_per_step_) continue;
    Json patterns = Json::array();
    for (const auto& s : r.hack_signs) patterns.push_back(s.category + ":" + s.pattern);
    pending_.push_back(Json{{"prompt", rows[i]->prompt},
                            {"data_source", rows[i]->data_source},
                            {"row", rows[i]->index},
                            {"response", responses[i]},
                            {"patterns", patterns},
                            {"reward", r.total},
                            {"correct", r.correct},
                            {"status", r.status},
                            {"hack_penalty", r.hack_penalty}});
  }
}

Json HackMonitor::finish_step(int64_t step, std::vector<std::string>* warnings) {
  const auto fractions = rewards::hack_fractions(signs_);
  Json out = Json::object();
  int64_t flagged = 0;
  for (const auto& s : signs_) flagged += s.empty() ? 0 : 1;
  for (const auto& [category, f] : fractions) out["hack/" + category + "_frac"] = f;
  out["hack/flagged"] = flagged;
  out["hack/penalty_mean"] = signs_.empty() ? 0.0 : penalty_sum_ / static_cast<double>(signs_.size());
  for (auto& row : pending_) {
    row["step"] = step;
    if (flagged_) flagged_->write(row);
  }
  const auto w = trend_.observe(step, fractions);
  for (const auto& msg : w) {
    ZRL_WARN("step {}: {}; see {} and the hack/* metrics", step, msg,
             flagged_ ? flagged_->path() : "rank 0's flagged.jsonl");
  }
  if (warnings) *warnings = w;
  signs_.clear();
  penalty_sum_ = 0;
  pending_ = Json::array();
  return out;
}

}  // namespace zerorl::trainer
