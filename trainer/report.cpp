// trainer/report.cpp: summary.json and curves.png (gnuplot as a subprocess: a packaged plotting tool rather
// than a hand-written rasterizer). Not here: the metrics themselves.
#include "trainer/report.h"

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

std::string plot_curves(const std::string& metrics_path, const std::string& png_path) {
  if (!std::filesystem::exists(metrics_path)) return metrics_path + " does not exist";
  const std::string data_path = png_path + ".dat", script_path = png_path + ".gp";
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
    gp << "set terminal pngcairo size 1200,800 font ',10'\nset output '" << png_path << "'\n"
       << "set multiplot layout 2,2 title 'zerorl: " << metrics_path << "'\nset grid\nset xlabel 'step'\n";
    const char* titles[] = {"reward (mean)", "accuracy (train rollouts)", "response length (tokens)",
                            "KL to reference"};
    for (int i = 0; i < 4; ++i) {
      gp << "set title '" << titles[i] << "'\n";
      if (present[i]) {
        gp << "set autoscale y\nplot '" << data_path << "' using 1:" << i + 2
           << " with linespoints pt 7 ps 0.4 notitle\n";
      } else {  // gnuplot refuses an all-undefined column: an empty panel that says so
        gp << "set label 1 'not recorded' at graph 0.5,0.5 center\nset yrange [0:1]\nplot -1 notitle\nunset "
              "label 1\n";
      }
    }
    gp << "unset multiplot\n";
  }
  const std::string cmd = "gnuplot '" + script_path + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::filesystem::remove(data_path);
  std::filesystem::remove(script_path);
  if (rc != 0) return "gnuplot failed (exit " + std::to_string(rc) + "): is gnuplot installed?";
  return std::filesystem::exists(png_path) ? "" : "gnuplot wrote no " + png_path;
}

}  // namespace zerorl::trainer
