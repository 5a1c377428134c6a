// trainer/memory_plan.cpp: the arithmetic of memory_plan.h and the recommendation text.
// Not here: the decision to run (the trainer calls plan_memory and throws when !fits).
#include "trainer/memory_plan.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace zerorl::trainer {

namespace {
std::string gib(double b) { return fmt::format("{:.2f} GiB", b / (1024.0 * 1024.0 * 1024.0)); }
}  // namespace

MemoryPlan plan_memory(const MemoryInputs& in) {
  MemoryPlan p;
  const double n = static_cast<double>(in.params);
  const double wbytes = in.bf16_compute ? 2.0 : 4.0;
  p.weights = n * wbytes;
  p.master = in.bf16_compute ? 4.0 * n : 0.0;
  p.grads = 4.0 * n;
  p.compute_grads = in.bf16_compute ? 2.0 * n : 0.0;
  p.optimizer = 8.0 * n;
  p.reference = in.reference_model ? n * wbytes : 0.0;
  const double tokens = static_cast<double>(in.micro_batch_tokens);
  const double per_layer = in.gradient_checkpointing ? 2.0 * in.hidden : 34.0 * in.hidden * (wbytes / 2.0);
  // With checkpointing one layer is recomputed at a time, so one full layer's activations come on top.
  p.activations = tokens * per_layer * static_cast<double>(in.layers) +
                  (in.gradient_checkpointing ? tokens * 34.0 * in.hidden * (wbytes / 2.0) : 0.0);
  p.logits = tokens * 8.0 * static_cast<double>(in.vocab);
  p.kv_cache = static_cast<double>(in.rollout_seqs) * static_cast<double>(in.seq_len) * 2.0 *
               static_cast<double>(in.layers) * static_cast<double>(in.kv_dim) * wbytes;
  // Rollout and update do not overlap: the KV cache is freed before the update's activations exist.
  const double states = p.weights + p.master + p.grads + p.compute_grads + p.optimizer + p.reference;
  p.total = states + std::max(p.activations + p.logits, p.kv_cache);
  p.device = in.device_bytes;
  const double usable = in.device_bytes * in.usable_fraction;
  p.fits = in.device_bytes <= 0 || p.total <= usable;
  if (!p.fits) {
    if (states > usable) {
      p.recommendation = fmt::format(
          "model states alone need {} of {} usable: use a smaller model or more GPUs (sharded optimizer)",
          gib(states), gib(usable));
    } else if (p.kv_cache > p.activations + p.logits) {
      const double room = usable - states;
      const double seqs =
          std::max(1.0, std::floor(room / (p.kv_cache / std::max<int64_t>(1, in.rollout_seqs))));
      p.recommendation = fmt::format(
          "rollout KV cache needs {}: lower rollout.prompts_per_step * rollout.group_size to <= {:.0f} "
          "sequences "
          "or rollout.max_new_tokens",
          gib(p.kv_cache), seqs);
    } else {
      const double room = usable - states;
      const double budget = std::max(1.0, std::floor(room / ((p.activations + p.logits) / tokens)));
      p.recommendation =
          fmt::format("activations of one micro-batch need {}: set algo.micro_batch_tokens <= {:.0f}{}",
                      gib(p.activations + p.logits), budget,
                      in.gradient_checkpointing ? "" : " or model.gradient_checkpointing: true");
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
