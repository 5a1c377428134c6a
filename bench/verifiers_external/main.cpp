// bench/verifiers_external/main.cpp: verdicts per second of external worker processes running the
// trivial stdlib Python verifier of examples/python/, for 1 and 8 workers (or --workers a,b,...).
// Prints one JSON object. Not here: built-in verifiers' speed (bench/verifiers).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "core/json_io.h"
#include "core/strings.h"
#include "verifiers/external/process_pool.h"
#include "zerorl/build_info.h"

using namespace zerorl;
using namespace zerorl::verifiers;

int main(int argc, char** argv) {
  int samples = 4000;
  std::string workers_list = "1,8";
  std::string python = "python3";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--samples") samples = std::atoi(argv[i + 1]);
    if (a == "--workers") workers_list = argv[i + 1];
    if (a == "--python") python = argv[i + 1];
  }
  const std::string script = std::string(ZERORL_SOURCE_DIR) + "/examples/python/exact_match_verifier.py";
  std::vector<Sample> batch(samples);
  for (int i = 0; i < samples; ++i) {
    batch[i].prompt = "What is " + std::to_string(i) + " + 0?";
    batch[i].response = "Let me think. Answer: " + std::to_string(i % 7 == 0 ? i + 1 : i);
    batch[i].gold = std::to_string(i);
  }
  Json results = Json::array();
  for (const auto& w : split(workers_list, ',')) {
    external::ExternalOptions o;
    o.name = "bench";
    o.command = {python, script};
    o.workers = std::stoi(w);
    external::ExternalVerifier v(o);
    v.verify_batch(std::vector<Sample>(batch.begin(), batch.begin() + std::min(samples, 8 * o.workers)));
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = v.verify_batch(batch);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int correct = 0;
    for (const auto& x : out) correct += x.correct;
    results.push_back({{"workers", o.workers},
                       {"samples", samples},
                       {"seconds", secs},
                       {"verdicts_per_s", samples / secs},
                       {"correct", correct},
                       {"restarts", v.stats().restarts}});
  }
  std::cout << Json{{"bench", "verifiers_external"},
                    {"verifier", "examples/python/exact_match_verifier.py"},
                    {"cpus", std::thread::hardware_concurrency()},
                    {"results", results}}
                   .dump(2)
            << "\n";
  return 0;
}
