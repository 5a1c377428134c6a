// tools/gen_tasks.cpp: zerorl_gen_tasks, the synthetic-task generator: writes <out>/train.jsonl and
// <out>/eval.jsonl (RL rows) and <out>/corpus.jsonl ({"text"} worked solutions) from a seed. Not here: the
// generators themselves (trainer/tasks/synthetic.h).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "core/error.h"
#include "core/json_io.h"
#include "core/seed.h"
#include "trainer/tasks/synthetic.h"

namespace tasks = zerorl::trainer::tasks;

int main(int argc, char** argv) {
  CLI::App app{"zerorl_gen_tasks: Countdown / arithmetic RL prompts and a pretraining corpus"};
  tasks::TaskSpec spec;
  std::string out;
  uint64_t seed = 0;
  int64_t n_train = 2000, n_eval = 200, n_corpus = 20000, docs_per_problem = 1;
  double mistake_rate = 0.15, preamble_rate = 0.0;
  app.add_option("--task", spec.task, "countdown | arithmetic")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--seed", seed, "seed of every draw");
  app.add_option("--train", n_train, "RL train prompts");
  app.add_option("--eval", n_eval, "held-out eval prompts");
  app.add_option("--corpus", n_corpus, "distinct problems in the pretraining corpus");
  app.add_option("--docs-per-problem", docs_per_problem, "worked documents per corpus problem");
  app.add_option("--mistake-rate", mistake_rate, "share of corpus documents with an error");
  app.add_option("--preamble-rate", preamble_rate, "share of corpus documents behind a generic preamble");
  app.add_option("--digits", spec.arithmetic_digits, "arithmetic: digits per operand");
  app.add_option("--ops", spec.arithmetic_ops, "arithmetic: operators, e.g. +-*");
  app.add_option("--numbers", spec.countdown_numbers, "countdown: numbers per instance");
  app.add_option("--max-number", spec.countdown_max, "countdown: numbers are 1..this");
  app.add_option("--max-target", spec.countdown_max_target, "countdown: targets are 1..this");
  CLI11_PARSE(app, argc, argv);
  try {
    const tasks::Splits s = tasks::make_splits(spec, seed, n_train, n_eval, n_corpus);
    std::filesystem::create_directories(out);
    auto write_rows = [&](const std::string& name, const std::vector<tasks::Problem>& rows) {
      zerorl::JsonlWriter w(out + "/" + name, /*append=*/false);
      for (const auto& p : rows) w.write(tasks::problem_row(p));
    };
    write_rows("train.jsonl", s.train);
    write_rows("eval.jsonl", s.eval);
    zerorl::JsonlWriter corpus(out + "/corpus.jsonl", /*append=*/false);
    for (size_t i = 0; i < s.corpus.size(); ++i) {
      for (int64_t d = 0; d < docs_per_problem; ++d) {
        const uint64_t doc_seed = zerorl::mix_seed({seed, i, static_cast<uint64_t>(d), 0xc0});
        std::string text = tasks::worked_document(s.corpus[i], doc_seed, mistake_rate);
        if (static_cast<double>(doc_seed % 1000) < 1000.0 * preamble_rate)
          text = tasks::with_preamble(text, doc_seed);
        corpus.write(zerorl::Json{{"text", text}});
      }
    }
    std::cout << zerorl::Json{{"train", s.train.size()},
                              {"eval", s.eval.size()},
                              {"corpus_docs", s.corpus.size() * static_cast<size_t>(docs_per_problem)},
                              {"out", out}}
                     .dump()
              << "\n";
  } catch (const std::exception& e) {
    std::cerr << "zerorl_gen_tasks: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
