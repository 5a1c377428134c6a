// apps/main.cpp: the zerorl binary: builds the CLI, runs one subcommand, turns errors into exit codes.
// Not here: subsystem logic (each cmd_*.cpp is a thin adapter over its layer).
#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <string>

#include "apps/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/malloc_tuning.h"

namespace zerorl::apps {

int not_implemented(const char* what, int issue) {
  std::fprintf(stderr, "zerorl %s: not implemented yet: see issue %d\n", what, issue);
  return 2;
}

namespace {

bool mentions_out_of_memory(const std::string& m) {
  for (const char* s :
       {"out of memory", "CUBLAS_STATUS_ALLOC_FAILED", "can't allocate memory", "not enough memory"}) {
    if (m.find(s) != std::string::npos) return true;
  }
  return false;
}

// LibTorch's message without its stack trace (c10::Error::what() appends one), on one line, cut before
// torch's allocator-tuning advice.
std::string torch_message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  if (const auto cut = m.find(" If reserved but unallocated"); cut != std::string::npos) m.resize(cut);
  if (const auto cut = m.find("\nException raised from"); cut != std::string::npos) m.resize(cut);
  for (char& c : m) c = c == '\n' ? ' ' : c;
  return m;
}

// An allocation that failed anywhere in a command: what ran out, and the keys that size memory.
int report_out_of_memory(const std::string& torch_text) {
  const bool gpu =
      torch_text.find("CUDA") != std::string::npos || torch_text.find("CUBLAS") != std::string::npos;
  std::fprintf(
      stderr,
      "zerorl: error: out of %s memory (%s).\n"
      "  What to change: a smaller rollout KV cache (rollout.kv_cache_fraction, rollout.kv_cache_gb, "
      "rollout.max_num_seqs), smaller forwards (algo.micro_batch_tokens, "
      "rollout.max_num_batched_tokens), model.gradient_checkpointing: true, or shorter sequences "
      "(rollout.max_new_tokens, tokenizer.max_prompt_tokens). Keep trainer.memory_check on: it "
      "checks the plan before step 1 (its terms are logged at info level).\n",
      gpu ? "GPU" : "host", torch_text.c_str());
  return 1;
}

}  // namespace
}  // namespace zerorl::apps

int main(int argc, char** argv) {
  using namespace zerorl::apps;
  zerorl::keep_freed_memory_for_reuse();  // before any large allocation
  CLI::App app{"zerorl: reinforcement learning for reasoning (R1-Zero style GRPO) in C++ on LibTorch"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  int exit_code = 0;
  register_train_commands(app, exit_code);
  register_model_commands(app, exit_code);
  register_tokenize_command(app, exit_code);
  register_verify_command(app, exit_code);
  register_version_command(app, exit_code);
  try {
    zerorl::log::init(0, "info");
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zerorl::Error& e) {
    std::fprintf(stderr, "zerorl: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {  // c10::OutOfMemoryError included; never LibTorch's stack trace
    const std::string m = torch_message(e);
    if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr || mentions_out_of_memory(m))
      return report_out_of_memory(m);
    std::fprintf(stderr, "zerorl: error: %s\n", m.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zerorl: error: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
