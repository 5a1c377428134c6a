// trainer/pipeline.cpp: pipeline files, stage wiring (from: -> model.path / sft.train_path), skip and resume,
// and the summary table and picture. Not here: what a stage does (its own run_* function).
#include "trainer/pipeline.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"
#include "trainer/checkpoint.h"
#include "trainer/eval.h"
#include "trainer/pretrain.h"
#include "trainer/report.h"
#include "trainer/sample.h"
#include "trainer/sft.h"
#include "trainer/step.h"

namespace zerorl::trainer {
namespace {

namespace fs = std::filesystem;

const std::set<std::string> kKinds = {"pretrain", "sft", "train", "sample", "eval"};
bool gives_model(const std::string& kind) { return kind == "pretrain" || kind == "sft" || kind == "train"; }

std::vector<std::string> string_list(const YAML::Node& n, const std::string& where) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) return {n.as<std::string>()};
  ZRL_CHECK(n.IsSequence(), "{}: must be a string or a list of strings", where);
  for (const auto& x : n) {
    ZRL_CHECK(x.IsScalar(), "{}: must hold strings", where);
    out.push_back(x.as<std::string>());
  }
  return out;
}

PipelineStage parse_stage(const YAML::Node& n, const std::string& where) {
  ZRL_CHECK(n.IsMap(), "{}: a stage is a mapping with name, kind, config (set, from optional)", where);
  PipelineStage s;
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (key == "name" || key == "kind" || key == "config") {
      ZRL_CHECK(kv.second.IsScalar(), "{}: '{}' must be a string", where, key);
      (key == "name" ? s.name : key == "kind" ? s.kind : s.config) = kv.second.as<std::string>();
    } else if (key == "set" || key == "from") {
      (key == "set" ? s.set : s.from) = string_list(kv.second, where + "." + key);
    } else {
      ZRL_FAIL("{}: unknown key '{}' (name, kind, config, set, from)", where, key);
    }
  }
  ZRL_CHECK(!s.name.empty() && s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                        "0123456789_-") == std::string::npos,
            "{}: name '{}' must be non-empty letters, digits, '_' or '-'", where, s.name);
  ZRL_CHECK(kKinds.count(s.kind) == 1, "{} ({}): kind '{}' is not one of pretrain, sft, train, sample, eval",
            where, s.name, s.kind);
  ZRL_CHECK(!s.config.empty(), "{} ({}): 'config' names the stage's run config", where, s.name);
  return s;
}

void check_from(const Pipeline& p, size_t i, const std::string& path) {
  const PipelineStage& s = p.stages[i];
  for (const std::string& f : s.from) {
    size_t j = 0;
    while (j < i && p.stages[j].name != f) ++j;
    ZRL_CHECK(j < i, "{}: stage '{}' takes from '{}', which is not an earlier stage", path, s.name, f);
    const std::string& k = p.stages[j].kind;
    ZRL_CHECK(k != "eval", "{}: stage '{}' takes from '{}', an eval stage, which makes no model or data",
              path, s.name, f);
    ZRL_CHECK(k != "sample" || s.kind == "sft",
              "{}: stage '{}' ({}) takes data from sample stage '{}': only an sft stage uses samples", path,
              s.name, s.kind, f);
    ZRL_CHECK(!gives_model(k) || s.kind != "pretrain",
              "{}: stage '{}' is a pretrain (from scratch) and cannot take a model from '{}'", path, s.name,
              f);
  }
}

// The stage's held-out numbers: the newest eval/step_<N>.json (train, sft) or eval/eval.json (eval); a
// train or sft stage's eval/step_0.json holds its starting model's (the `before_*` columns).
Json stage_eval(const std::string& dir) {
  std::error_code ec;
  int64_t best = -1;
  Json out;
  for (const auto& e : fs::directory_iterator(dir + "/eval", ec)) {
    const std::string n = e.path().filename().string();
    if (n == "eval.json") return read_json(e.path().string());
    if (n.rfind("step_", 0) != 0 || e.path().extension() != ".json") continue;
    const int64_t step = std::stoll(n.substr(5));
    if (step > best) best = step, out = read_json(e.path().string());
  }
  return out;
}

}  // namespace

