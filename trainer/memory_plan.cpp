// trainer/memory_plan.cpp: the arithmetic of memory_plan.h and the recommendation text.
// Not here: the decision to run (the trainer calls plan_memory and throws when !fits).
#include "trainer/memory_plan.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace zerorl::trainer {

namespace {
std::string gib(double b) { return fmt::format("{:.2f} GiB", b / (1024.0 * 1024.0 * 1024.0)); }

// The KV cache the engine allocates for in.seq_len tokens: slots and bytes; an error text when not even one
// sequence fits the budget (the engine would refuse too, naming the same numbers).
std::string plan_kv_cache(const MemoryInputs& in, double wbytes, MemoryPlan& p) {
  rollout::KvShape shape;
  shape.layers = in.layers, shape.kv_heads = in.kv_heads, shape.head_dim = in.head_dim;
  shape.dtype_bytes = static_cast<int64_t>(wbytes), shape.vocab = in.vocab;
  if (in.seq_len <= 0 || (in.rollout_seqs <= 0 && !in.kv_budget.limited())) return "";
  try {
    const rollout::KvPlan kv = rollout::plan_kv(shape, in.seq_len, in.kv_budget, in.rollout_seqs);
    p.kv_slots = kv.slots;
    p.kv_cache = static_cast<double>(kv.bytes);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// Which term to shrink, and to what, when states + KV cache + activations exceed `usable`.
std::string recommend(const MemoryInputs& in, const MemoryPlan& p, double states, double usable) {
  if (states > usable) {
    return fmt::format(
        "model states alone need {} of {} usable: use a smaller model, or more GPUs with dist.zero: 1 "
        "(the fp32 masters and AdamW moments sharded over the ranks)",
        gib(states), gib(usable));
  }
  const double room = usable - states, act = p.activations + p.logits;
  const double per_token = act / std::max<double>(1.0, static_cast<double>(in.micro_batch_tokens));
  const std::string act_fix = fmt::format(
      "algo.micro_batch_tokens <= {:.0f}{}", std::floor(std::max(0.0, room - p.kv_cache) / per_token),
      in.gradient_checkpointing ? "" : " or model.gradient_checkpointing: true");
  std::string text = fmt::format(
      "the rollout KV cache ({}, {} sequences, kept allocated across the update) and one micro-batch's "
      "activations and logits ({}) exceed the {} left beside the model states: ",
      gib(p.kv_cache), p.kv_slots, gib(act), gib(room));
  if (act >= room) return text + "set " + act_fix;
  const std::string kv_fix =
      fmt::format("rollout.kv_cache_gb <= {:.2f} (or a smaller rollout.kv_cache_fraction)",
                  (room - act) / (1024.0 * 1024.0 * 1024.0));
  if (p.kv_cache >= room) return text + "set " + kv_fix;
  return text + "set " + kv_fix + ", or " + act_fix;
}
}  // namespace

MemoryPlan plan_memory(const MemoryInputs& in) {
  MemoryPlan p;
  const double n = static_cast<double>(in.params);
  const double wbytes = in.bf16_compute ? 2.0 : 4.0;
  p.weights = n * wbytes;
  const double shards = in.zero == 1 ? static_cast<double>(std::max<int64_t>(1, in.world_size)) : 1.0;
  p.master = in.zero == 1 ? 4.0 * n / shards : in.bf16_compute ? 4.0 * n : 0.0;
  p.grads = 4.0 * n;
  p.compute_grads = in.zero == 1 ? wbytes * n : in.bf16_compute ? 2.0 * n : 0.0;
  p.optimizer = 8.0 * n / shards;
  p.reference = in.reference_model ? n * wbytes : 0.0;
  const double tokens = static_cast<double>(in.micro_batch_tokens);
  const double per_layer = in.gradient_checkpointing ? 2.0 * in.hidden : 34.0 * in.hidden * (wbytes / 2.0);
  // With checkpointing one layer is recomputed at a time, so one full layer's activations come on top.
  p.activations = tokens * per_layer * static_cast<double>(in.layers) +
                  (in.gradient_checkpointing ? tokens * 34.0 * in.hidden * (wbytes / 2.0) : 0.0);
  p.logits = tokens * (in.fused_lm_head ? 6.0 : 8.0) * static_cast<double>(in.vocab);
  const std::string kv_error = plan_kv_cache(in, wbytes, p);
  // The engine keeps its KV cache allocated across the update: both are resident at once.
  const double states = p.weights + p.master + p.grads + p.compute_grads + p.optimizer + p.reference;
  p.total = states + p.kv_cache + p.activations + p.logits;
  p.device = in.device_bytes;
  const double usable = in.device_bytes * in.usable_fraction;
  p.fits = kv_error.empty() && (in.device_bytes <= 0 || p.total <= usable);
  if (!kv_error.empty()) {
    p.recommendation = kv_error;
  } else if (!p.fits) {
    p.recommendation = recommend(in, p, states, usable);
    if (in.zero == 0 && in.world_size > 1) {
      MemoryInputs sharded = in;
      sharded.zero = 1;
      const MemoryPlan z = plan_memory(sharded);
      if (z.fits) {
        p.recommendation = fmt::format(
            "set dist.zero: 1 (the fp32 master weights and AdamW moments sharded over the {} ranks: {} "
            "in all instead of {})",
            in.world_size, gib(z.total), gib(p.total));
      }
    }
  }
  return p;
}

MemoryPlan plan_memory_or_checkpoint(const MemoryInputs& in) {
  MemoryPlan p = plan_memory(in);
  if (p.fits || in.gradient_checkpointing) return p;
  MemoryInputs with = in;
  with.gradient_checkpointing = true;
  MemoryPlan q = plan_memory(with);
  if (!q.fits) return p;
  q.checkpointing_turned_on = true;
  return q;
}

Json MemoryPlan::to_json() const {
  return Json{{"weights_gib", weights / 1073741824.0},
              {"master_gib", master / 1073741824.0},
              {"grads_gib", grads / 1073741824.0},
              {"compute_grads_gib", compute_grads / 1073741824.0},
              {"optimizer_gib", optimizer / 1073741824.0},
              {"activations_gib", activations / 1073741824.0},
              {"logits_gib", logits / 1073741824.0},
              {"kv_cache_gib", kv_cache / 1073741824.0},
              {"kv_slots", kv_slots},
              {"reference_gib", reference / 1073741824.0},
              {"total_gib", total / 1073741824.0},
              {"device_gib", device / 1073741824.0},
              {"fits", fits},
              {"checkpointing_turned_on", checkpointing_turned_on},
              {"recommendation", recommendation}};
}

double host_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<double>(pages) * static_cast<double>(size) : 0.0;
}

double host_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {  // "MemAvailable:   123456 kB"
    if (line.rfind("MemAvailable:", 0) == 0) return std::strtod(line.c_str() + 13, nullptr) * 1024.0;
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<double>(pages) * static_cast<double>(size) : 0.0;
}

namespace {
// The CUDA runtime (LibTorch's dependency, already in the process) or the driver; RTLD_NOLOAD never loads
// one.
void* loaded_symbol(const char* name, std::initializer_list<const char*> libs) {
  if (void* f = dlsym(RTLD_DEFAULT, name)) return f;
  for (const char* lib : libs) {
    if (void* h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
      if (void* f = dlsym(h, name)) return f;
    }
  }
  return nullptr;
}
}  // namespace

std::optional<DeviceMemory> cuda_device_memory() {
  using MemGetInfo = int (*)(size_t*, size_t*);  // cudaError_t / CUresult: 0 = success
  size_t free_b = 0, total_b = 0;
  auto runtime = reinterpret_cast<MemGetInfo>(loaded_symbol(
      "cudaMemGetInfo", {"libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"}));
  if (runtime != nullptr && runtime(&free_b, &total_b) == 0 && total_b > 0) {
    return DeviceMemory{static_cast<double>(total_b), static_cast<double>(free_b)};
  }
  auto driver =
      reinterpret_cast<MemGetInfo>(loaded_symbol("cuMemGetInfo_v2", {"libcuda.so.1", "libcuda.so"}));
  if (driver != nullptr && driver(&free_b, &total_b) == 0 && total_b > 0) {
    return DeviceMemory{static_cast<double>(total_b), static_cast<double>(free_b)};
  }
  return std::nullopt;
}

double device_budget_bytes(const DeviceMemory& m, double held) {
  return std::min(m.total, std::max(0.0, m.free) + std::max(0.0, held));
}

}  // namespace zerorl::trainer
