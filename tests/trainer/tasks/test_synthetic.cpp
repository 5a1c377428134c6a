// tests/trainer/tasks/test_synthetic.cpp: the synthetic generators against independent references: the
// countdown verifier and solver (verifiers/), arithmetic recomputed from the prompt text, split disjointness,
// determinism, and the corpus never containing the RL template. Not here: pretraining.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "tokenizer/template.h"
#include "trainer/tasks/synthetic.h"
#include "verifiers/countdown.h"

namespace zerorl::trainer::tasks {
namespace {

TEST(Countdown, EveryInstanceIsSolvableAndItsSolutionVerifies) {
  for (int64_t numbers : {3, 4}) {
    TaskSpec spec;
    spec.task = "countdown";
    spec.countdown_numbers = numbers;
    for (int64_t i = 0; i < 60; ++i) {
      const Problem p = make_problem(spec, 11, i);
      ASSERT_EQ(static_cast<int64_t>(p.numbers.size()), numbers);
      verifiers::CountdownTask t{p.numbers, p.target};
      const auto check = verifiers::check_countdown(p.solution, t);
      EXPECT_TRUE(check.ok) << p.solution << " for " << p.key << ": " << check.reason;
      EXPECT_TRUE(verifiers::solve_countdown(t).has_value()) << p.key;
      EXPECT_GE(p.target, 1);
      EXPECT_LE(p.target, spec.countdown_max_target);
      const Json row = problem_row(p);
      EXPECT_EQ(row["data_source"], "countdown");
      EXPECT_EQ(row["extra"]["target"].get<long>(), p.target);
      EXPECT_EQ(row["extra"]["numbers"].get<std::vector<long>>(), p.numbers);
    }
  }
}

TEST(Countdown, CleanWorkedDocumentsEndInAnAcceptedAnswer) {
  TaskSpec spec;
  spec.task = "countdown";
  for (int64_t i = 0; i < 40; ++i) {
    const Problem p = make_problem(spec, 3, i);
    const std::string doc = worked_document(p, static_cast<uint64_t>(i), 0.0);
    EXPECT_NE(doc.find(p.solution), std::string::npos) << doc;
  }
}

TEST(Arithmetic, AnswerMatchesThePromptRecomputed) {
  TaskSpec spec;
  spec.arithmetic_digits = 3;
  spec.arithmetic_ops = "+-*";
  for (int64_t i = 0; i < 300; ++i) {
    const Problem p = make_problem(spec, 5, i);
    std::istringstream in(p.question.substr(std::string("Compute ").size()));
    long a = 0, b = 0;
    char op = 0;
    in >> a >> op >> b;
    const long want = op == '+' ? a + b : op == '-' ? a - b : a * b;
    EXPECT_EQ(p.answer, std::to_string(want)) << p.question;
    EXPECT_GE(want, 0) << p.question;
    EXPECT_LT(a, 1000);
    EXPECT_LT(b, 1000);
  }
}

// The final answer a document states: after "answer is ", "<answer>", "Final answer: " or "Result: ".
std::string stated_answer(const std::string& doc) {
  for (const std::string marker : {"<answer>", "The answer is ", "Final answer: ", "Result: "}) {
    const auto at = doc.rfind(marker);
    if (at == std::string::npos) continue;
    std::string rest = doc.substr(at + marker.size());
    while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    size_t end = 0;
    while (end < rest.size() && std::isdigit(static_cast<unsigned char>(rest[end]))) ++end;
    return rest.substr(0, end);
  }
  return "";
}

TEST(Arithmetic, CleanDocumentsAreRightAndMistakenOnesMostlyWrong) {
  TaskSpec spec;
  spec.arithmetic_ops = "+-*";
  int wrong_when_mistaken = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const Problem p = make_problem(spec, 9, i);
    EXPECT_EQ(stated_answer(worked_document(p, static_cast<uint64_t>(i), 0.0)), p.answer)
        << worked_document(p, static_cast<uint64_t>(i), 0.0);
    wrong_when_mistaken += stated_answer(worked_document(p, static_cast<uint64_t>(i), 1.0)) != p.answer;
  }
  EXPECT_GT(wrong_when_mistaken, 150);
}

TEST(Splits, DisjointDeterministicAndSeedDependent) {
  for (const std::string task : {"countdown", "arithmetic"}) {
    TaskSpec spec;
    spec.task = task;
    const Splits a = make_splits(spec, 1, 300, 100, 500), b = make_splits(spec, 1, 300, 100, 500);
    const Splits c = make_splits(spec, 2, 300, 100, 500);
    ASSERT_EQ(a.train.size(), 300u);
    ASSERT_EQ(a.eval.size(), 100u);
    ASSERT_EQ(a.corpus.size(), 500u);
    std::set<std::string> keys, prompts;
    for (const auto* split : {&a.train, &a.eval, &a.corpus}) {
      for (const auto& p : *split) {
        EXPECT_TRUE(keys.insert(p.key).second) << "duplicate " << p.key;
        EXPECT_TRUE(prompts.insert(p.question).second) << "duplicate prompt " << p.question;
      }
    }
    for (size_t i = 0; i < a.eval.size(); ++i) EXPECT_EQ(problem_row(a.eval[i]), problem_row(b.eval[i]));
    int same = 0;
    for (size_t i = 0; i < a.eval.size(); ++i) same += a.eval[i].key == c.eval[i].key;
    EXPECT_LT(same, 20) << task;
  }
}

TEST(Corpus, NeverUsesTheRlPromptTemplate) {
  const std::string preamble = std::string(tokenizer::kR1ZeroTemplate).substr(0, 40);
  for (const std::string task : {"countdown", "arithmetic"}) {
    TaskSpec spec;
    spec.task = task;
    for (int64_t i = 0; i < 200; ++i) {
      const std::string doc = with_preamble(
          worked_document(make_problem(spec, 4, i), static_cast<uint64_t>(i), 0.2), static_cast<uint64_t>(i));
      EXPECT_EQ(doc.find(preamble), std::string::npos) << doc;
      EXPECT_EQ(doc.find("The reasoning process and answer are enclosed"), std::string::npos) << doc;
    }
  }
}

TEST(Spec, BadTaskIsAnErrorNamingIt) {
  TaskSpec spec;
  spec.task = "sudoku";
  try {
    make_problem(spec, 1, 0);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("sudoku"), std::string::npos);
  }
}

}  // namespace
}  // namespace zerorl::trainer::tasks
