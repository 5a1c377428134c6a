// trainer/eval.h: evaluation of a policy on held-out questions: greedy accuracy (k = 1) or k samples per
// question with avg@k (mean accuracy), maj@k (majority vote over extracted answers) and unbiased pass@k;
// a summary JSON plus one JSONL line per sample. Not here: the training loop (step.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/run_config.h"
#include "dist/communicator.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "tokenizer/tokenizer.h"
#include "trainer/components.h"
#include "trainer/data.h"

namespace zerorl::trainer {

// Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, "Evaluating Large Language Models
// Trained on Code", eq. 1): 1 - C(n - c, k) / C(n, k), computed as a product to stay finite. Needs k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// The most frequent non-empty extracted answer (ties: the one seen first) and whether it is correct: a vote
// is correct when any sample that extracted the same string was judged correct.
bool majority_correct(const std::vector<std::string>& extracted, const std::vector<bool>& correct);

// k answers per row from `engine` with their verdicts (eval and zerorl sample share this). The random stream
// of a row's answers is keyed by (seed, step, row.index, sample): it does not depend on the other rows.
struct AnswerRequest {
  int64_t k = 1;
  double temperature = 0;  // 0: greedy
  int64_t max_new_tokens = 0;
  uint64_t seed = 0;
  uint64_t step = 0;
};
struct Answers {
  std::vector<std::string> texts;            // row-major: row p's answers are [p*k, (p+1)*k)
  std::vector<Scorer::Item> items;           // point into `rows` (keep it alive)
  std::vector<verifiers::Verdict> verdicts;  // accuracy verdicts (extracted answers for maj@k)
  std::vector<verifiers::Verdict> format;    // format verdicts (rewards.format_rule)
  std::vector<rewards::Reward> rewards;      // rewards, format score per answer
  double tokens = 0;                         // response tokens over all answers
};
Answers generate_answers(const Config& cfg, rollout::Engine& engine, const tokenizer::Tokenizer& tok,
                         Scorer& scorer, const std::vector<Row>& rows, const AnswerRequest& request);

// Runs eval.k samples at eval.temperature (greedy when k = 1) for each row, plus one greedy answer per row
// when k > 1; writes per-sample lines to `samples_path` when non-empty ("greedy": true marks the greedy
// ones); returns {step, questions, k, temperature, accuracy (pass@1: greedy when k = 1, else the mean over
// the k samples), greedy_accuracy, format_rate, response_len_mean (tokens), avg@k, maj@k, pass@k, seconds}.
// `engine`: generate with it (the trainer's, so one KV cache serves rollouts and eval); null = a new engine
// over `lm` with the config's budget (trainer/engine_setup.h).
// `comm` (data parallel; null or world size 1: one process): a collective, every rank calls it with the same
// rows. Rank r answers the questions [q*r/n, q*(r+1)/n); the answers are gathered in question order, so every
// rank returns the summary one process would (answers are keyed by question index, not by the shard), and
// rank 0 alone writes `samples_path`.
Json evaluate(const Config& cfg, model::CausalLM& lm, const tokenizer::Tokenizer& tok,
              const std::vector<Row>& rows, const std::string& samples_path, uint64_t step,
              rollout::Engine* engine = nullptr, dist::Communicator* comm = nullptr);

// The held-out rows: data.eval_path (the toy task's rows when empty) without the prompts longer than
// tokenizer.max_prompt_tokens (drop_long_prompts), cut to eval.max_questions.
std::vector<Row> load_eval_rows(const Config& cfg, const tokenizer::Tokenizer& tok);

// `zerorl eval`: loads the checkpoint (or model.path / the tiny model), evaluates data.eval_path (the toy
// task when empty), writes the summary (eval.output or <output_dir>/eval/eval.json) and prints it. Under
// mpirun / srun the questions are sharded over the ranks (evaluate's `comm`) and rank 0 writes and prints.
int run_eval(const Config& cfg, const std::string& checkpoint);

}  // namespace zerorl::trainer
