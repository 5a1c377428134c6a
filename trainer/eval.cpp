// trainer/eval.cpp: k samples per question through rollout::Engine, verdicts from the Scorer's verifiers,
// then accuracy / avg@k / maj@k / pass@k, sharded over ranks and gathered. Not here: training-time
// scheduling (step.cpp calls evaluate).
#include "trainer/eval.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "core/timer.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "rollout/engine.h"
#include "trainer/components.h"
#include "trainer/data_parallel.h"
#include "trainer/engine_setup.h"

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

Answers generate_answers(const Config& cfg, rollout::Engine& engine, const tokenizer::Tokenizer& tok,
                         Scorer& scorer, const std::vector<Row>& rows, const AnswerRequest& req) {
  rollout::GenerateConfig gc;
  gc.sampler.temperature = req.temperature;
  gc.sampler.top_p = cfg.rollout.top_p;
  ZRL_CHECK(tok.eos_id().has_value(), "eval: the tokenizer has no eos_token");
  gc.stop.eos_ids = {*tok.eos_id()};
  gc.stop.stop = cfg.rollout.stop;
  gc.stop.max_new_tokens = req.max_new_tokens;
  gc.group_size = req.k;
  gc.seed = req.seed;
  gc.step = req.step;
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
  Answers s;
  s.texts.reserve(res.samples.size());
  for (const auto& t : res.samples) {
    s.texts.push_back(tok.decode(std::vector<int32_t>(t.tokens.begin(), t.tokens.end()), true));
    s.tokens += static_cast<double>(t.tokens.size());
  }
  for (size_t i = 0; i < res.samples.size(); ++i) {
    const auto& t = res.samples[i];
    s.items.push_back({&rows[static_cast<size_t>(t.prompt_index)], s.texts[i],
                       static_cast<int64_t>(t.tokens.size()), t.finish != rollout::FinishReason::kLength});
  }
  Scorer::Scored scored = scorer.score_all(s.items);  // each verifier once per answer
  s.verdicts = std::move(scored.accuracy);
  s.format = std::move(scored.format);
  s.rewards = std::move(scored.rewards);
  return s;
}

