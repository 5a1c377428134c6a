// trainer/metrics.cpp: JSONL + TensorBoard + console (progress bar or plain lines) fan-out of one metrics
// row. Not here: the metric definitions (trainer/step.cpp).
#include "trainer/metrics.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "core/json_io.h"
#include "core/strings.h"

namespace zerorl::trainer {

namespace {

struct ConsoleField {
  const char* key;    // metrics row key
  const char* label;  // what the console calls it
  int decimals;       // digits after the point
};
// In display order. Extend here (e.g. a monitor's rate) to show a metric on the bar and in the lines.
const ConsoleField kConsoleFields[] = {
    {"reward_mean", "reward", 3},
    {"accuracy", "acc", 3},
    {"format_rate", "format", 3},
    {"response_len_mean", "len", 1},
    {"kl", "kl", 4},
    {"entropy", "entropy", 3},
    {"hack/any_frac", "hack", 2},
    {"loss", "loss", 4},                       // loss: zerorl sft's rows
    {"off_policy/is_weight_mean", "is_w", 3},  // algo.off_policy_correction on
};

}  // namespace

std::string console_fields(const Json& row) {
  std::string out;
  for (const auto& f : kConsoleFields) {
    if (!row.contains(f.key) || !row[f.key].is_number()) continue;
    if (!out.empty()) out += " | ";
    out += fmt::format("{} {:.{}f}", f.label, row[f.key].get<double>(), f.decimals);
  }
  return out;
}

std::string console_line(const Json& row, int64_t total_steps, double eta_s) {
  std::string line = fmt::format("step {}/{}", row.at("step").get<int64_t>(), total_steps);
  const std::string fields = console_fields(row);
  if (!fields.empty()) line += " | " + fields;
  if (row.contains("time/total") && row["time/total"].is_number()) {
    line += fmt::format(" | {:.2f} s", row["time/total"].get<double>());
  }
  return line + " | ETA " + format_duration(eta_s);
}

MetricsSink::MetricsSink(const std::string& output_dir, bool tensorboard, int64_t first_step,
                         int64_t total_steps, int64_t log_every)
    : bar_(total_steps, "train", "step"),
      first_step_(first_step),
      total_steps_(total_steps),
      log_every_(log_every) {
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
  if (first_step_start_s_ < 0) first_step_start_s_ = clock_.seconds() - row.value("time/total", 0.0);
  if (bar_.enabled()) {
    bar_.update(step, console_fields(row));
    return;
  }
  if (log_every_ <= 0 || (step % log_every_ != 0 && step != total_steps_)) return;
  // ETA from the wall clock since the first step of this process began: evals and checkpoints included.
  const double per_step = (clock_.seconds() - first_step_start_s_) / static_cast<double>(step - first_step_);
  const std::string line =
      console_line(row, total_steps_, per_step * static_cast<double>(total_steps_ - step));
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
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
    const Json row = parse_json_or_discarded(line);
    if (row.is_discarded()) continue;  // a line torn by a kill mid-write
    if (row.is_object() && row.contains("step") && row["step"].is_number_integer() &&
        row["step"].get<int64_t>() > step)
      continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

bool is_timing_field(const std::string& key) {
  return starts_with(key, "time/") || starts_with(key, "tokens_per_s/") || key == "wall_s";
}

}  // namespace zerorl::trainer