Pipeline load_pipeline(const std::string& path) {
  ZRL_CHECK(fs::exists(path), "pipeline file '{}' does not exist", path);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    ZRL_FAIL("{}: not valid YAML: {}", path, e.what());
  }
  ZRL_CHECK(root.IsMap(), "{}: expected a mapping with output_dir and stages", path);
  Pipeline p;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "output_dir") {
      p.output_dir = kv.second.as<std::string>();
    } else if (key == "stages") {
      ZRL_CHECK(kv.second.IsSequence(), "{}: 'stages' must be a list", path);
      for (size_t i = 0; i < kv.second.size(); ++i)
        p.stages.push_back(parse_stage(kv.second[i], path + ": stages[" + std::to_string(i) + "]"));
    } else {
      ZRL_FAIL("{}: unknown key '{}' (output_dir, stages)", path, key);
    }
  }
  ZRL_CHECK(!p.output_dir.empty(), "{}: 'output_dir' is missing", path);
  ZRL_CHECK(!p.stages.empty(), "{}: 'stages' is empty", path);
  std::set<std::string> names;
  for (size_t i = 0; i < p.stages.size(); ++i) {
    ZRL_CHECK(names.insert(p.stages[i].name).second, "{}: two stages are named '{}'", path, p.stages[i].name);
    check_from(p, i, path);
  }
  return p;
}

std::string stage_model_dir(const PipelineStage& stage, const std::string& dir) {
  if (stage.kind == "pretrain") return fs::exists(dir + "/model/config.json") ? dir + "/model" : "";
  if (stage.kind == "train" || stage.kind == "sft") {
    const auto ck = latest_valid_checkpoint(dir);
    return ck ? ck->path : "";
  }
  return "";
}

namespace {

// The stage's config: its file, its overrides, then what `from` gives and its own output_dir. check_only:
// a stage with no model yet gives <its dir>/model (the file is checked, nothing runs).
Config stage_config(const Pipeline& p, const PipelineStage& s, const ConfigLoader& load, bool check_only) {
  Config cfg = load(s.config, s.set);
  cfg.run.output_dir = p.output_dir + "/" + s.name;
  for (const std::string& f : s.from) {
    const PipelineStage* src = nullptr;
    for (const auto& x : p.stages)
      if (x.name == f) src = &x;
    const std::string dir = p.output_dir + "/" + f;
    if (src->kind == "sample") {
      cfg.sft.train_path = dir + "/sample/sft.jsonl";
    } else {
      std::string model = stage_model_dir(*src, dir);
      if (model.empty() && check_only) model = dir + "/model";
      ZRL_CHECK(!model.empty(), "pipeline: stage '{}' needs the model of '{}', which has none in {}", s.name,
                f, dir);
      cfg.model.path = model;
      cfg.tokenizer.path = "";  // the model folder carries its tokenizer
    }
  }
  if (s.kind == "eval" && cfg.eval.output.empty()) cfg.eval.output = cfg.run.output_dir + "/eval/eval.json";
  return cfg;
}

void run_stage(const PipelineStage& s, Config cfg) {
  if (s.kind == "pretrain") {
    run_pretrain(cfg.pretrain, cfg.run.output_dir, cfg.run.seed, cfg.run.device);
  } else if (s.kind == "train") {
    run_train(cfg, "auto");
  } else if (s.kind == "sft") {
    run_sft(cfg, "auto");
  } else if (s.kind == "sample") {
    cfg.sample.output = "";  // the pipeline's place: <stage>/sample/sft.jsonl
    run_sample(cfg, "");
  } else {
    run_eval(cfg, "");
  }
}

std::string summary_text(const Json& rows) {
  // before: the stage's starting model (its step-0 eval); pass@1 / greedy: its final model.
  std::string t = fmt::format("{:<18} {:<9} {:>8} {:>6} {:>7} {:>7} {:>7} {:>7}  {}\n", "stage", "kind",
                              "seconds", "steps", "before", "pass@1", "before", "greedy", "model / output");
  auto num = [](const Json& j, const char* k) {
    return j.contains(k) && j[k].is_number() ? fmt::format("{:.3f}", j[k].get<double>()) : std::string("-");
  };
  for (const auto& r : rows)
    t += fmt::format("{:<18} {:<9} {:>8.1f} {:>6} {:>7} {:>7} {:>7} {:>7}  {}\n",
                     r["name"].get<std::string>(), r["kind"].get<std::string>(), r.value("seconds", 0.0),
                     r.contains("step") ? std::to_string(r["step"].get<int64_t>()) : std::string("-"),
                     num(r, "before_accuracy"), num(r, "accuracy"), num(r, "before_greedy_accuracy"),
                     num(r, "greedy_accuracy"), r.value("model", ""));
  return t;
}

// pipeline.png: held-out pass@1 and greedy accuracy per evaluated stage (gnuplot); "" or why not.
std::string draw(const std::string& out, const Json& rows) {
  std::string data;
  for (const auto& r : rows)
    if (r.contains("accuracy"))
      data += fmt::format("\"{}\" {} {}\n", r["name"].get<std::string>(), r["accuracy"].get<double>(),
                          r.value("greedy_accuracy", 0.0));
  if (data.empty()) return "no stage evaluated";
  write_file_atomic(out + "/pipeline_plot.dat", data);
  const std::string gp =
      "set terminal pngcairo size 900,500 noenhanced\nset output " + gnuplot_quote(out + "/pipeline.png") +
      "\nset style data histograms\nset style fill solid 0.8\nset yrange [0:1]\nset grid y\nset title "
      "'held-out accuracy per stage'\nplot " +
      gnuplot_quote(out + "/pipeline_plot.dat") +
      " using 2:xtic(1) title 'pass@1', '' using 3 title 'greedy'\n";
  write_file_atomic(out + "/pipeline_plot.gp", gp);
  return run_gnuplot(out + "/pipeline_plot.gp") == 0 ? out + "/pipeline.png" : "gnuplot failed or is missing";
}

}  // namespace

