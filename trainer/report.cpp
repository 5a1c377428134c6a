// trainer/report.cpp: summary.json and curves.png (gnuplot as a subprocess, spawned without a shell, its
// script on stdin: a packaged plotting tool rather than a hand-written rasterizer). Not here: the metrics
// themselves.
#include "trainer/report.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace zerorl::trainer {
namespace {

Json pick_number(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key] : Json(nullptr);
}

}  // namespace

int run_gnuplot(const std::string& script_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, script_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  char arg0[] = "gnuplot";
  char* argv[] = {arg0, nullptr};
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, "gnuplot", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) return 127;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::vector<CurvePanel> curve_panels(const std::vector<Json>& rows) {
  bool kl_measured = false;  // old runs logged kl = 0 without a reference model: all-zero is not measured
  for (const Json& row : rows) {
    const Json kl = pick_number(row, "kl");
    kl_measured = kl_measured || (!kl.is_null() && kl.get<double>() != 0.0);
  }
  std::vector<CurvePanel> panels = {{"reward_mean", "reward (mean)"},
                                    {"accuracy", "accuracy"},
                                    {"response_len_mean", "response length (tokens)"}};
  if (kl_measured) {
    panels.push_back({"kl", "KL to reference"});
  } else {
    panels.push_back({"entropy", "policy entropy (nats/token; no KL: kl_coef is 0)"});
  }
  return panels;
}

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

namespace {

// gnuplot commands drawing `panels` from the columns 2.. of `data_path` (+ held-out points on the accuracy
// panel). Every path and title goes in through gnuplot_quote.
std::string curves_script(const std::string& title, const std::string& png_path, const std::string& data_path,
                          const std::string& eval_path, const std::vector<CurvePanel>& panels,
                          const std::vector<bool>& present, bool eval_points) {
  std::string gp = "set terminal pngcairo size 1200,800 font ',10' noenhanced\nset output " +
                   gnuplot_quote(png_path) + "\nset multiplot layout 2,2 title " +
                   gnuplot_quote("zerorl: " + title) + "\nset grid\nset xlabel 'step'\n";
  for (size_t i = 0; i < panels.size(); ++i) {
    const std::string col = std::to_string(i + 2);
    gp += "set title " + gnuplot_quote(panels[i].title) + "\n";
    if (present[i] && panels[i].key == "accuracy" && eval_points) {  // train rollouts and held-out evals
      gp += "set autoscale y\nset key bottom right\nplot " + gnuplot_quote(data_path) + " using 1:" + col +
            " with linespoints pt 7 ps 0.4 title 'train rollouts', " + gnuplot_quote(eval_path) +
            " using 1:2 with linespoints pt 5 ps 1.2 lw 2 title 'held-out eval'\n";
    } else if (present[i]) {
      gp += "set autoscale y\nplot " + gnuplot_quote(data_path) + " using 1:" + col +
            " with linespoints pt 7 ps 0.4 notitle\n";
    } else {  // gnuplot refuses an all-undefined column: an empty panel that says so
      gp +=
          "set label 1 'not recorded' at graph 0.5,0.5 center\nset yrange [0:1]\nplot -1 notitle\nunset "
          "label 1\n";
    }
  }
  return gp + "unset multiplot\n";
}

}  // namespace

std::string plot_curves(const std::string& metrics_path, const std::string& png_path,
                        const std::vector<std::pair<int64_t, double>>& eval_accuracy) {
  if (!std::filesystem::exists(metrics_path)) return metrics_path + " does not exist";
  std::vector<Json> rows;
  for (Json& row : read_jsonl(metrics_path)) {
    if (row.contains("step")) rows.push_back(std::move(row));
  }
  if (rows.empty()) return metrics_path + " has no rows with \"step\"";
  // A line break would end a gnuplot string and start a command (gnuplot can run shell commands).
  if ((metrics_path + png_path).find_first_of("\n\r") != std::string::npos) {
    return "a path with a line break cannot be given to gnuplot";
  }
  const std::vector<CurvePanel> panels = curve_panels(rows);
  const std::string data_path = png_path + ".dat", script_path = png_path + ".gp";
  const std::string eval_path = png_path + ".eval.dat";
  {
    std::ofstream e(eval_path);
    for (const auto& [step, acc] : eval_accuracy) e << step << ' ' << acc << '\n';
  }
  std::vector<bool> present(panels.size(), false);
  {
    std::ofstream data(data_path);
    for (const Json& row : rows) {
      data << row["step"].get<int64_t>();
      for (size_t i = 0; i < panels.size(); ++i) {
        const Json v = pick_number(row, panels[i].key.c_str());
        present[i] = present[i] || !v.is_null();
        data << ' ' << (v.is_null() ? std::string("NaN") : std::to_string(v.get<double>()));
      }
      data << '\n';
    }
  }
  std::ofstream(script_path) << curves_script(metrics_path, png_path, data_path, eval_path, panels, present,
                                              !eval_accuracy.empty());
  const int rc = run_gnuplot(script_path);
  std::filesystem::remove(data_path);
  std::filesystem::remove(eval_path);
  std::filesystem::remove(script_path);
  if (rc == 127) return "gnuplot could not be started: is gnuplot installed?";
  if (rc != 0) return "gnuplot failed (exit " + std::to_string(rc) + ")";
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
