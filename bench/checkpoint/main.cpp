// bench/checkpoint/main.cpp: how long a checkpoint of a Qwen2.5-shaped model (random weights, fp32 as the
// trainer's masters, AdamW state) blocks the step loop, and how long its background write takes, by part.
// Not here: the save itself (trainer/checkpoint_saver.h, the trainer's own path). Prints one JSON object.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "bench/common/model_shape.h"
#include "core/files.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "core/timer.h"
#include "model/config.h"
#include "model/decoder.h"
#include "trainer/checkpoint_saver.h"

namespace {

namespace model = zerorl::model;
namespace trainer = zerorl::trainer;
using zerorl::Json;

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{"zerorl checkpoint benchmark (random weights, Qwen2.5 shapes, fp32 + AdamW state)"};
  std::string size = "0.5b", device_name = torch::cuda::is_available() ? "cuda" : "cpu", out_dir;
  int64_t saves = 2;
  bool reserve = true;
  app.add_option("--model-size", size, "0.5b | 1.5b | tiny");
  app.add_option("--device", device_name, "cuda | cpu: where the weights and the optimizer state live");
  app.add_option("--out", out_dir, "output folder (its checkpoints/ is written and pruned)")->required();
  app.add_option("--saves", saves, "saves in a row (the first one also allocates the host copies)");
  app.add_option(
      "--reserve", reserve,
      "1: allocate the host copies first as the trainer does at its start (CheckpointSaver::reserve, "
      "timed apart); 0: the first save allocates them");
  CLI11_PARSE(app, argc, argv);
  zerorl::log::init(0, "info");  // logs on stderr: stdout is the JSON alone

  const torch::Device device(device_name);
  torch::manual_seed(0);
  model::CausalLM lm(zerorl::bench::model_shape(size), torch::kFloat32, device);
  model::init_random_(lm, 0);
  int64_t params = 0;
  for (const auto& p : lm->parameters()) params += p.numel();
  torch::optim::AdamW opt(lm->parameters(), torch::optim::AdamWOptions(1e-6));
  for (auto& p : lm->parameters()) p.mutable_grad() = torch::zeros_like(p);
  opt.step();  // creates the moments, as after a first training step
  zerorl::remove_tree(out_dir + "/checkpoints");

  trainer::CheckpointSaver saver(out_dir, 1);
  trainer::CheckpointContents c;
  c.model = lm, c.optimizer = &opt, c.state = Json{{"step", 0}};
  Json runs = Json::array(), reserved = nullptr;
  if (reserve) {  // the trainer reserves at its start and runs steps meanwhile; here it is waited for
    zerorl::Stopwatch w;
    saver.reserve(c);
    saver.finish();
    reserved = saver.timing();
    reserved["reserve_wall_s"] = w.seconds();
  }
  for (int64_t i = 1; i <= saves; ++i) {
    saver.save(i, c);
    saver.finish();  // timed apart: background_s is the write alone
    runs.push_back(saver.timing());
  }
  const Json& last = runs.back();
  Json out = {
      {"bench", "checkpoint"},
      {"model", "qwen2.5-" + size + " shapes, random weights, float32 + AdamW state"},
      {"device", device_name},
      {"params", params},
      {"blocking_s", last["blocking_s"]},
      {"background_s", last["background_s"]},
      {"reserve", reserved},
      {"first_blocking_s", runs.front()["blocking_s"]},
      {"saves", runs},
      {"note",
       "blocking_s: the step loop waits (copy into host memory, pinned on CUDA; tokenizer none here); "
       "background_s: safetensors + optimizer archive + state + CRC32C read-back + fsync + rename + "
       "prune on the writer thread; the first save also allocates the host copies unless reserve (the "
       "trainer's "
       "way: allocated on the writer thread while the first steps run) did"}};
  std::cout << out.dump(1) << "\n";
  return 0;
}
