// bench/common/kernel_profile.h: where a bench's GPU time goes. Wraps a piece of work in LibTorch's Kineto
// profiler (the engine behind torch.profiler), then sums the device time of every kernel by name and
// compares the sum with the wall time: a busy fraction well under 1 means the work is bound by launches
// and host gaps, not by kernels. Written here because the bench needs a table in its JSON, not a viewer;
// the full Chrome trace is saved beside it for one.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/json_io.h"

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace zerorl::bench {

// A coarse family for a kernel name: gemm, attention, optimizer, reduce, copy or elementwise.
inline std::string kernel_kind(const std::string& name) {
  const auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("gemm") || has("xmma") || has("cutlass") || has("cublas") || has("sm90_")) return "gemm";
  if (has("flash") || has("fmha") || has("attention") || has("Attention")) return "attention";
  if (has("multi_tensor") || has("adam") || has("Adam")) return "optimizer";
  if (has("reduce") || has("Reduce") || has("softmax") || has("Softmax") || has("norm")) return "reduce";
  if (has("copy") || has("Memcpy") || has("Memset") || has("cat") || has("index")) return "copy";
  return "elementwise";
}

// Runs `work` once under the profiler (CPU + CUDA activities) and returns {wall_s, kernel_s,
// busy_fraction, kernels: the `top` kernels by total device time with calls and share}. Writes the Chrome
// trace to `trace_path` unless it is empty. Needs torch >= 2 with Kineto (pip's builds have it).
inline Json profile_kernels(const std::function<void()>& work, const std::string& trace_path, int top = 40) {
#if TORCH_VERSION_MAJOR >= 2
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  // With a trace to save, the input shapes of each op go into it too: what tells one GEMM from another.
  const ProfilerConfig config(ProfilerState::KINETO, /*report_input_shapes=*/!trace_path.empty());
  prof::prepareProfiler(config, activities);
  const auto sync = [] {
    if (torch::cuda::is_available()) torch::cuda::synchronize();
  };
  sync();
  const auto t0 = std::chrono::steady_clock::now();
  prof::enableProfiler(config, activities);
  work();
  sync();
  auto result = prof::disableProfiler();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct Sum {
    double seconds = 0;
    int64_t calls = 0;
  };
  std::map<std::string, Sum> by_name;
  std::map<std::string, double> by_kind;
  double kernel_s = 0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    const double s = static_cast<double>(e.durationNs()) * 1e-9;
    auto& sum = by_name[e.name().substr(0, 160)];
    sum.seconds += s;
    sum.calls += 1;
    by_kind[kernel_kind(e.name())] += s;
    kernel_s += s;
  }
  std::vector<std::pair<std::string, Sum>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  Json kernels = Json::array();
  for (size_t i = 0; i < rows.size() && static_cast<int>(i) < top; ++i)
    kernels.push_back({{"name", rows[i].first},
                       {"seconds", rows[i].second.seconds},
                       {"calls", rows[i].second.calls},
                       {"share", kernel_s > 0 ? rows[i].second.seconds / kernel_s : 0.0}});
  if (!trace_path.empty()) result->save(trace_path);
  return {{"wall_s", wall},
          {"kernel_s", kernel_s},
          {"busy_fraction", wall > 0 ? kernel_s / wall : 0.0},
          {"distinct_kernels", rows.size()},
          {"seconds_by_kind", by_kind},
          {"kernels", kernels},
          {"note",
           "device time per kernel name under Kineto (one profiled run, after the timed ones); "
           "busy_fraction = summed kernel time / the profiled wall time, which the profiler's host overhead "
           "inflates: the bench's kernel_s_over_unprofiled compares with the timed runs"}};
#else
  (void)work, (void)trace_path, (void)top;
  throw std::runtime_error("--profile needs LibTorch >= 2 with Kineto (this build has " TORCH_VERSION ")");
#endif
}

}  // namespace zerorl::bench
