// trainer/report.cpp: summary.json and curves.png (gnuplot as a subprocess: a packaged plotting tool rather
// than a hand-written rasterizer). Not here: the metrics themselves.
#include "trainer/report.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace zerorl::trainer {
namespace {

const char* const kCurveKeys[] = {"reward_mean", "accuracy", "response_len_mean", "kl"};

Json pick_number(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key] : Json(nullptr);
}

}  // namespace

Json eval_brief(const Json& s) {
  Json len = pick_number(s, "response_len_mean");
  if (len.is_null()) len = pick_number(s, "mean_response_tokens");
  return Json{{"accuracy", pick_number(s, "accuracy")},
              {"greedy_accuracy", pick_number(s, "greedy_accuracy")},
              {"format_rate", pick_number(s, "format_rate")},
              {"response_len_mean", len}};
}

Json write_summary(const std::string& output_dir, const Json& eval_before, const Json& eval_after,
                   int64_t steps, double seconds) {
  Json out{{"eval_before", eval_brief(eval_before)},
           {"eval_after", eval_brief(eval_after)},
           {"steps", steps},
           {"seconds", seconds}};
  std::filesystem::create_directories(output_dir);
  write_file_atomic(output_dir + "/summary.json", out.dump(2) + "\n");
  return out;
}

std::string plot_curves(const std::string& metrics_path, const std::string& png_path,
                        const std::vector<std::pair<int64_t, double>>& eval_accuracy) {
  if (!std::filesystem::exists(metrics_path)) return metrics_path + " does not exist";
  const std::string data_path = png_path + ".dat", script_path = png_path + ".gp";
  const std::string eval_path = png_path + ".eval.dat";
  {
    std::ofstream e(eval_path);
    for (const auto& [step, acc] : eval_accuracy) e << step << ' ' << acc << '\n';
  }
  int64_t rows = 0;
  bool present[4] = {false, false, false, false};
  {
    std::ofstream data(data_path);
    for (const Json& row : read_jsonl(metrics_path)) {
      if (!row.contains("step")) continue;
      data << row["step"].get<int64_t>();
      for (int i = 0; i < 4; ++i) {
        const Json v = pick_number(row, kCurveKeys[i]);
        present[i] = present[i] || !v.is_null();
        data << ' ' << (v.is_null() ? std::string("NaN") : std::to_string(v.get<double>()));
      }
      data << '\n';
      ++rows;
    }
  }
  if (rows == 0) return metrics_path + " has no rows with \"step\"";
  {
    std::ofstream gp(script_path);
    gp << "set terminal pngcairo size 1200,800 font ',10' noenhanced\nset output '" << png_path << "'\n"
       << "set multiplot layout 2,2 title 'zerorl: " << metrics_path << "'\nset grid\nset xlabel 'step'\n";
    const char* titles[] = {"reward (mean)", "accuracy", "response length (tokens)", "KL to reference"};
    for (int i = 0; i < 4; ++i) {
      gp << "set title '" << titles[i] << "'\n";
      if (present[i] && i == 1 && !eval_accuracy.empty()) {  // accuracy: train rollouts and held-out evals
        gp << "set autoscale y\nset key bottom right\nplot '" << data_path << "' using 1:3"
           << " with linespoints pt 7 ps 0.4 title 'train rollouts', '" << eval_path
           << "' using 1:2 with linespoints pt 5 ps 1.2 lw 2 title 'held-out eval'\n";
      } else if (present[i]) {
        gp << "set autoscale y\nplot '" << data_path << "' using 1:" << i + 2
           << " with linespoints pt 7 ps 0.4 notitle\n";
      } else {  // gnuplot refuses an all-undefined column: an empty panel that says so
        gp << "set label 1 'not recorded' at graph 0.5,0.5 center\nset yrange [0:1]\nplot -1 notitle\nunset "
              "label 1\n";
      }
    }
    gp << "unset multiplot\n";
  }
  const std::string cmd = "gnuplot '" + script_path + "' >/dev/null 2>&1";  // rc says if it failed
  const int rc = std::system(cmd.c_str());
  std::filesystem::remove(data_path);
  std::filesystem::remove(eval_path);
  std::filesystem::remove(script_path);
  if (rc != 0) return "gnuplot failed (exit " + std::to_string(rc) + "): is gnuplot installed?";
  return std::filesystem::exists(png_path) ? "" : "gnuplot wrote no " + png_path;
}

std::string summary_table(const Json& summary) {
  const Json& b = summary.at("eval_before");
  const Json& a = summary.at("eval_after");
  auto cell = [](const Json& j, const char* key, const char* fmt) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, j[key].get<double>());
    return std::string(buf);
  };
  std::string t = "                           before     after\n";
  const std::pair<const char*, const char*> rows[] = {{"accuracy", "pass@1 (sampled)"},
                                                      {"greedy_accuracy", "greedy accuracy"},
                                                      {"format_rate", "format rate"},
                                                      {"response_len_mean", "response length (tokens)"}};
  for (const auto& [key, label] : rows) {
    const char* fmt = std::string(key) == "response_len_mean" ? "%.1f" : "%.3f";
    char line[96];
    std::snprintf(line, sizeof line, "  %-24s %7s   %7s\n", label, cell(b, key, fmt).c_str(),
                  cell(a, key, fmt).c_str());
    t += line;
  }
  return t;
}

Json write_run_report(const std::string& output_dir, int64_t last_step) {  // < 0: the newest eval
  namespace fs = std::filesystem;
  const std::string eval_dir = output_dir + "/eval";
  auto eval_at = [&](int64_t step) {
    const std::string p = eval_dir + "/step_" + std::to_string(step) + ".json";
    return fs::exists(p) ? read_json(p) : Json(nullptr);
  };
  double seconds = 0;
  std::vector<std::pair<int64_t, double>> points;
  if (fs::exists(eval_dir)) {
    for (const auto& e : fs::directory_iterator(eval_dir)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("step_", 0) != 0 || e.path().extension() != ".json") continue;
      const Json j = read_json(e.path().string());
      seconds += j.value("seconds", 0.0);
      if (j.contains("accuracy") && j.contains("step")) points.emplace_back(j["step"], j["accuracy"]);
    }
  }
  std::sort(points.begin(), points.end());
  if (last_step < 0) {
    ZRL_CHECK(!points.empty(), "{}: no eval/step_<N>.json to report", output_dir);
    last_step = points.back().first;
  }
  const std::string metrics = output_dir + "/metrics.jsonl";
  if (fs::exists(metrics)) {
    for (const Json& row : read_jsonl(metrics)) seconds += row.value("time/total", 0.0);
  }
  Json summary = write_summary(output_dir, eval_at(0), eval_at(last_step), last_step, seconds);
  const std::string why = plot_curves(metrics, output_dir + "/curves.png", points);
  summary["curves"] = why.empty() ? output_dir + "/curves.png" : "not drawn: " + why;
  return summary;
}

}  // namespace zerorl::trainer
