// tests/model/test_stacked_mlp.cpp: model::MLPImpl keeps gate_proj's and up_proj's weights in one [2I, H]
// storage: stacked_gate_up_weight() is their concatenation while they stay adjacent (after construction, a
// checkpoint load, in-place updates, a save and reload), undefined once a weight is replaced or there are
// biases, and the MLP's output is a hand-computed MLP's. Not here: the stacked GEMM (tests/kernels/).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "tests/test_paths.h"

namespace zerorl::model {
namespace {

namespace fs = std::filesystem;

std::string fixture_dir(const std::string& name) { return testing::fixture_dir() + "/models/" + name; }

std::vector<MLPImpl*> mlps(CausalLM& lm) {
  std::vector<MLPImpl*> out;
  for (auto& layer : *lm->model->layers) out.push_back(layer->as<DecoderLayerImpl>()->mlp.get());
  return out;
}

// Every layer's stacked view is defined, equals cat(gate, up) and reads the parameters' own memory.
void expect_stacked(CausalLM& lm, const std::string& what) {
  int64_t layer = 0;
  for (MLPImpl* m : mlps(lm)) {
    const auto w = m->stacked_gate_up_weight();
    ASSERT_TRUE(w.defined()) << what << " layer " << layer;
    const auto& gate = m->gate_proj->weight;
    EXPECT_TRUE(torch::equal(w, torch::cat({gate, m->up_proj->weight}))) << what << " layer " << layer;
    EXPECT_EQ(w.data_ptr(), gate.data_ptr()) << what << " layer " << layer << ": a copy, not a view";
    EXPECT_FALSE(w.requires_grad()) << what;
    ++layer;
  }
}

TEST(StackedMlp, ConstructedModelsStackGateAndUp) {
  torch::NoGradGuard no_grad;
  CausalLM lm(load_config(fixture_dir("tiny-qwen2") + "/config.json"));
  init_random_(lm, 3);
  expect_stacked(lm, "init_random_");
  // set_data kept each parameter's identity: the registered parameter is the member.
  auto named = lm->named_parameters();
  auto* m = mlps(lm)[0];
  EXPECT_TRUE(named["model.layers.0.mlp.gate_proj.weight"].is_same(m->gate_proj->weight));
  EXPECT_TRUE(named["model.layers.0.mlp.up_proj.weight"].is_same(m->up_proj->weight));
  EXPECT_TRUE(m->gate_proj->weight.requires_grad());
  // An in-place update (an optimizer step, MasterWeights::push) shows through the view.
  m->up_proj->weight.add_(1.0);
  expect_stacked(lm, "after an in-place update");
}

TEST(StackedMlp, CheckpointLoadSaveAndReloadKeepTheStacking) {
  torch::NoGradGuard no_grad;
  const fs::path tmp = fs::temp_directory_path() / ("zrl_stacked_" + std::to_string(::getpid()));
  for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto lm = load_model(fixture_dir("tiny-llama"), dtype);
    expect_stacked(lm, "loaded");
    // The saved bytes of each half are its own (not the start of the shared storage).
    save_model(lm, tmp.string());
    auto back = load_model(tmp.string(), dtype);
    expect_stacked(back, "reloaded");
    auto *a = mlps(lm)[1], *b = mlps(back)[1];
    EXPECT_FALSE(torch::equal(a->gate_proj->weight, a->up_proj->weight)) << "the halves must differ";
    EXPECT_TRUE(torch::equal(b->gate_proj->weight, a->gate_proj->weight));
    EXPECT_TRUE(torch::equal(b->up_proj->weight, a->up_proj->weight));
    zerorl::remove_tree(tmp);
  }
}

TEST(StackedMlp, ReplacedWeightsOrBiasesGiveNoStackedView) {
  torch::NoGradGuard no_grad;
  CausalLM lm(load_config(fixture_dir("tiny-qwen2") + "/config.json"));
  init_random_(lm, 4);
  auto* m = mlps(lm)[0];
  m->up_proj->weight.set_data(m->up_proj->weight.clone());  // same values, its own storage
  EXPECT_FALSE(m->stacked_gate_up_weight().defined());
  EXPECT_TRUE(mlps(lm)[1]->stacked_gate_up_weight().defined()) << "the other layer is untouched";
  lm->to(torch::kFloat64);  // Module::to replaces every parameter's data
  for (MLPImpl* each : mlps(lm)) EXPECT_FALSE(each->stacked_gate_up_weight().defined());
  Json j = read_json(fixture_dir("tiny-llama") + "/config.json");
  j["mlp_bias"] = true;
  CausalLM biased(parse_config(j));
  for (MLPImpl* each : mlps(biased)) EXPECT_FALSE(each->stacked_gate_up_weight().defined());
}

TEST(StackedMlp, OutputIsAHandComputedMlps) {
  torch::NoGradGuard no_grad;
  auto lm = load_model(fixture_dir("tiny-qwen3"));
  torch::manual_seed(5);
  for (MLPImpl* m : mlps(lm)) {
    const auto x = torch::randn({2, 7, m->gate_proj->weight.size(1)});
    // float64 from the weights' values: an MLP of separate, freshly allocated matrices.
    auto f64 = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
    const auto xd = f64(x), gate = xd.matmul(f64(m->gate_proj->weight).t());
    const auto want = (gate * torch::sigmoid(gate) * xd.matmul(f64(m->up_proj->weight).t()))
                          .matmul(f64(m->down_proj->weight).t());
    const auto got = f64(m->forward(x));
    // float32 rounding of sums over a few hundred terms, relative to the output's scale.
    const double scale = want.abs().max().item<double>();
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-5 * scale);
  }
}

}  // namespace
}  // namespace zerorl::model