namespace {

using Scored = Answers;

// Answers and their verdicts for k samples per row (greedy when temperature == 0), on eval's random stream.
Scored generate_scored(const Config& cfg, rollout::Engine& engine, const tokenizer::Tokenizer& tok,
                       Scorer& scorer, const std::vector<Row>& rows, int64_t k, double temperature,
                       uint64_t step) {
  AnswerRequest req;
  req.k = k;
  req.temperature = temperature;
  req.max_new_tokens = cfg.eval.max_new_tokens > 0 ? cfg.eval.max_new_tokens : cfg.rollout.max_new_tokens;
  req.seed = mix_seed({static_cast<uint64_t>(cfg.run.seed), 0x6576616cULL});
  req.step = step;
  return generate_answers(cfg, engine, tok, scorer, rows, req);
}

// One answer as eval reports it: its samples.jsonl line, plus "tokens" (response length, not written).
Json records(const std::vector<Row>& rows, const Scored& s, int64_t k, bool greedy) {
  Json out = Json::array();
  for (size_t i = 0; i < s.items.size(); ++i) {
    const Row& r = rows[i / static_cast<size_t>(k)];
    out.push_back({{"index", r.index},
                   {"sample", greedy ? -1 : static_cast<int64_t>(i % static_cast<size_t>(k))},
                   {"greedy", greedy},
                   {"prompt", r.prompt},
                   {"gold", r.answer},
                   {"response", s.texts[i]},
                   {"extracted", s.verdicts[i].extracted},
                   {"correct", s.verdicts[i].correct},
                   {"format", s.rewards[i].format},
                   {"status", s.verdicts[i].status},
                   {"finished", s.items[i].finished},
                   {"tokens", s.items[i].tokens}});
  }
  return out;
}

void write_records(JsonlWriter& out, Json records) {
  for (auto& r : records) {
    r.erase("tokens");
    out.write(r);
  }
}

// Every rank's JSON array, concatenated in rank order (every rank gets it): the dumps travel as the rows of a
// [world, longest] uint8 all-gather. World size 1: `mine` as it is.
Json gather_arrays(dist::Communicator* comm, Json mine) {
  if (comm == nullptr || comm->world_size() == 1) return mine;
  const std::string text = mine.dump();
  auto len = torch::tensor({static_cast<int64_t>(text.size())}, torch::kInt64).to(comm->device());
  const torch::Tensor lens = comm->all_gather(len).cpu();  // [world, 1]
  auto bytes = torch::zeros({lens.max().item<int64_t>()}, torch::kUInt8);
  std::memcpy(bytes.data_ptr(), text.data(), text.size());
  const torch::Tensor all = comm->all_gather(bytes.to(comm->device())).cpu().contiguous();
  Json out = Json::array();
  for (int r = 0; r < comm->world_size(); ++r) {
    const std::string t(reinterpret_cast<const char*>(all[r].data_ptr<uint8_t>()),
                        static_cast<size_t>(lens[r][0].item<int64_t>()));
    for (auto& x : Json::parse(t)) out.push_back(std::move(x));
  }
  return out;
}

double correct_rate(const Json& records) {
  double c = 0;
  for (const auto& r : records) c += r["correct"].get<bool>() ? 1 : 0;
  return c / std::max<double>(1.0, static_cast<double>(records.size()));
}

// The summary of evaluate() from the k samples of every question, row-major, and the greedy answers (k > 1).
Json summarize(const Json& samples, const Json& greedy, size_t questions, int64_t k, double temperature,
               uint64_t step) {
  double maj_sum = 0, pass_sum = 0, format_sum = 0, tokens = 0;
  for (size_t p = 0; p < questions; ++p) {
    std::vector<std::string> ex;
    std::vector<bool> ok;
    for (int64_t j = 0; j < k; ++j) {
      const Json& r = samples[p * static_cast<size_t>(k) + static_cast<size_t>(j)];
      ex.push_back(r["extracted"].get<std::string>());
      ok.push_back(r["correct"].get<bool>());
      format_sum += r["format"].get<double>();
      tokens += r["tokens"].get<double>();
    }
    const auto c = static_cast<int64_t>(std::count(ok.begin(), ok.end(), true));
    maj_sum += majority_correct(ex, ok) ? 1 : 0;
    pass_sum += pass_at_k(k, c, k);
  }
  const double q = std::max<double>(1.0, static_cast<double>(questions));
  const double answers = std::max<double>(1.0, static_cast<double>(samples.size()));
  Json summary{{"step", step},
               {"questions", questions},
               {"k", k},
               {"temperature", temperature},
               {"accuracy", correct_rate(samples)},  // greedy (k = 1) or pass@1 averaged over k samples
               {"format_rate", format_sum / answers},
               {"response_len_mean", tokens / answers}};
  if (k > 1) {
    const std::string ks = std::to_string(k);
    summary["avg@" + ks] = summary["accuracy"];
    summary["maj@" + ks] = maj_sum / q;
    summary["pass@" + ks] = pass_sum / q;
    summary["greedy_accuracy"] = correct_rate(greedy);
  } else {
    summary["greedy_accuracy"] = summary["accuracy"];
  }
  return summary;
}

}  // namespace

