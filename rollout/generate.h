// rollout/generate.h: what `zerorl generate` runs (apps/ parses flags and prints), and the tokenizer's
// streaming decoder as the engine's detokenizer. Not here: flag parsing, model loading (apps/cmd_model.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "model/decoder.h"
#include "rollout/stop.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::rollout {

struct GenerateRequest {
  std::vector<std::vector<int64_t>> prompts;  // token ids per prompt
  int64_t max_new_tokens = 32;
  double temperature = 0.0;  // 0 = greedy (transformers' default without do_sample)
  double top_p = 1.0;
  int64_t top_k = 0;  // 0 = off
  double min_p = 0.0;
  uint64_t seed = 0;
  int64_t num_samples = 1;        // sequences per prompt (rows prompt-major in the output)
  std::vector<int64_t> eos_ids;   // e.g. generation_config.json's eos_token_id; empty = none
  std::vector<std::string> stop;  // stop strings (need a tokenizer)
};

// Runs the engine and returns {"sequences": [[prompt + new ids], ...], "finish_reasons": [...],
// "texts": [decode(sequence), ...]} (texts only when `tok` is given), one row per prompt and sample.
Json generate_json(model::CausalLM lm, const GenerateRequest& request,
                   const tokenizer::Tokenizer* tok = nullptr);

// One tokenizer::StreamDecoder per sequence (special tokens kept, like decode()).
TextStreamFactory stream_detokenizer(const tokenizer::Tokenizer& tok);

}  // namespace zerorl::rollout
