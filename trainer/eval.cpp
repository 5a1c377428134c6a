// trainer/eval.cpp: k samples per question through rollout::Engine, verdicts from the Scorer's verifiers,
// then accuracy / avg@k / maj@k / pass@k. Not here: training-time scheduling (step.cpp calls evaluate).
#include "trainer/eval.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/seed.h"
#include "core/timer.h"
#include "model/checkpoint.h"
#include "rollout/engine.h"
#include "rollout/generate.h"
#include "trainer/components.h"

namespace zerorl::trainer {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  ZRL_CHECK(k >= 1 && k <= n && c >= 0 && c <= n,
            "pass@k needs 1 <= k <= n and 0 <= c <= n (n {}, c {}, k {})", n, c, k);
  if (n - c < k) return 1.0;
  double fail = 1.0;  // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
  for (int64_t i = n - c + 1; i <= n; ++i) fail *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - fail;
}

bool majority_correct(const std::vector<std::string>& extracted, const std::vector<bool>& correct) {
  std::map<std::string, int64_t> votes;
  std::string best;
  int64_t best_n = 0;
  for (const auto& e : extracted) {
    if (e.empty()) continue;
    const int64_t v = ++votes[e];
    if (v > best_n) best = e, best_n = v;
  }
  if (best_n == 0) return false;
  for (size_t i = 0; i < extracted.size(); ++i) {
    if (extracted[i] == best && correct[i]) return true;
  }
  return false;
}

Json evaluate(const Config& cfg, model::CausalLM& lm, const tokenizer::Tokenizer& tok,
              const std::vector<Row>& rows, const std::string& samples_path, uint64_t step) {
  Stopwatch watch;
  const int64_t k = cfg.eval.k;
  rollout::EngineOptions eo;
  if (!cfg.rollout.stop.empty()) eo.detokenizer = rollout::stream_detokenizer(tok);
  rollout::Engine engine(lm, eo);
  rollout::GenerateConfig gc;
  gc.sampler.temperature = k == 1 ? 0.0 : cfg.eval.temperature;
  gc.sampler.top_p = cfg.rollout.top_p;
  ZRL_CHECK(tok.eos_id().has_value(), "eval: the tokenizer has no eos_token");
  gc.stop.eos_ids = {*tok.eos_id()};
  gc.stop.stop = cfg.rollout.stop;
  gc.stop.max_new_tokens = cfg.eval.max_new_tokens > 0 ? cfg.eval.max_new_tokens : cfg.rollout.max_new_tokens;
  gc.group_size = k;
  gc.seed = mix_seed({static_cast<uint64_t>(cfg.run.seed), 0x6576616cULL});
  gc.step = step;
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& r : rows) {
    prompts.push_back(encode_prompt(cfg, tok, r));
    gc.prompt_keys.push_back(static_cast<uint64_t>(r.index));
  }
  rollout::RolloutResult res;
  {
    torch::NoGradGuard ng;
    res = engine.generate(prompts, gc);
  }
  std::vector<Scorer::Item> items;
  std::vector<std::string> texts;
  texts.reserve(res.samples.size());
  double tokens = 0;
  for (const auto& t : res.samples) {
    texts.push_back(tok.decode(std::vector<int32_t>(t.tokens.begin(), t.tokens.end()), true));
    items.push_back({&rows[static_cast<size_t>(t.prompt_index)], texts.back(),
                     static_cast<int64_t>(t.tokens.size()), t.finish != rollout::FinishReason::kLength});
    tokens += static_cast<double>(t.tokens.size());
  }
  Scorer scorer(cfg);
  const auto verdicts = scorer.verify(items);
  std::unique_ptr<JsonlWriter> out;
  if (!samples_path.empty()) {
    std::filesystem::create_directories(std::filesystem::path(samples_path).parent_path());
    out = std::make_unique<JsonlWriter>(samples_path, false);
  }
  double correct_sum = 0, maj_sum = 0, pass_sum = 0;
  for (size_t p = 0; p < rows.size(); ++p) {
    std::vector<std::string> ex;
    std::vector<bool> ok;
    for (int64_t j = 0; j < k; ++j) {
      const size_t i = p * static_cast<size_t>(k) + static_cast<size_t>(j);
      ex.push_back(verdicts[i].extracted);
      ok.push_back(verdicts[i].correct);
      correct_sum += verdicts[i].correct ? 1 : 0;
      if (out) {
        out->write({{"index", rows[p].index},
                    {"sample", j},
                    {"prompt", rows[p].prompt},
                    {"gold", rows[p].answer},
                    {"response", texts[i]},
                    {"extracted", verdicts[i].extracted},
                    {"correct", verdicts[i].correct},
                    {"status", verdicts[i].status},
                    {"finished", items[i].finished}});
      }
    }
    const auto c = static_cast<int64_t>(std::count(ok.begin(), ok.end(), true));
    maj_sum += majority_correct(ex, ok) ? 1 : 0;
    pass_sum += pass_at_k(k, c, k);
  }
  const double q = std::max<double>(1.0, static_cast<double>(rows.size()));
  Json summary{{"step", step},
               {"questions", rows.size()},
               {"k", k},
               {"mean_response_tokens", tokens / std::max<double>(1.0, static_cast<double>(items.size()))}};
  summary[k == 1 ? "accuracy" : "avg@" + std::to_string(k)] = correct_sum / (q * static_cast<double>(k));
  if (k > 1) {
    summary["maj@" + std::to_string(k)] = maj_sum / q;
    summary["pass@" + std::to_string(k)] = pass_sum / q;
  }
  summary["seconds"] = watch.seconds();
  return summary;
}

int run_eval(const Config& cfg, const std::string& checkpoint) {
  Config c = cfg;
  if (!checkpoint.empty()) {
    c.model.path = checkpoint;
    if (c.tokenizer.path.empty() && !std::filesystem::exists(checkpoint + "/tokenizer.json"))
      c.tokenizer.path = cfg.model.path;
  }
  const auto tok = build_tokenizer(c);
  const torch::Device device = torch::cuda::is_available() && cfg.run.device != "cpu"
                                   ? torch::Device(torch::kCUDA, 0)
                                   : torch::Device(torch::kCPU);
  auto lm = build_model(c, tok, device);
  std::vector<Row> rows;
  if (c.data.eval_path.empty()) {
    rows = build_rows(c);
  } else {
    rows = load_rows(c.data.eval_path, field_mapping(c.data));
  }
  if (c.eval.max_questions > 0 && static_cast<int64_t>(rows.size()) > c.eval.max_questions)
    rows.resize(static_cast<size_t>(c.eval.max_questions));
  const std::string summary_path =
      !c.eval.output.empty() ? c.eval.output : c.run.output_dir + "/eval/eval.json";
  const std::string samples_path = summary_path.substr(0, summary_path.rfind('.')) + "_samples.jsonl";
  const Json summary = evaluate(c, lm, tok, rows, samples_path, 0);
  std::filesystem::create_directories(std::filesystem::path(summary_path).parent_path());
  write_file_atomic(summary_path, summary.dump(2) + "\n");
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace zerorl::trainer
