// trainer/tasks/synthetic.cpp: Countdown (exact step search over positive integers) and multi-digit
// arithmetic, their RL rows and worked-solution documents. Not here: checking answers (verifiers/).
// Hand-written: the generators are the demo's own data; the Countdown search records its steps (a op b = c)
// for the worked solutions, which verifiers::solve_countdown (an expression-tree search) does not expose.
#include "trainer/tasks/synthetic.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "core/seed.h"
#include "core/strings.h"

namespace zerorl::trainer::tasks {
namespace {

struct Step {
  long a, b, c;
  char op;
};

std::string fmt_step(const Step& s) {
  return std::to_string(s.a) + " " + s.op + " " + std::to_string(s.b) + " = " + std::to_string(s.c);
}

// Countdown search: combine two of the pool into one positive integer (a - b > 0, a / b exact), repeat
// until one number is left. Records, for every reachable final value, the first step list in search order.
void countdown_search(std::vector<std::pair<long, std::string>> pool, std::vector<Step>& steps,
                      std::map<long, std::pair<std::string, std::vector<Step>>>& found) {
  if (pool.size() == 1) {
    if (pool[0].first > 0 && !found.count(pool[0].first)) found[pool[0].first] = {pool[0].second, steps};
    return;
  }
  for (size_t i = 0; i < pool.size(); ++i) {
    for (size_t j = 0; j < pool.size(); ++j) {
      if (i == j) continue;
      const auto [a, ea] = pool[i];
      const auto [b, eb] = pool[j];
      for (char op : std::string("+-*/")) {
        if ((op == '+' || op == '*') && i > j) continue;  // commutative: one order
        long c = 0;
        if (op == '+') c = a + b;
        if (op == '-') c = a - b;
        if (op == '*') c = a * b;
        if (op == '/') c = (b != 0 && a % b == 0) ? a / b : 0;
        if (c <= 0 || c > 1000000) continue;
        std::vector<std::pair<long, std::string>> next;
        for (size_t k = 0; k < pool.size(); ++k) {
          if (k != i && k != j) next.push_back(pool[k]);
        }
        next.emplace_back(c, "(" + ea + " " + op + " " + eb + ")");
        steps.push_back({a, b, c, op});
        countdown_search(next, steps, found);
        steps.pop_back();
      }
    }
  }
}

std::string strip_outer(const std::string& e) {
  return e.size() >= 2 && e.front() == '(' && e.back() == ')' ? e.substr(1, e.size() - 2) : e;
}

Problem make_countdown(const TaskSpec& spec, std::mt19937_64& rng) {
  std::uniform_int_distribution<long> num(1, spec.countdown_max);
  for (;;) {
    Problem p;
    p.task = "countdown";
    for (int64_t i = 0; i < spec.countdown_numbers; ++i) p.numbers.push_back(num(rng));
    std::vector<std::pair<long, std::string>> pool;
    for (long n : p.numbers) pool.emplace_back(n, std::to_string(n));
    std::vector<Step> steps;
    std::map<long, std::pair<std::string, std::vector<Step>>> found;
    countdown_search(pool, steps, found);
    std::vector<long> targets;
    for (const auto& [v, _] : found) {
      if (v <= spec.countdown_max_target) targets.push_back(v);
    }
    if (targets.empty()) continue;
    p.target = targets[std::uniform_int_distribution<size_t>(0, targets.size() - 1)(rng)];
    p.solution = strip_outer(found[p.target].first);
    p.answer = std::to_string(p.target);
    std::string nums;
    for (size_t i = 0; i < p.numbers.size(); ++i) nums += (i ? ", " : "") + std::to_string(p.numbers[i]);
    p.question = "Using the numbers [" + nums + "], create an equation that equals " + p.answer +
                 ". Use + - * / and each number exactly once";
    std::vector<long> sorted = p.numbers;
    std::sort(sorted.begin(), sorted.end());
    p.key = "cd:";
    for (long n : sorted) p.key += std::to_string(n) + ",";
    p.key += "->" + p.answer;
    return p;
  }
}

Problem make_arithmetic(const TaskSpec& spec, std::mt19937_64& rng) {
  long hi = 1;
  for (int64_t i = 0; i < spec.arithmetic_digits; ++i) hi *= 10;
  std::uniform_int_distribution<long> num(0, hi - 1);
  ZRL_CHECK(!spec.arithmetic_ops.empty(), "arithmetic_ops is empty (use some of + - *)");
  Problem p;
  p.task = "arithmetic";
  p.op = spec.arithmetic_ops[std::uniform_int_distribution<size_t>(0, spec.arithmetic_ops.size() - 1)(rng)];
  long a = num(rng), b = num(rng);
  if (p.op == '-' && a < b) std::swap(a, b);  // non-negative results
  ZRL_CHECK(p.op == '+' || p.op == '-' || p.op == '*', "arithmetic operator '{}' is not one of + - *", p.op);
  p.numbers = {a, b};
  p.target = p.op == '+' ? a + b : p.op == '-' ? a - b : a * b;
  p.answer = std::to_string(p.target);
  p.solution = std::to_string(a) + " " + p.op + " " + std::to_string(b);
  p.question = "Compute " + p.solution;
  p.key = "ar:" + std::to_string(a) + p.op + std::to_string(b);
  return p;
}

// Column method for + and - (ones first, with carries/borrows); partial products for *. `wrong` (>= 0)
// corrupts that step by +-1 and propagates the wrong digit into the final result.
std::string arithmetic_work(const Problem& p, std::mt19937_64& rng, bool mistake, long& result) {
  const long a = p.numbers[0], b = p.numbers[1];
  std::string work;
  if (p.op == '*') {
    long acc = 0, place = 1, bb = b;
    int idx = 0;
    do {
      const long part = a * (bb % 10) * place;
      long shown = part;
      if (mistake && idx == 0) shown += place * (rng() % 2 ? 1 : -1);
      work += std::to_string(a) + " * " + std::to_string((bb % 10) * place) + " = " + std::to_string(shown) +
              ". ";
      acc += shown;
      bb /= 10;
      place *= 10;
      ++idx;
    } while (bb > 0);
    result = acc;
    return work + "Sum: " + std::to_string(result) + ".";
  }
  const std::string sa = std::to_string(a), sb = std::to_string(b);
  const size_t n = std::max(sa.size(), sb.size());
  const size_t bad = mistake ? rng() % n : n;
  long carry = 0, out = 0, place = 1;
  for (size_t i = 0; i < n; ++i) {
    const long da = i < sa.size() ? sa[sa.size() - 1 - i] - '0' : 0;
    const long db = i < sb.size() ? sb[sb.size() - 1 - i] - '0' : 0;
    long v = p.op == '+' ? da + db + carry : da - db - carry;
    std::string expr = std::to_string(da) + " " + p.op + " " + std::to_string(db);
    if (carry) expr += std::string(" ") + p.op + " " + std::to_string(carry);
    long shown = v;
    if (i == bad) shown = v + (v % 2 ? -1 : 1);
    if (p.op == '+') {
      work += expr + " = " + std::to_string(shown) + ", write " + std::to_string(((shown % 10) + 10) % 10);
      carry = shown >= 10 ? 1 : 0;
      if (carry) work += " carry 1";
      out += (((shown % 10) + 10) % 10) * place;
    } else {
      const long digit = ((shown % 10) + 10) % 10;
      carry = shown < 0 ? 1 : 0;
      work += expr + (carry ? ", borrow 10" : "") + " gives " + std::to_string(digit);
      out += digit * place;
    }
    work += ". ";
    place *= 10;
  }
  if (p.op == '+' && carry) out += place;
  result = out;
  return work;
}

// Worked steps for Countdown: a failed attempt or two, then the found steps. A mistake shows a wrong step
// value and then claims success (the final line quotes the solution anyway, as sloppy work does).
std::string countdown_work(const Problem& p, std::mt19937_64& rng, bool mistake) {
  std::vector<std::pair<long, std::string>> pool;
  for (long n : p.numbers) pool.emplace_back(n, std::to_string(n));
  std::vector<Step> steps;
  std::map<long, std::pair<std::string, std::vector<Step>>> found;
  countdown_search(pool, steps, found);
  std::string work;
  const int tries = static_cast<int>(rng() % 3);
  for (int t = 0; t < tries && found.size() > 1; ++t) {
    auto it = found.begin();
    std::advance(it, static_cast<long>(rng() % found.size()));
    if (it->first == p.target) continue;
    for (const auto& s : it->second.second) work += fmt_step(s) + ", ";
    work += "not " + p.answer + ". ";
  }
  const auto& good = found.at(p.target).second;
  for (size_t i = 0; i < good.size(); ++i) {
    Step s = good[i];
    if (mistake && i == 0) s.c += 1;
    work += fmt_step(s) + (i + 1 < good.size() ? ", " : ". ");
  }
  return work;
}

std::string numbers_text(const std::vector<long>& numbers) {
  std::string out;
  for (size_t i = 0; i < numbers.size(); ++i) out += (i ? ", " : "") + std::to_string(numbers[i]);
  return out;
}

std::string pick(std::mt19937_64& rng, const std::vector<std::string>& options) {
  return options[rng() % options.size()];
}

}  // namespace

Problem make_problem(const TaskSpec& spec, uint64_t seed, int64_t index) {
  std::mt19937_64 rng(mix_seed({seed, static_cast<uint64_t>(index), 0x7a5c}));
  if (spec.task == "countdown") return make_countdown(spec, rng);
  ZRL_CHECK(spec.task == "arithmetic", "task '{}' is not one of countdown, arithmetic", spec.task);
  return make_arithmetic(spec, rng);
}

Json problem_row(const Problem& p) {
  Json row{{"prompt", p.question}, {"answer", p.answer}};
  if (p.task == "countdown") {
    row["data_source"] = "countdown";
    row["extra"] = Json{{"numbers", p.numbers}, {"target", p.target}};  // the countdown verifier's inputs
  } else {
    row["data_source"] = "math";
  }
  return row;
}

std::string worked_document(const Problem& p, uint64_t seed, double mistake_rate) {
  std::mt19937_64 rng(mix_seed({seed, 0xd0c}));
  const bool mistake = std::uniform_real_distribution<double>(0, 1)(rng) < mistake_rate;
  std::string work, final_answer, q;
  if (p.task == "countdown") {
    work = countdown_work(p, rng, mistake);
    final_answer = p.solution;
    q = pick(rng, {p.question, "Reach " + p.answer + " with " + numbers_text(p.numbers)});
  } else {
    long result = 0;
    work = arithmetic_work(p, rng, mistake, result);
    final_answer = std::to_string(result);
    const std::string word = p.op == '+' ? " plus " : p.op == '-' ? " minus " : " times ";
    q = pick(rng, {p.question, "What is " + p.solution + "?",
                   "Find " + std::to_string(p.numbers[0]) + word + std::to_string(p.numbers[1])});
  }
  switch (rng() % 6) {
    case 0:
      return "Q: " + q + "\nA: " + work + "The answer is " + final_answer + ".";
    case 1:
      return "User: " + q + ". Assistant: <think> " + work + "</think> <answer> " + final_answer +
             " </answer>";
    case 2:
      return "Problem: " + q + "\nSolution: " + work + "\nFinal answer: " + final_answer;
    case 3:
      return "Student: " + q + "\nTeacher: <think>" + work + "</think><answer>" + final_answer + "</answer>";
    case 4:
      return "User: " + q + ". Assistant: <think> Let me work it out. " + work + "So the answer is " +
             final_answer + ". </think> <answer> " + final_answer + " </answer>";
    default:
      return q + ": " + work + "Result: " + final_answer;
  }
}

std::string with_preamble(const std::string& doc, uint64_t seed) {
  static const std::vector<std::string> kSentences = {
      "Below is a short exchange between two people.",
      "Each question is answered step by step.",
      "The helper reads the question carefully before writing anything.",
      "Answers should be exact and checked twice.",
      "Work is written out so that a reader can follow it.",
      "This is a practice session with simple problems.",
      "Mistakes happen, so every step is worth checking.",
      "The final result is stated clearly at the end.",
      "Some problems are easy and some take a few more steps.",
      "A good answer shows its reasoning and then its result.",
      "Write the working first, then the answer.",
      "Numbers are written with digits only."};
  std::mt19937_64 rng(mix_seed({seed, 0x9e}));
  const int n = 3 + static_cast<int>(rng() % 6);
  std::string out;
  for (int i = 0; i < n; ++i) out += kSentences[rng() % kSentences.size()] + " ";
  return out + doc;
}

Splits make_splits(const TaskSpec& spec, uint64_t seed, int64_t n_train, int64_t n_eval, int64_t n_corpus) {
  Splits s;
  std::set<std::string> seen;
  const int64_t total = n_train + n_eval + n_corpus;
  int64_t index = 0, misses = 0;
  while (static_cast<int64_t>(seen.size()) < total) {
    Problem p = make_problem(spec, seed, index++);
    if (!seen.insert(p.key).second) {
      ZRL_CHECK(++misses < 20 * total + 1000, "task '{}' has too few distinct problems for {} rows (seed {})",
                spec.task, total, seed);
      continue;
    }
    if (static_cast<int64_t>(s.eval.size()) < n_eval) {
      s.eval.push_back(std::move(p));
    } else if (static_cast<int64_t>(s.train.size()) < n_train) {
      s.train.push_back(std::move(p));
    } else {
      s.corpus.push_back(std::move(p));
    }
  }
  return s;
}

}  // namespace zerorl::trainer::tasks
