// bench/verifiers/bench_verifiers.cpp: throughput of the math verifier on
// data/verifier_cases/math_equivalence_cases.jsonl.gz (extraction + equivalence per pair), single-threaded
// (pairs/s per core) and through the pool on all cores; also Countdown checks. Prints one JSON object.
// Not here: correctness (tests/verifiers/math/). Usage: bench_verifiers [DATA_DIR] [SECONDS]
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/json_io.h"
#include "verifiers/countdown.h"
#include "verifiers/math_verifier.h"
#include "verifiers/pool.h"
#include "zerorl/build_info.h"

using namespace zerorl;
using namespace zerorl::verifiers;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string data = argc > 1 && argv[1][0] != 0 ? argv[1] : std::string(ZERORL_SOURCE_DIR) + "/data";
  double seconds = argc > 2 ? std::stod(argv[2]) : 2.0;
  std::vector<Sample> samples;
  for (const Json& row : read_jsonl(data + "/verifier_cases/math_equivalence_cases.jsonl.gz")) {
    Sample s;
    s.gold = row.at("gold").get<std::string>();
    s.response = row.at("pred").get<std::string>();
    samples.push_back(s);
  }
  MathVerifierOptions opts;  // evaluation-style extraction, as the graders' rows need
  opts.extract.fallback = true;
  opts.extract.prefer_last = true;
  auto math = std::make_shared<MathVerifier>(opts);
  // Single thread.
  size_t done = 0, correct = 0;
  double worst_ms = 0;
  auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
    for (const Sample& s : samples) {
      auto a = Clock::now();
      correct += math->verify(s).correct;
      worst_ms = std::max(worst_ms, std::chrono::duration<double, std::milli>(Clock::now() - a).count());
      ++done;
    }
  }
  double single = done / std::chrono::duration<double>(Clock::now() - t0).count();
  // Pool on all cores.
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  VerifierPool pool(threads, 1.0);
  std::vector<Sample> big;
  for (int k = 0; k < 50; ++k) big.insert(big.end(), samples.begin(), samples.end());
  size_t pooled = 0;
  t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
    pool.run({math}, big);
    pooled += big.size();
  }
  double multi = pooled / std::chrono::duration<double>(Clock::now() - t0).count();
  // Countdown checks.
  CountdownTask task{{25, 50, 75, 100, 3, 6}, 952};
  std::string expr = solve_countdown(task).value_or("0");
  size_t checks = 0;
  t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds / 4) {
    for (int i = 0; i < 1000; ++i) checks += check_countdown(expr, task).ok;
  }
  double cd = checks / std::chrono::duration<double>(Clock::now() - t0).count();
  Json out = {{"bench", "verifiers"},
              {"math_pairs", samples.size()},
              {"math_verifications_per_s_per_core", single},
              {"math_worst_ms", worst_ms},
              {"math_pool_threads", threads},
              {"math_pool_verifications_per_s", multi},
              {"math_pool_verifications_per_s_per_core", multi / threads},
              {"countdown_checks_per_s_per_core", cd},
              {"target_per_core", 10000}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
