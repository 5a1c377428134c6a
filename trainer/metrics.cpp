// trainer/metrics.cpp: JSONL + TensorBoard + progress bar fan-out of one metrics row.
// Not here: the metric definitions (trainer/step.cpp).
#include "trainer/metrics.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/strings.h"

namespace zerorl::trainer {

MetricsSink::MetricsSink(const std::string& output_dir, bool tensorboard, int64_t first_step,
                         int64_t total_steps)
    : bar_(total_steps, "train", "step") {
  std::filesystem::create_directories(output_dir);
  truncate_jsonl_after_step(output_dir + "/metrics.jsonl", first_step);
  truncate_jsonl_after_step(output_dir + "/samples.jsonl", first_step);
  metrics_ = std::make_unique<JsonlWriter>(output_dir + "/metrics.jsonl");
  samples_ = std::make_unique<JsonlWriter>(output_dir + "/samples.jsonl");
  if (tensorboard) tb_ = std::make_unique<TbWriter>(output_dir + "/tb");
  bar_.update(first_step);
}

void MetricsSink::log_step(const Json& row) {
  metrics_->write(row);
  const int64_t step = row.at("step").get<int64_t>();
  if (tb_) {
    for (const auto& [key, value] : row.items()) {
      if (value.is_number() && key != "step") tb_->add_scalar(key, step, value.get<double>());
    }
    tb_->flush();
  }
  auto num = [&](const char* k) { return row.contains(k) ? row[k].get<double>() : 0.0; };
  std::string status = fmt::format("reward {:.3f} acc {:.3f} len {:.0f} kl {:.4f}", num("reward_mean"),
                                   num("accuracy"), num("response_len_mean"), num("kl"));
  if (num("hack/any_frac") > 0) status += fmt::format(" hack {:.2f}", num("hack/any_frac"));
  bar_.update(step, status);
}

void MetricsSink::log_samples(const Json& rows) {
  for (const auto& r : rows) samples_->write(r);
}

void MetricsSink::finish() { bar_.finish(); }

void truncate_jsonl_after_step(const std::string& path, int64_t step) {
  if (!std::filesystem::exists(path)) return;
  const std::string text = read_file(path);
  std::string kept;
  for (const auto& line : split(text, '\n')) {
    if (trim(line).empty()) continue;
    Json row;
    try {
      row = Json::parse(line);
    } catch (const std::exception&) {
      continue;  // a line torn by a kill mid-write
    }
    if (row.contains("step") && row["step"].get<int64_t>() > step) continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

bool is_timing_field(const std::string& key) {
  return starts_with(key, "time/") || starts_with(key, "tokens_per_s/") || key == "wall_s";
}

}  // namespace zerorl::trainer
