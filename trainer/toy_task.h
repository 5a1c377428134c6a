// trainer/toy_task.h: the verifiers of the built-in toy task (data.train_path empty: "a+b=" rows over the toy
// tokenizer; configs/tiny_test.yaml, examples/verl/tiny_verl.yaml, `zerorl train` without a dataset).
// Product code, not test code: a user-facing config runs them. Not here: the rows and tokenizer (data.h), the
// routing of rows to verifiers (components.h).
#pragma once

#include "verifiers/registry.h"

namespace zerorl::trainer {

// Adds "toy_addition" (the trimmed response equals the gold sum) and "toy_format" (a non-empty digits-only
// answer that finished with EOS, i.e. Sample.extra["finished"]) to `registry`.
void register_toy_verifiers(verifiers::Registry& registry);

}  // namespace zerorl::trainer
