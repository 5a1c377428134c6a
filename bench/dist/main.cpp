// bench/dist/main.cpp: data-parallel measurements on the ranks of one launch (mpirun / srun): all-reduce bus
// bandwidth the nccl-tests way, and the GRPO step (random Qwen2.5-0.5B shapes, the trainer's rollout::Engine
// and trainer::policy_update with the communicator) on N ranks vs the same global batch on rank 0 alone.
// Rank 0 prints the JSON. Not here: the collectives (dist/), the one-GPU step (bench/grpo_step).
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>

#include "algo/fused_adamw.h"
#include "bench/common/grpo_bench_step.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "core/timer.h"
#include "dist/communicator.h"
#include "model/config.h"
#include "model/decoder.h"
#include "rollout/engine.h"
#include "trainer/data_parallel.h"
#include "trainer/mixed_precision.h"
#include "trainer/update.h"
#include "zerorl/build_info.h"

namespace zr = zerorl;

namespace {

struct Options {
  bool tiny = false, skip_step = false, skip_allreduce = false, one_rank = true;
  int64_t prompts = 64, group = 8, prompt_len = 256, new_tokens = 512, micro_batch_tokens = 16384, steps = 2;
  int64_t min_bytes = 1024, max_bytes = int64_t{256} << 20, factor = 2, warmup = 5, iters = 20;
  double bucket_mb = 25, timeout_s = 1800;
  std::string device = torch::cuda::is_available() ? "cuda" : "cpu", backend = "auto";
  uint64_t seed = 1;
};

using zr::bench::sync;

// The maximum over ranks: the slowest rank sets the pace of every collective that follows.
double max_over_ranks(zr::dist::Communicator& comm, double v) {
  auto t = torch::tensor({v}, torch::kFloat64).to(comm.device());
  comm.all_reduce(t, zr::dist::ReduceOp::kMax);
  return t.cpu().item<double>();
}

// One size of the sweep: `warmup` untimed all-reduces, then `iters` timed back to back (as nccl-tests: one
// stream, out-of-place there, in place here). time = the slowest rank's mean per all-reduce; algbw = bytes /
// time; busbw = algbw * 2(n-1)/n, the bytes each rank's link moves in a ring all-reduce (0 at n = 1).
zr::Json all_reduce_size(zr::dist::Communicator& comm, const Options& o, int64_t bytes) {
  const int n = comm.world_size();
  auto t = torch::full({bytes / 4}, static_cast<float>(comm.rank() + 1),
                       torch::TensorOptions(torch::kFloat32).device(comm.device()));
  comm.all_reduce(t);  // correctness once: sum of rank + 1 over ranks
  const float want = static_cast<float>(n * (n + 1) / 2);
  const bool correct = (t.min().item<float>() == want) && (t.max().item<float>() == want);
  for (int64_t i = 0; i < o.warmup; ++i) comm.all_reduce(t);
  sync(comm.device());
  comm.barrier();
  zr::Stopwatch w;
  for (int64_t i = 0; i < o.iters; ++i) comm.all_reduce(t);
  sync(comm.device());
  const double sec = max_over_ranks(comm, w.seconds() / static_cast<double>(o.iters));
  const double algbw = static_cast<double>(bytes) / sec / 1e9;
  return {{"bytes", bytes},
          {"time_us", sec * 1e6},
          {"algbw_gbs", algbw},
          {"busbw_gbs", algbw * 2.0 * (n - 1) / n},
          {"correct", correct}};
}

zr::Json all_reduce_sweep(zr::dist::Communicator& comm, const Options& o) {
  zr::Json rows = zr::Json::array();
  for (int64_t b = o.min_bytes; b <= o.max_bytes; b *= o.factor) rows.push_back(all_reduce_size(comm, o, b));
  return rows;
}

using zr::bench::model_config;

// The model, its optimizer and engine on one rank (as bench/grpo_step: bf16 + fp32 masters on CUDA).
struct Policy {
  zr::model::CausalLM lm{nullptr};
  std::unique_ptr<zr::trainer::MasterWeights> masters;
  std::unique_ptr<torch::optim::AdamW> opt;
  std::unique_ptr<zr::rollout::Engine> engine;
  zr::trainer::PolicyState state;

