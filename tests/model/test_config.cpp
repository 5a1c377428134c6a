// tests/model/test_config.cpp: config.json parsing for the three architectures, rope variants, and errors
// that name the unsupported architecture or field. Not here: weights or modules. Torch-free.
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/config.h"
#include "tests/test_paths.h"

namespace zerorl::model {
namespace {

Json fixture(const std::string& name) {
  return read_json(testing::fixture_dir() + "/models/" + name + "/config.json");
}

std::string error_of(const Json& j) {
  try {
    parse_config(j);
  } catch (const zerorl::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, ParsesFixtures) {
  auto q2 = parse_config(fixture("tiny-qwen2"));
  EXPECT_EQ(q2.arch, Arch::kQwen2);
  EXPECT_EQ(q2.head_dim, 16);  // hidden / heads
  EXPECT_TRUE(q2.qkv_bias);
  EXPECT_FALSE(q2.o_bias);
  EXPECT_TRUE(q2.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(q2.rope_theta, 1e6);  // from rope_parameters
  EXPECT_DOUBLE_EQ(q2.rms_norm_eps, 1e-6);
  auto q3 = parse_config(fixture("tiny-qwen3"));
  EXPECT_EQ(q3.head_dim, 32);  // given, != hidden / heads
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_FALSE(q3.qkv_bias);
  auto ll = parse_config(fixture("tiny-llama"));
  EXPECT_EQ(ll.arch, Arch::kLlama);
  EXPECT_FALSE(ll.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(ll.rope_theta, 500000.0);
  EXPECT_EQ(ll.num_key_value_heads, 2);
  EXPECT_EQ(ll.max_position_embeddings, 256);
  EXPECT_EQ(ll.dtype, "float32");
}

TEST(ModelConfig, OlderTopLevelRopeAndLlama3Scaling) {
  Json j = fixture("tiny-llama");
  j.erase("rope_parameters");
  j.erase("dtype");
  j["torch_dtype"] = "bfloat16";
  j["rope_theta"] = 1234.0;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  auto c = parse_config(j);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1234.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_EQ(c.dtype, "bfloat16");
  // transformers 5 spelling of the same thing
  Json k = fixture("tiny-llama");
  k["rope_parameters"] = {{"rope_theta", 99.0},      {"rope_type", "llama3"},
                          {"factor", 8.0},           {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  auto d = parse_config(k);
  EXPECT_DOUBLE_EQ(d.rope_theta, 99.0);
  EXPECT_EQ(d.rope_scaling.original_max_position_embeddings, 64);
  // round trip through config_to_json keeps what we parse
  auto e = parse_config(config_to_json(c, "float32"));
  EXPECT_EQ(e.rope_scaling.type, "llama3");
  EXPECT_EQ(e.dtype, "float32");
  EXPECT_EQ(e.head_dim, c.head_dim);
}

TEST(ModelConfig, UnsupportedThingsAreNamed) {
  struct Case {
    const char* key;
    Json value;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"architectures", Json::array({"MistralForCausalLM"}), "MistralForCausalLM"},
      {"hidden_act", "gelu", "gelu"},
      {"use_sliding_window", true, "use_sliding_window"},
      {"rope_parameters", {{"rope_type", "yarn"}, {"factor", 4.0}}, "yarn"},
      {"layer_types", Json::array({"sliding_attention", "full_attention"}), "sliding_attention"},
      {"num_key_value_heads", 3, "num_key_value_heads"},
      {"hidden_size", -5, "hidden_size"},
      {"dtype", "int8", "int8"},
      {"quantization_config", Json::object(), "quantization_config"},
  };
  for (const auto& c : cases) {
    Json j = fixture("tiny-qwen2");
    j[c.key] = c.value;
    const std::string err = error_of(j);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.key << ": '" << err << "'";
  }
  Json j = fixture("tiny-qwen2");
  j.erase("vocab_size");
  EXPECT_NE(error_of(j).find("vocab_size"), std::string::npos);
}

TEST(ModelConfig, Qwen25HalfBillionShape) {
  auto c = qwen25_05b_config();
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_TRUE(c.tie_word_embeddings);
}

}  // namespace
}  // namespace zerorl::model
