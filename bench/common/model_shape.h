// bench/common/model_shape.h: the model shapes the benches build with random weights (--model-size): Qwen2.5
// 0.5B and 1.5B as published (config.json of the Hugging Face models), and a tiny one for smoke tests. Not
// here: loading real weights (model/checkpoint.h).
#pragma once

#include <stdexcept>
#include <string>

#include "model/config.h"

namespace zerorl::bench {

// "0.5b" | "1.5b" | "tiny"; anything else throws std::invalid_argument naming the value.
inline model::ModelConfig model_shape(const std::string& size) {
  model::ModelConfig c = model::qwen25_05b_config();
  if (size == "1.5b") {
    c.hidden_size = 1536, c.intermediate_size = 8960, c.num_hidden_layers = 28;
    c.num_attention_heads = 12, c.num_key_value_heads = 2, c.head_dim = 128;
  } else if (size == "tiny") {
    c.vocab_size = 512, c.hidden_size = 64, c.intermediate_size = 128, c.num_hidden_layers = 2;
    c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 16;
  } else if (size != "0.5b") {
    throw std::invalid_argument("--model-size must be 0.5b, 1.5b or tiny, got " + size);
  }
  return c;
}

}  // namespace zerorl::bench
