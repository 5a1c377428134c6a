// trainer/data_parallel.cpp: rank device, communicator, start-up checks, prompt shards, weight broadcast
// and metric reductions of a data-parallel run (see data_parallel.h). Not here: collectives (dist/).
#include "trainer/data_parallel.h"

#include "core/crc32c.h"
#include "core/error.h"
#include "dist/grad_sync.h"
#include "model/device.h"

namespace zerorl::trainer {

torch::Device rank_device(const std::string& device, const dist::Context& ctx) {
  torch::Device d = model::resolve_device(device);
  if (d.is_cuda() && ctx.world_size > 1) {
    ZRL_CHECK(device == "auto" || device == "cuda",
              "run.device = {} pins every rank to one GPU; with {} ranks use run.device = cuda (rank i takes "
              "cuda:<local rank>)",
              device, ctx.world_size);
    d = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(ctx.local_rank));
  }
  return d;
}

std::unique_ptr<dist::Communicator> make_run_communicator(const Config& cfg, const dist::Context& ctx,
                                                          const torch::Device& device) {
  dist::CommOptions o;
  o.backend = cfg.dist.backend;
  o.timeout_s = cfg.dist.timeout_s;
  o.cuda = device.is_cuda();
  return dist::make_communicator(ctx, o);
}

void check_data_parallel(const Config& cfg, dist::Communicator& comm) {
  const int w = comm.world_size();
  if (w == 1) return;
  const int64_t p = cfg.rollout.prompts_per_step;
  ZRL_CHECK(
      p % w == 0,
      "rollout.prompts_per_step = {} does not divide by the {} ranks (each rank rolls out an equal share): "
      "set it to a multiple of {} (e.g. {}), or launch a number of ranks that divides {}",
      p, w, w, (p / w + 1) * w, p);
  ZRL_CHECK(!cfg.rollout.dynamic_sampling,
            "rollout.dynamic_sampling is not data parallel yet ({} ranks): set it to false or run one rank",
            w);
  ZRL_CHECK(!cfg.algo.whiten_batch,
            "algo.whiten_batch is not data parallel yet ({} ranks): set it to false or run one rank", w);
  Config resolved = cfg;  // to_yaml visits (non-const)
  const std::string yaml = config::to_yaml(resolved, false);
  const auto differ = dist::ranks_differing(comm, crc32c(yaml.data(), yaml.size()));
  std::string names;
  for (int r : differ) names += (names.empty() ? "" : ", ") + std::to_string(r);
  ZRL_CHECK(differ.empty(),
            "rank(s) {} resolved a config that differs from rank 0's (hash of the resolved YAML): every rank "
            "must get the same --config file and --set overrides",
            names);
}

PromptShard prompt_shard(int64_t prompts, const dist::Communicator& comm) {
  const int64_t each = prompts / comm.world_size();
  return {each * comm.rank(), each};
}

void broadcast_tensors(dist::Communicator& comm, const std::vector<torch::Tensor>& tensors) {
  if (comm.backend() == "local") return;
  torch::NoGradGuard ng;
  for (const auto& t : tensors) {
    auto c = t.detach().contiguous();
    comm.broadcast(c, 0);
    if (c.data_ptr() != t.data_ptr()) t.detach().copy_(c);
  }
}

void reduce_doubles(dist::Communicator& comm, std::vector<double>& sums, std::vector<double>& maxes) {
  if (comm.backend() == "local") return;
  for (auto [v, op] : {std::pair{&sums, dist::ReduceOp::kSum}, std::pair{&maxes, dist::ReduceOp::kMax}}) {
    if (v->empty()) continue;
    auto t = torch::tensor(*v, torch::kFloat64).to(comm.device());
    comm.all_reduce(t, op);
    t = t.cpu();
    for (size_t i = 0; i < v->size(); ++i) (*v)[i] = t[static_cast<int64_t>(i)].item<double>();
  }
}

}  // namespace zerorl::trainer
