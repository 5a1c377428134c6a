// trainer/sample.cpp: the `zerorl sample` loop: chunks of prompts -> answers and verdicts -> filters ->
// fsynced SFT lines and a progress state. Not here: filter logic (sample_filter.cpp), generation (eval.cpp).
#include "trainer/sample.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/seed.h"
#include "model/device.h"
#include "trainer/checkpoint.h"
#include "trainer/components.h"
#include "trainer/engine_setup.h"
#include "trainer/eval.h"
#include "trainer/sample_filter.h"
#include "verifiers/language.h"

namespace zerorl::trainer {
namespace {

namespace fs = std::filesystem;

// What the output depends on: a state from other settings cannot be resumed.
Json settings_key(const Config& cfg, size_t rows) {
  const SampleSection& s = cfg.sample;
  return {{"model", cfg.model.path},
          {"seed", cfg.run.seed},
          {"rows", rows},
          {"k", s.k},
          {"temperature", s.temperature},
          {"chunk_prompts", s.chunk_prompts},
          {"select", s.select},
          {"per_prompt", s.per_prompt},
          {"min_language", s.min_language},
          {"max_response_tokens", s.max_response_tokens},
          {"max_ngram_repeats", s.max_ngram_repeats},
          {"ngram", s.ngram},
          {"require_format", s.require_format},
          {"max_new_tokens", s.max_new_tokens},
          {"language", cfg.rewards.language}};
}

// Appends `text` and fsyncs; returns the file size after.
int64_t append_synced(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ZRL_CHECK(fd >= 0, "sample: cannot open '{}' for appending", path);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      ::close(fd);
      ZRL_FAIL("sample: writing '{}' failed (disk full?)", path);
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  return static_cast<int64_t>(fs::file_size(path));
}

// Restores progress: {chunks_done, bytes, stats}; truncates a partial chunk away.
Json resume_state(const std::string& out, const std::string& state_path, const Json& key) {
  if (!fs::exists(state_path)) {
    ZRL_CHECK(!fs::exists(out) || fs::file_size(out) == 0,
              "sample: '{}' exists without its progress file '{}': remove it or set sample.output", out,
              state_path);
    return {{"chunks_done", 0}, {"bytes", 0}, {"stats", Json::object()}, {"key", key}};
  }
  Json st = read_json(state_path);
  for (const auto& [k, v] : key.items()) {
    ZRL_CHECK(st["key"].contains(k) && st["key"][k] == v,
              "sample: '{}' was written with {} = {}, this run has {}: remove it (and '{}') or set "
              "sample.output",
              out, k, st["key"].value(k, Json()).dump(), v.dump(), state_path);
  }
  const auto bytes = st["bytes"].get<int64_t>();
  const auto have = fs::exists(out) ? static_cast<int64_t>(fs::file_size(out)) : 0;
  ZRL_CHECK(have >= bytes, "sample: '{}' has {} bytes, its progress file says {}: remove both to start over",
            out, have, bytes);
  if (have > bytes) {
    ZRL_WARN("sample: dropping {} bytes of an interrupted chunk from {}", have - bytes, out);
    fs::resize_file(out, static_cast<uintmax_t>(bytes));
  }
  ZRL_INFO("sample: resuming {} after {} chunks", out, st["chunks_done"].get<int64_t>());
  return st;
}

void count(Json& stats, const std::string& source, const std::string& what, int64_t n = 1) {
  Json& s = stats[source];
  if (!s.is_object()) s = Json::object();
  s[what] = s.value(what, int64_t{0}) + n;
}

// One prompt's k answers -> the lines to write; counters into `stats`.
std::string prompt_lines(const Config& cfg, const Row& row, const Answers& a, size_t first, const Json& prov,
                         Json& stats) {
  const int64_t k = cfg.sample.k;
  std::vector<Candidate> cands;
  for (int64_t j = 0; j < k; ++j) {
    const size_t i = first + static_cast<size_t>(j);
    cands.push_back({a.texts[i], a.items[i].tokens, a.verdicts[i].correct, a.format[i].correct,
                     verifiers::language_consistency(a.texts[i], cfg.rewards.language), ""});
  }
  const uint64_t seed = mix_seed({static_cast<uint64_t>(cfg.run.seed), static_cast<uint64_t>(row.index)});
  const std::vector<size_t> chosen = select_candidates(cands, cfg.sample, seed);
  std::string text;
  for (size_t j : chosen) {
    const auto& v = a.verdicts[first + j];
    Json p = prov;
    p["sample"] = j;
    p["tokens"] = cands[j].tokens;
    Json line{{"prompt", row.prompt},
              {"response", cands[j].response},
              {"data_source", row.data_source},
              {"answer", row.answer},
              {"index", row.index},
              {"verdict",
               {{"correct", v.correct},
                {"extracted", v.extracted},
                {"status", v.status},
                {"language", cands[j].language}}},
              {"provenance", p}};
    text += line.dump() + "\n";
  }
  const std::string& src = row.data_source;
  count(stats, src, "prompts");
  count(stats, src, "answers", k);
  for (const auto& c : cands) {
    if (c.correct) count(stats, src, "correct");
    if (c.reject.empty()) continue;
    Json& rejected = stats[src]["rejected"];
    if (!rejected.is_object()) rejected = Json::object();
    rejected[c.reject] = rejected.value(c.reject, int64_t{0}) + 1;
  }
  count(stats, src, "kept", static_cast<int64_t>(chosen.size()));
  if (!chosen.empty()) count(stats, src, "prompts_with_kept");
  return text;
}

Json summary_of(const Json& stats) {
  Json out = Json::object();
  for (const auto& [src, s] : stats.items()) {
    Json r = s;
    r["yield"] = static_cast<double>(s.value("kept", 0)) / std::max<int64_t>(1, s.value("answers", 0));
    r["prompt_yield"] =
        static_cast<double>(s.value("prompts_with_kept", 0)) / std::max<int64_t>(1, s.value("prompts", 0));
    out[src] = r;
  }
  return out;
}

}  // namespace

int run_sample(const Config& cfg, const std::string& checkpoint) {
  Config c = cfg;
  if (!checkpoint.empty()) {
    c.model.path = checkpoint;
    if (c.tokenizer.path.empty() && !fs::exists(checkpoint + "/tokenizer.json"))
      c.tokenizer.path = cfg.model.path;
  }
  const auto tok = build_tokenizer(c);
  auto lm = build_model(c, tok, model::resolve_device(c.run.device));
  std::vector<Row> rows = drop_long_prompts(c, tok, build_rows(c), c.data.train_path);
  if (c.sample.max_prompts > 0 && static_cast<int64_t>(rows.size()) > c.sample.max_prompts)
    rows.resize(static_cast<size_t>(c.sample.max_prompts));
  const std::string out = c.sample.output.empty() ? c.run.output_dir + "/sample/sft.jsonl" : c.sample.output;
  const std::string state_path = out + ".state.json";
  fs::create_directories(fs::absolute(out).parent_path());
  Json st = resume_state(out, state_path, settings_key(c, rows.size()));

  AnswerRequest req;
  req.k = c.sample.k;
  req.temperature = c.sample.temperature;
  req.max_new_tokens = c.sample.max_new_tokens > 0 ? c.sample.max_new_tokens : c.rollout.max_new_tokens;
  req.seed = mix_seed({static_cast<uint64_t>(c.run.seed), 0x73616d706c65ULL});  // "sample"
  const int64_t step = checkpoint.empty() ? -1 : checkpoint_step(checkpoint);
  const Json prov{{"model", c.model.path.empty() ? "tiny-random" : c.model.path},
                  {"step", step},
                  {"temperature", req.temperature},
                  {"seed", c.run.seed},
                  {"k", req.k}};
  rollout::Engine engine(lm, engine_options(c, tok, lm->device()));
  Scorer scorer(c);
  const auto chunk = static_cast<size_t>(c.sample.chunk_prompts);
  const size_t chunks = (rows.size() + chunk - 1) / chunk;
  for (auto ci = st["chunks_done"].get<size_t>(); ci < chunks; ++ci) {
    const std::vector<Row> part(
        rows.begin() + static_cast<std::ptrdiff_t>(ci * chunk),
        rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), (ci + 1) * chunk)));
    const Answers a = generate_answers(c, engine, tok, scorer, part, req);
    std::string text;
    for (size_t p = 0; p < part.size(); ++p)
      text += prompt_lines(c, part[p], a, p * static_cast<size_t>(req.k), prov, st["stats"]);
    st["bytes"] = append_synced(out, text);
    st["chunks_done"] = ci + 1;
    write_file_atomic(state_path, st.dump(2) + "\n");
    ZRL_INFO("sample: chunk {}/{} done", ci + 1, chunks);
  }
  const Json summary{{"output", out}, {"prompts", rows.size()}, {"by_source", summary_of(st["stats"])}};
  write_file_atomic(out.substr(0, out.rfind('.')) + "_summary.json", summary.dump(2) + "\n");
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace zerorl::trainer
