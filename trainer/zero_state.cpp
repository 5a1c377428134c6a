// trainer/zero_state.cpp: ZeRO-1 construction and shard files (see zero_state.h).
// Not here: the sharded update (dist/zero_optimizer.cpp), when the trainer saves (step.cpp).
#include "trainer/zero_state.h"

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "model/checkpoint.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {

namespace {
constexpr const char* kShardPrefix = ".zero_step_";

std::string shard_file(const std::string& folder, int rank) {
  return folder + "/shard_" + std::to_string(rank) + ".pt";
}
}  // namespace

bool stored_as_float32(const Config& cfg, const model::CausalLM& lm) {
  if (cfg.model.path.empty()) return false;
  const Json& raw = lm->config().raw;
  std::string stored;  // transformers < 5 write torch_dtype, 5 writes dtype
  for (const char* k : {"torch_dtype", "dtype"}) {
    if (raw.contains(k) && raw[k].is_string()) stored = raw[k].get<std::string>();
  }
  return stored == "float32";
}

std::unique_ptr<dist::ShardedAdamW> make_sharded_adamw(const Config& cfg, dist::Communicator& comm,
                                                       model::CausalLM lm) {
  // Shard folders a crash left behind (in this process every one is moved into its checkpoint). No rank can
  // be writing one yet: a save needs rank 0 in its barrier.
  const std::string root = cfg.run.output_dir + "/checkpoints";
  if (comm.rank() == 0 && fs::is_directory(root)) {
    std::vector<std::string> stale;
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.path().filename().string().rfind(kShardPrefix, 0) == 0) stale.push_back(e.path().string());
    }
    for (const auto& d : stale) remove_tree(d);
  }
  const dist::AdamWHyper h{cfg.optim.beta1, cfg.optim.beta2, cfg.optim.eps, cfg.optim.weight_decay};
  auto z = std::make_unique<dist::ShardedAdamW>(comm, lm->parameters(), h);
  if (lm->dtype() != torch::kFloat32 && stored_as_float32(cfg, lm)) {
    auto full = model::load_model(cfg.model.path, torch::kFloat32, lm->device());
    z->pull_from(full->parameters());
    z->push();
  }
  return z;
}

std::string write_zero_shards(const std::string& output_dir, int64_t step, dist::ShardedAdamW& z,
                              dist::Communicator& comm) {
  const std::string folder = output_dir + "/checkpoints/" + kShardPrefix + std::to_string(step);
  fs::create_directories(folder);
  torch::serialize::OutputArchive ar;
  ar.write("master", z.masters().cpu());
  ar.write("exp_avg", z.exp_avg().cpu());
  ar.write("exp_avg_sq", z.exp_avg_sq().cpu());
  const std::string file = shard_file(folder, comm.rank());
  ar.save_to(file + ".tmp");
  fs::rename(file + ".tmp", file);  // atomic: a shard is whole or absent
  comm.barrier();                   // every shard is on disk before rank 0 seals
  if (comm.rank() != 0) return folder;
  const auto& l = z.layout();
  const Json manifest{{"world_size", l.world_size},
                      {"numel", l.numel},
                      {"shard", l.shard},
                      {"padded", l.padded},
                      {"steps", z.steps()},
                      {"tensors", {"master", "exp_avg", "exp_avg_sq"}},
                      {"layout",
                       "the trainable parameters in model order, flattened, fp32, padded with "
                       "zeros; rank r holds [r * shard, (r + 1) * shard)"}};
  write_file_atomic(folder + "/zero.json", manifest.dump(2));
  return folder;
}

void load_zero_shards(const std::string& dir, dist::ShardedAdamW& z) {
  const std::string folder = dir + "/trainer_state/zero";
  ZRL_CHECK(
      fs::exists(folder + "/zero.json"),
      "checkpoint '{}' was written with dist.zero = 0 (trainer_state/optimizer.pt, no zero/): resume it "
      "with dist.zero: 0",
      dir);
  const Json m = read_json(folder + "/zero.json");
  const int saved_world = m.at("world_size").get<int>();
  const int64_t numel = m.at("numel").get<int64_t>();
  ZRL_CHECK(
      numel == z.layout().numel,
      "checkpoint '{}': its ZeRO-1 shards hold {} parameter elements, the model has {} (another model?)", dir,
      numel, z.layout().numel);
  std::vector<torch::Tensor> master, avg, avg_sq;
  for (int r = 0; r < saved_world; ++r) {
    torch::serialize::InputArchive ar;
    ar.load_from(shard_file(folder, r));
    torch::Tensor a, b, c;
    ar.read("master", a);
    ar.read("exp_avg", b);
    ar.read("exp_avg_sq", c);
    master.push_back(a), avg.push_back(b), avg_sq.push_back(c);
  }
  const auto& to = z.layout();
  const auto dev = z.masters().device();
  z.load(dist::reshard(master, to).to(dev), dist::reshard(avg, to).to(dev), dist::reshard(avg_sq, to).to(dev),
         m.at("steps").get<int64_t>());
}

void check_not_zero_checkpoint(const std::string& dir) {
  ZRL_CHECK(
      !fs::exists(dir + "/trainer_state/zero/zero.json"),
      "checkpoint '{}' holds ZeRO-1 optimizer shards (trainer_state/zero/): resume it with dist.zero: 1",
      dir);
}

}  // namespace zerorl::trainer
