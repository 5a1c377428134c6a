// tests/trainer/test_checkpoint_saver.cpp: the background checkpoint write: errors handed to the caller, one
// job at a time, and a checkpoint that holds the values of the moment save() returned even though training
// goes on while it is written. Not here: folder mechanics (test_checkpoint.cpp), kill -9 and resume of whole
// runs (test_runs.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "compat/optim_state_key.h"
#include "core/error.h"
#include "core/files.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "trainer/async_writer.h"
#include "trainer/checkpoint.h"
#include "trainer/checkpoint_saver.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

TEST(AsyncWriter, AJobsErrorIsThrownOnTheCallersThreadOnce) {
  AsyncWriter w;
  w.submit("checkpoint step_7", [] { throw std::runtime_error("disk full"); });
  try {
    w.wait();
    FAIL() << "the job's error was not handed over";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint step_7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("disk full"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(w.busy());
  EXPECT_NO_THROW(w.wait());  // reported once
  bool ran = false;
  w.submit("next", [&] { ran = true; });
  w.wait();
  EXPECT_TRUE(ran);
}

TEST(AsyncWriter, SubmitWaitsForThePreviousJob) {
  AsyncWriter w;
  std::atomic<int> done{0};
  int seen_by_second = -1;
  w.submit("first", [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    done = 1;
  });
  EXPECT_TRUE(w.busy());
  w.submit("second", [&] { seen_by_second = done.load(); });
  w.wait();
  EXPECT_EQ(seen_by_second, 1);
  // A failed first job stops the second from starting: submit throws the first one's error.
  w.submit("failing", [] { throw std::runtime_error("boom"); });
  bool second_ran = false;
  EXPECT_THROW(w.submit("after", [&] { second_ran = true; }), Error);
  w.wait();
  EXPECT_FALSE(second_ran);
}

model::CausalLM tiny_model(uint64_t seed) {
  model::ModelConfig c = model::qwen25_05b_config();
  c.vocab_size = 64, c.hidden_size = 32, c.intermediate_size = 64, c.num_hidden_layers = 2;
  c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 8;
  model::CausalLM lm(c, torch::kFloat32);
  model::init_random_(lm, seed, 0.02);
  return lm;
}

// One AdamW step on a fixed pseudo-random gradient: moves the weights and the moments.
void adamw_step(torch::optim::AdamW& opt, model::CausalLM& lm, double scale) {
  for (auto& p : lm->parameters()) p.mutable_grad() = torch::full_like(p, scale) + 0.01 * p.detach();
  opt.step();
}

std::string fresh_dir(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  return d;
}

// Per parameter: step, exp_avg, exp_avg_sq (clones).
struct Moments {
  std::vector<int64_t> steps;
  std::vector<torch::Tensor> avg, avg_sq;
};
Moments moments(const torch::optim::AdamW& opt, model::CausalLM& lm) {
  Moments m;
  for (const auto& p : lm->parameters()) {
    const auto it = opt.state().find(compat::optimizer_state_key(opt, p));
    EXPECT_NE(it, opt.state().end());
    if (it == opt.state().end()) continue;
    const auto& st = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    m.steps.push_back(st.step());
    m.avg.push_back(st.exp_avg().clone());
    m.avg_sq.push_back(st.exp_avg_sq().clone());
  }
  return m;
}

TEST(CheckpointSaver, TheCheckpointHoldsTheValuesOfSaveTimeWhileTrainingGoesOn) {
  const std::string out = fresh_dir("zrl_saver_values");
  auto lm = tiny_model(5);
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(0.01));
  adamw_step(opt, lm, 1.0);
  // The reference: plain clones of the weights and the AdamW state at save time.
  std::vector<torch::Tensor> weights;
  for (auto& p : lm->parameters()) weights.push_back(p.detach().clone());
  const Moments want = moments(opt, lm);
  torch::serialize::OutputArchive direct;  // the synchronous save of the same optimizer, for its options
  opt.save(direct);
  direct.save_to(out + "_direct_optimizer.pt");
  CheckpointSaver saver(out, 2, /*write_delay_ms=*/300);  // the write stays in flight while we train on
  CheckpointContents c;
  c.model = lm, c.optimizer = &opt, c.state = Json{{"step", 1}};
  saver.save(1, c);
  EXPECT_TRUE(saver.writing());
  {
    torch::NoGradGuard ng;
    adamw_step(opt, lm, -3.0);  // the next step changes weights and moments in place
    for (auto& p : lm->parameters()) p.add_(1.0);
  }
  saver.finish();
  const std::string ck = out + "/checkpoints/step_1";
  ASSERT_EQ(verify_checkpoint(ck), "");
  auto saved = model::load_model(ck);
  const auto sp = saved->parameters();
  ASSERT_EQ(sp.size(), weights.size());
  for (size_t i = 0; i < sp.size(); ++i) EXPECT_TRUE(torch::equal(sp[i], weights[i])) << "parameter " << i;
  EXPECT_EQ(read_json(ck + "/trainer_state/state.json")["step"], 1);
  torch::optim::AdamW loaded(saved->parameters(), torch::optim::AdamWOptions(0.5));
  torch::serialize::InputArchive ar;
  ar.load_from(ck + "/trainer_state/optimizer.pt");
  loaded.load(ar);
  torch::optim::AdamW loaded_direct(tiny_model(5)->parameters(), torch::optim::AdamWOptions(0.5));
  torch::serialize::InputArchive direct_ar;
  direct_ar.load_from(out + "_direct_optimizer.pt");
  loaded_direct.load(direct_ar);
  const auto lr = [](const torch::optim::AdamW& o) {
    return static_cast<const torch::optim::AdamWOptions&>(o.param_groups()[0].options()).lr();
  };
  EXPECT_EQ(lr(loaded), lr(loaded_direct));  // group options as the optimizer's own archive carries them
  const Moments got = moments(loaded, saved);
  ASSERT_EQ(got.steps.size(), want.steps.size());
  ASSERT_EQ(want.steps.size(), sp.size());
  for (size_t i = 0; i < sp.size(); ++i) {
    EXPECT_EQ(got.steps[i], 1) << "parameter " << i;
    EXPECT_TRUE(torch::equal(got.avg[i], want.avg[i])) << "exp_avg of parameter " << i;
    EXPECT_TRUE(torch::equal(got.avg_sq[i], want.avg_sq[i])) << "exp_avg_sq of parameter " << i;
  }
  EXPECT_GE(saver.timing().value("background_s", 0.0), 0.3);  // the delay ran on the writer thread
}

TEST(CheckpointSaver, AFailedBackgroundWriteIsReportedAndLeavesThePreviousCheckpoint) {
  const std::string out = fresh_dir("zrl_saver_error");
  auto lm = tiny_model(6);
  torch::optim::AdamW opt(lm->parameters());
  CheckpointSaver saver(out, 3, /*write_delay_ms=*/300);
  CheckpointContents c;
  c.model = lm, c.optimizer = &opt;
  saver.save(1, c);
  saver.finish();
  ASSERT_EQ(verify_checkpoint(out + "/checkpoints/step_1"), "");
  saver.save(2, c);
  // Once the files are written (the writer then waits 300 ms before the seal), the temp folder is lost.
  const std::string written = out + "/checkpoints/.tmp_step_2/trainer_state/state.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(written) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(fs::exists(written));
  zerorl::remove_tree(out + "/checkpoints/.tmp_step_2");
  try {
    saver.finish();
    FAIL() << "the failed write was not reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint step_2"), std::string::npos) << e.what();
  }
  const auto latest = latest_valid_checkpoint(out);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->step, 1);
}

