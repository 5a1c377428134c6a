// tests/trainer/tasks/test_pretrain.cpp: pretraining: packing against a naive reference, and loss falling on
// a tiny repetitive corpus, with a loadable model folder at the end. Not here: the generators.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "tokenizer/tokenizer.h"
#include "trainer/pretrain.h"

namespace zerorl::trainer {
namespace {
namespace fs = std::filesystem;

TEST(Pretrain, PackMatchesNaiveConcatenation) {
  const std::vector<std::vector<int32_t>> docs = {{1, 2, 3}, {4}, {}, {5, 6, 7, 8, 9}};
  const int32_t eos = 99;
  for (int64_t seq_len : {1, 2, 3, 5, 20}) {
    std::vector<int64_t> stream;  // naive: all docs + EOS, then every full (seq_len + 1) slice
    for (const auto& d : docs) {
      for (int32_t t : d) stream.push_back(t);
      stream.push_back(eos);
    }
    const auto windows = pack_documents(docs, eos, seq_len);
    ASSERT_EQ(windows.size(), stream.size() / static_cast<size_t>(seq_len + 1)) << seq_len;
    for (size_t w = 0; w < windows.size(); ++w) {
      for (size_t i = 0; i < windows[w].size(); ++i) EXPECT_EQ(windows[w][i], stream[w * (seq_len + 1) + i]);
    }
  }
}

TEST(Pretrain, LossFallsOnATinyCorpusAndTheModelLoads) {
  const std::string dir = (fs::temp_directory_path() / "zerorl_test_pretrain").string();
  zerorl::remove_tree(dir);
  fs::create_directories(dir);
  {
    JsonlWriter w(dir + "/corpus.jsonl", false);
    for (int i = 0; i < 200; ++i)
      w.write(Json{{"text", std::to_string(i % 10) + " + 1 = " + std::to_string(i % 10 + 1)}});
  }
  PretrainSection p;
  p.corpus_path = dir + "/corpus.jsonl";
  p.seq_len = 32;
  p.batch_size = 8;
  p.steps = 40;
  p.lr = 3e-3;
  p.warmup_steps = 5;
  p.hidden_size = 32;
  p.layers = 1;
  p.heads = 2;
  p.kv_heads = 1;
  p.intermediate_size = 64;
  p.max_position_embeddings = 64;
  p.log_every = 10;
  p.save_every = 20;
  p.threads = 1;
  const PretrainResult r = pretrain(p, dir + "/run", 3, "cpu");
  EXPECT_EQ(r.steps, 40);
  // Uniform over 264 tokens is ln 264 = 5.58; the corpus is nearly deterministic byte patterns.
  EXPECT_GT(r.first_loss, 3.0);
  EXPECT_LT(r.final_loss, 0.6 * r.first_loss);
  EXPECT_EQ(read_jsonl(dir + "/run/metrics.jsonl").size(), 4u);
  EXPECT_TRUE(fs::exists(dir + "/run/checkpoints/step_20/model/config.json"));
  auto lm = model::load_model(r.model_dir);
  EXPECT_EQ(lm->config().hidden_size, 32);
  EXPECT_EQ(tokenizer::Tokenizer::from_dir(r.model_dir).vocab_size(),
            tokenizer::Tokenizer::byte_level().vocab_size());
  zerorl::remove_tree(dir);
}

TEST(Pretrain, EmptyCorpusPathIsAnErrorNamingTheKey) {
  PretrainSection p;
  try {
    pretrain(p, "/tmp/zerorl_never", 1, "cpu");
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("pretrain.corpus_path"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace zerorl::trainer