  Policy(const Options& o, const torch::Device& device) {
    const auto dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
    lm = zr::model::CausalLM(model_config(o.tiny), dtype, device);
    zr::model::init_random_(lm, o.seed);  // the same weights on every rank
    if (dtype != torch::kFloat32) masters = std::make_unique<zr::trainer::MasterWeights>(lm, torch::kFloat32);
    opt = std::make_unique<zerorl::algo::FusedAdamW>(masters ? masters->parameters() : lm->parameters(),
                                                     torch::optim::AdamWOptions(1e-6));
    zr::rollout::EngineOptions eo;
    eo.batch_invariant = true;
    engine = std::make_unique<zr::rollout::Engine>(lm, eo);
    state = zr::trainer::PolicyState{lm, zr::model::CausalLM(nullptr), opt.get(), masters.get(), 0};
  }
};

// One GRPO step over `prompts` (this rank's share, or all of them at world size 1): seconds per phase.
zr::PhaseTimes grpo_step(const zr::Config& cfg, const Options& o, Policy& p,
                         const std::vector<std::vector<int64_t>>& prompts, uint64_t step) {
  zr::PhaseTimes times;
  zr::bench::grpo_step(cfg, *p.engine, p.state, prompts, o.group, o.seed, o.new_tokens, step, times);
  return times;
}

zr::Json phases_json(const zr::PhaseTimes& t) {
  zr::Json j;
  for (const auto& [phase, s] : t) j[phase] = s;
  return j;
}

// `o.steps` steps (the first cold); the last one's phases, each the slowest rank's.
zr::Json timed_steps(const zr::Config& cfg, const Options& o, Policy& p,
                     const std::vector<std::vector<int64_t>>& prompts, zr::dist::Communicator* comm) {
  zr::PhaseTimes last;
  for (int64_t s = 0; s < o.steps; ++s) last = grpo_step(cfg, o, p, prompts, static_cast<uint64_t>(s + 1));
  if (comm != nullptr)
    for (auto& [phase, sec] : last) sec = max_over_ranks(*comm, sec);
  return phases_json(last);
}

zr::Json step_section(zr::dist::Communicator& comm, const Options& o, const torch::Device& device) {
  zr::Config cfg;
  cfg.rollout.prompts_per_step = o.prompts, cfg.rollout.group_size = o.group;
  cfg.rollout.temperature = 1.0, cfg.rollout.max_new_tokens = o.new_tokens;
  cfg.algo.micro_batch_tokens = o.micro_batch_tokens, cfg.algo.old_logprobs = "recompute";
  cfg.optim.lr = 1e-6, cfg.trainer.steps = 1000;
  const int n = comm.world_size();
  ZRL_CHECK(o.prompts % n == 0, "--prompts {} does not divide by the {} ranks", o.prompts, n);
  const auto mc = model_config(o.tiny);
  std::mt19937_64 rng(o.seed);  // the same global prompts on every rank
  std::uniform_int_distribution<int64_t> id(0, mc.vocab_size - 1);
  std::vector<std::vector<int64_t>> all(static_cast<size_t>(o.prompts));
  for (auto& q : all) {
    q.resize(static_cast<size_t>(o.prompt_len));
    for (auto& t : q) t = id(rng);
  }
  const int64_t each = o.prompts / n;
  const std::vector<std::vector<int64_t>> mine(all.begin() + each * comm.rank(),
                                               all.begin() + each * (comm.rank() + 1));
  Policy p(o, device);
  zr::Json out{{"prompts", o.prompts},       {"prompts_per_rank", each},
               {"group", o.group},           {"prompt_len", o.prompt_len},
               {"new_tokens", o.new_tokens}, {"micro_batch_tokens", o.micro_batch_tokens},
               {"bucket_mb", o.bucket_mb}};
  p.state.comm = &comm;
  p.state.bucket_bytes = static_cast<int64_t>(o.bucket_mb * 1048576.0);
  out["n_ranks"] = timed_steps(cfg, o, p, mine, &comm);
  if (o.one_rank && n > 1) {  // the same global batch on rank 0 alone while the others wait
    if (comm.rank() == 0) {
      p.state.comm = nullptr;
      out["one_rank"] = timed_steps(cfg, o, p, all, nullptr);
    }
    comm.barrier();
    const double t1 = comm.rank() == 0 ? out["one_rank"]["total"].get<double>() : 0.0;
    const double tn = out["n_ranks"]["total"].get<double>();
    out["speedup"] = t1 / tn;
    out["scaling_efficiency"] = t1 / (n * tn);  // strong scaling: 1 = n times faster on n ranks
  }
  int64_t params = 0;
  for (const auto& t : p.lm->parameters()) params += t.numel();
  out["params"] = params;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{"all-reduce bus bandwidth and the data-parallel GRPO step on the ranks of one launch"};
  Options o;
  app.add_flag("--tiny", o.tiny, "tiny model and batch (CPU smoke test)");
  app.add_option("--device", o.device, "cuda (rank i takes cuda:<local rank>) | cpu");
  app.add_option("--backend", o.backend, "dist.backend: auto (nccl for cuda, mpi for cpu) | mpi | nccl");
  app.add_option("--min-bytes", o.min_bytes, "all-reduce sweep: first size (float32 elements x 4)");
  app.add_option("--max-bytes", o.max_bytes, "all-reduce sweep: last size");
  app.add_option("--factor", o.factor, "all-reduce sweep: size multiplier")->check(CLI::Range(2, 1024));
  app.add_option("--warmup", o.warmup, "untimed all-reduces per size");
  app.add_option("--iters", o.iters, "timed all-reduces per size")->check(CLI::PositiveNumber);
  app.add_flag("--skip-allreduce", o.skip_allreduce, "no bandwidth sweep");
  app.add_flag("--skip-step", o.skip_step, "no GRPO step");
  app.add_option("--one-rank", o.one_rank, "also time the global batch on rank 0 alone (scaling efficiency)");
  app.add_option("--prompts", o.prompts, "P prompts of the global batch (divisible by the ranks)");
  app.add_option("--group", o.group, "G samples per prompt");
  app.add_option("--prompt-len", o.prompt_len, "prompt tokens (random ids)");
  app.add_option("--new", o.new_tokens, "new tokens per answer (EOS ignored: exactly this many)");
  app.add_option("--micro-batch-tokens", o.micro_batch_tokens, "algo.micro_batch_tokens");
  app.add_option("--bucket-mb", o.bucket_mb, "dist.bucket_mb: gradient all-reduce bucket size");
  app.add_option("--steps", o.steps, "steps per measurement; the first is cold")->check(CLI::PositiveNumber);
  app.add_option("--timeout-s", o.timeout_s, "dist.timeout_s: deadline of every collective");
  app.add_option("--seed", o.seed, "weights, prompts and sampling seed");
  CLI11_PARSE(app, argc, argv);
  zr::log::init(0, "warn");  // stdout is rank 0's JSON alone
  if (o.tiny) o.prompts = 4, o.group = 4, o.prompt_len = 16, o.new_tokens = 8, o.micro_batch_tokens = 64;
  if (o.min_bytes < 4 || o.min_bytes > o.max_bytes)
    throw std::invalid_argument("need 4 <= --min-bytes <= --max-bytes");

  const zr::dist::Context ctx = zr::dist::discover();
  const torch::Device device = zr::trainer::rank_device(o.device, ctx);
  zr::dist::CommOptions co;
  co.backend = o.backend, co.cuda = device.is_cuda(), co.timeout_s = o.timeout_s;
  auto comm = zr::dist::make_communicator(ctx, co);
  zr::Json out{{"bench", "dist"},
               {"launcher", ctx.launcher},
               {"ranks", comm->world_size()},
               {"backend", comm->backend()},
               {"device", device.is_cuda() ? "cuda" : "cpu"},
               {"model", o.tiny ? "tiny random" : "qwen2.5-0.5b shapes, random weights"},
               {"torch", TORCH_VERSION}};
  if (!o.skip_allreduce) out["all_reduce"] = all_reduce_sweep(*comm, o);
  if (!o.skip_step) out["grpo_step"] = step_section(*comm, o, device);
  if (comm->rank() == 0) std::cout << out.dump(1) << std::endl;
  comm->barrier();
  return 0;
}