// reserve() allocates what the first save would have: the model's parameters and two AdamW moments per
// stepped parameter (counted here from the parameters themselves), before the optimizer has any state. The
// save after it allocates nothing and holds the same values as a save without it.
TEST(CheckpointSaver, AReservedFirstSaveAllocatesNothingAndHoldsTheSameValues) {
  auto lm = tiny_model(7);
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(0.01));
  int64_t param_bytes = 0;
  for (const auto& p : lm->parameters()) param_bytes += static_cast<int64_t>(p.nbytes());
  CheckpointContents c;
  c.model = lm, c.optimizer = &opt, c.state = Json{{"step", 1}};
  CheckpointSaver reserved(fresh_dir("zrl_saver_reserved"), 1), plain(fresh_dir("zrl_saver_plain"), 1);
  reserved.reserve(c);  // no optimizer state yet: the moments' shapes come from the parameters
  reserved.finish();
  EXPECT_EQ(reserved.timing().value("reserved_bytes", int64_t{-1}), 3 * param_bytes);
  adamw_step(opt, lm, 1.0);
  reserved.save(1, c);
  EXPECT_EQ(reserved.timing().value("allocated_bytes", int64_t{-1}), 0);
  plain.save(1, c);
  EXPECT_EQ(plain.timing().value("allocated_bytes", int64_t{-1}), 3 * param_bytes);
  reserved.finish(), plain.finish();
  const std::string a = fs::temp_directory_path() / "zrl_saver_reserved/checkpoints/step_1";
  const std::string b = fs::temp_directory_path() / "zrl_saver_plain/checkpoints/step_1";
  ASSERT_EQ(verify_checkpoint(a), "");
  ASSERT_EQ(verify_checkpoint(b), "");
  auto la = model::load_model(a), lb = model::load_model(b);
  const auto pa = la->parameters(), pb = lb->parameters(), pl = lm->parameters();
  ASSERT_EQ(pa.size(), pl.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pl[i])) << "parameter " << i;
    EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  }
  const auto load_opt = [](const std::string& dir, model::CausalLM& m) {
    auto o = std::make_unique<torch::optim::AdamW>(m->parameters());
    torch::serialize::InputArchive ar;
    ar.load_from(dir + "/trainer_state/optimizer.pt");
    o->load(ar);
    return o;
  };
  const Moments want = moments(opt, lm), got = moments(*load_opt(a, la), la);
  ASSERT_EQ(got.avg.size(), want.avg.size());
  for (size_t i = 0; i < got.avg.size(); ++i) {
    EXPECT_TRUE(torch::equal(got.avg[i], want.avg[i])) << "exp_avg of parameter " << i;
    EXPECT_TRUE(torch::equal(got.avg_sq[i], want.avg_sq[i])) << "exp_avg_sq of parameter " << i;
  }
  plain.save(2, c);  // the plain saver's second save reuses what its first allocated
  EXPECT_EQ(plain.timing().value("allocated_bytes", int64_t{-1}), 0);
}

}  // namespace
}  // namespace zerorl::trainer