Json evaluate(const Config& cfg, model::CausalLM& lm, const tokenizer::Tokenizer& tok,
              const std::vector<Row>& rows, const std::string& samples_path, uint64_t step,
              rollout::Engine* engine, dist::Communicator* comm) {
  Stopwatch watch;
  std::unique_ptr<rollout::Engine> own;
  if (engine == nullptr) {
    own = std::make_unique<rollout::Engine>(lm, engine_options(cfg, tok, lm->device()));
    engine = own.get();
  }
  // This rank's contiguous share of the questions (all of them at world size 1). A row's answers are keyed
  // by its index, so the shard does not change them.
  const size_t n = comm != nullptr ? static_cast<size_t>(comm->world_size()) : 1;
  const size_t r = comm != nullptr ? static_cast<size_t>(comm->rank()) : 0;
  const std::vector<Row> mine(rows.begin() + static_cast<std::ptrdiff_t>(rows.size() * r / n),
                              rows.begin() + static_cast<std::ptrdiff_t>(rows.size() * (r + 1) / n));
  if (n > 1)
    ZRL_INFO("eval: rank {} of {} answers questions [{}, {}) of {}", r, n, rows.size() * r / n,
             rows.size() * (r + 1) / n, rows.size());
  const int64_t k = cfg.eval.k;
  const double temperature = k == 1 ? 0.0 : cfg.eval.temperature;
  Scorer scorer(cfg);
  const Json samples = gather_arrays(
      comm, records(mine, generate_scored(cfg, *engine, tok, scorer, mine, k, temperature, step), k, k == 1));
  Json greedy = Json::array();
  if (k > 1)  // greedy beside the samples
    greedy = gather_arrays(
        comm, records(mine, generate_scored(cfg, *engine, tok, scorer, mine, 1, 0.0, step), 1, true));
  Json summary = summarize(samples, greedy, rows.size(), k, temperature, step);
  if (!samples_path.empty() && r == 0) {
    std::filesystem::create_directories(std::filesystem::path(samples_path).parent_path());
    JsonlWriter out(samples_path, false);
    write_records(out, samples);
    write_records(out, greedy);
  }
  summary["seconds"] = watch.seconds();
  return summary;
}

std::vector<Row> load_eval_rows(const Config& cfg, const tokenizer::Tokenizer& tok) {
  std::vector<Row> rows =
      cfg.data.eval_path.empty() ? build_rows(cfg) : load_rows(cfg.data.eval_path, field_mapping(cfg.data));
  rows = drop_long_prompts(cfg, tok, std::move(rows),
                           cfg.data.eval_path.empty() ? "the built-in toy task" : cfg.data.eval_path);
  if (cfg.eval.max_questions > 0 && static_cast<int64_t>(rows.size()) > cfg.eval.max_questions)
    rows.resize(static_cast<size_t>(cfg.eval.max_questions));
  return rows;
}

int run_eval(const Config& cfg, const std::string& checkpoint) {
  Config c = cfg;
  if (!checkpoint.empty()) {
    c.model.path = checkpoint;
    if (c.tokenizer.path.empty() && !std::filesystem::exists(checkpoint + "/tokenizer.json"))
      c.tokenizer.path = cfg.model.path;
  }
  const auto tok = build_tokenizer(c);
  // Under mpirun / srun each rank evaluates its share of the questions; rank 0 alone writes.
  const dist::Context ctx = dist::discover();
  const torch::Device device = rank_device(cfg.run.device, ctx);
  const auto comm = make_run_communicator(c, ctx, device);
  auto lm = build_model(c, tok, device);
  const std::vector<Row> rows = load_eval_rows(c, tok);
  const std::string summary_path =
      !c.eval.output.empty() ? c.eval.output : c.run.output_dir + "/eval/eval.json";
  const std::string samples_path = summary_path.substr(0, summary_path.rfind('.')) + "_samples.jsonl";
  const Json summary = evaluate(c, lm, tok, rows, samples_path, 0, nullptr, comm.get());
  comm->barrier();  // every rank's share is in before rank 0 reports
  if (comm->rank() != 0) return 0;
  std::filesystem::create_directories(std::filesystem::path(summary_path).parent_path());
  write_file_atomic(summary_path, summary.dump(2) + "\n");
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace zerorl::trainer