int run_pipeline(const std::string& path, const ConfigLoader& load) {
  const Pipeline p = load_pipeline(path);
  fs::create_directories(p.output_dir);
  Json rows = Json::array();
  for (const PipelineStage& s : p.stages) {
    const std::string dir = p.output_dir + "/" + s.name;
    const std::string done = dir + "/stage.json";
    Json row;
    if (fs::exists(done)) {
      row = read_json(done);
      ZRL_INFO("pipeline: stage {} ({}) is done: skipped", s.name, s.kind);
    } else {
      const Config cfg = stage_config(p, s, load, /*check_only=*/false);
      ZRL_INFO("pipeline: stage {} ({}) starts in {}", s.name, s.kind, dir);
      Stopwatch w;
      run_stage(s, cfg);
      row = Json{
          {"name", s.name}, {"kind", s.kind}, {"seconds", w.seconds()}, {"model", stage_model_dir(s, dir)}};
      const Json ev = stage_eval(dir);
      for (const char* k : {"accuracy", "greedy_accuracy", "step"})
        if (ev.contains(k)) row[k] = ev[k];
      if (s.kind == "sample") row["model"] = dir + "/sample/sft.jsonl";
      if (s.kind == "eval") row["model"] = cfg.model.path;  // the model it evaluated
      write_file_atomic(done, row.dump(2) + "\n");
    }
    // The starting model's numbers (a train or sft stage's step-0 eval), also for a stage finished earlier.
    if ((s.kind == "train" || s.kind == "sft") && fs::exists(dir + "/eval/step_0.json")) {
      const Json before = read_json(dir + "/eval/step_0.json");
      for (const char* k : {"accuracy", "greedy_accuracy"})
        if (before.contains(k)) row[std::string("before_") + k] = before[k];
    }
    rows.push_back(row);
  }
  const std::string picture = draw(p.output_dir, rows);
  write_file_atomic(p.output_dir + "/pipeline_summary.json",
                    Json{{"stages", rows}, {"picture", picture}}.dump(2) + "\n");
  std::printf("%s", summary_text(rows).c_str());
  std::printf("summary: %s/pipeline_summary.json\npicture: %s\n", p.output_dir.c_str(), picture.c_str());
  return 0;
}

int check_pipeline(const std::string& path, const ConfigLoader& load) {
  const Pipeline p = load_pipeline(path);
  for (const PipelineStage& s : p.stages) {
    const Config cfg = stage_config(p, s, load, /*check_only=*/true);
    std::printf("%-18s %-9s config %s: model.path %s%s\n", s.name.c_str(), s.kind.c_str(), s.config.c_str(),
                s.kind == "pretrain" ? "(from scratch)" : cfg.model.path.c_str(),
                s.kind == "sft" ? (", sft.train_path " + cfg.sft.train_path).c_str() : "");
  }
  std::printf("%s: %zu stages resolve\n", path.c_str(), p.stages.size());
  return 0;
}

}  // namespace zerorl::trainer
