// bench/tokenizer/bench_tokenizer.cpp: encode throughput of zerorl_tokenizer on the public corpus x5, the
// measurement hf_tokenizers.py makes for Hugging Face tokenizers: single = one encode() per string on one
// thread; batch = encode_batch over all strings on every core. MB = 1e6 bytes of UTF-8 input. Prints JSON.
// Not here: correctness (tests/tokenizer).
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "core/json_io.h"
#include "tokenizer/tokenizer.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of the calling thread: on a shared machine it excludes the time spent waiting for a core.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

// Usage: bench_tokenizer [DATA_DIR] [REPEAT] [NAME]  (DATA_DIR defaults to the source tree's data/, which
// holds tokenizers/corpus_public.jsonl.gz and tokenizers/<name>/tokenizer.json.gz; NAME picks one of qwen3,
// llama3, deepseek_v3). load_s includes inflating the gzip.
int main(int argc, char** argv) {
  using zerorl::Json;
  using zerorl::tokenizer::Tokenizer;
  std::string data = argc > 1 ? argv[1] : std::string(ZERORL_BENCH_DATA_DIR);
  int repeat = argc > 2 ? std::stoi(argv[2]) : 5;
  std::vector<std::string> corpus;
  size_t bytes = 0;
  for (const auto& row : zerorl::read_jsonl(data + "/tokenizers/corpus_public.jsonl.gz")) {
    corpus.push_back(row.at("text").get<std::string>());
    bytes += corpus.back().size();
  }
  std::vector<std::string> texts;
  for (int r = 0; r < repeat; ++r) texts.insert(texts.end(), corpus.begin(), corpus.end());
  const double mb = static_cast<double>(bytes) * repeat / 1e6;
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  Json result = {
      {"what", "zerorl_tokenizer encode of tokenizers/corpus_public.jsonl x" + std::to_string(repeat) +
                   "; single = one encode() per string on one thread; batch = encode_batch on all cores"},
      {"mb", mb}};
  std::vector<std::string> names = {"qwen3", "llama3", "deepseek_v3"};
  if (argc > 3) names = {argv[3]};
  for (const std::string& name : names) {
    auto t0 = std::chrono::steady_clock::now();
    Tokenizer tok = Tokenizer::from_dir(data + "/tokenizers/" + name);
    double load_s = seconds_since(t0);
    size_t n_ids = 0;
    t0 = std::chrono::steady_clock::now();
    double cpu0 = thread_cpu_seconds();
    for (const auto& text : texts) n_ids += tok.encode(text).size();
    double single_s = seconds_since(t0), single_cpu_s = thread_cpu_seconds() - cpu0;
    Tokenizer fresh = Tokenizer::from_dir(data + "/tokenizers/" + name);  // cold caches for the batch run
    t0 = std::chrono::steady_clock::now();
    auto batch = fresh.encode_batch(texts, cpus);
    double batch_s = seconds_since(t0);
    result[name] = {{"mb_per_s_single", mb / single_s},
                    {"mb_per_s_single_thread_cpu_time", mb / single_cpu_s},
                    {"mb_per_s_batch_parallel", mb / batch_s},
                    {"cpus", cpus},
                    {"tokens", n_ids},
                    {"load_s", load_s}};
  }
  std::printf("%s\n", result.dump(1).c_str());
  return 0;
}
