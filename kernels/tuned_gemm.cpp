// kernels/tuned_gemm.cpp: kernels/tuned_gemm.h. cuBLASLt is called directly because torch's linear offers
// no way to choose among cuBLASLt's algorithms; the tuning keeps only those that give torch's bits.
#include "kernels/tuned_gemm.h"

#include "compat/torch_compat.h"
#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "kernels/cuda_glue.h"
#endif

namespace zerorl::kernels {
namespace {

#ifdef ZERORL_CUDA_KERNELS
constexpr size_t kWorkspaceBytes = size_t{32} << 20;
constexpr int kCandidates = 16;
constexpr int64_t kTimedRuns = 10;
constexpr int64_t kRotatedBytes = int64_t{128} << 20;  // weight copies cycled while timing: past the L2

void check_lt(cublasStatus_t s, const char* what) {
  ZRL_CHECK(s == CUBLAS_STATUS_SUCCESS, "tuned_gemm: {} failed (cuBLAS status {})", what,
            static_cast<int>(s));
}

// y [rows, N] = x [rows, K] w [N, K]^T, all row-major bf16. Column-major, as cuBLASLt sees them: y^T [N,
// rows] = op_T(w: K x N) * (x: K x rows).
struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t w = nullptr, x = nullptr, y = nullptr;
  bool tuned = false;  // `algo` gives torch's bits
  cublasLtMatmulAlgo_t algo{};

  Plan(int64_t rows, int64_t n, int64_t k) {
    check_lt(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t t = CUBLAS_OP_T, none = CUBLAS_OP_N;
    check_lt(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)), "TRANSA");
    check_lt(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none)), "TRANSB");
    check_lt(cublasLtMatrixLayoutCreate(&w, CUDA_R_16BF, k, n, k), "layout w");
    check_lt(cublasLtMatrixLayoutCreate(&x, CUDA_R_16BF, k, rows, k), "layout x");
    check_lt(cublasLtMatrixLayoutCreate(&y, CUDA_R_16BF, n, rows, n), "layout y");
  }
  ~Plan() {
    cublasLtMatrixLayoutDestroy(y), cublasLtMatrixLayoutDestroy(x), cublasLtMatrixLayoutDestroy(w);
    cublasLtMatmulDescDestroy(op);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
};

struct State {
  std::mutex mutex;
  // by device, torch's GEMM settings (each has its own bits: split-K or not), rows, N, K and parts (each has
  // its own reference: see tuning_case)
  std::map<std::tuple<int, int, int64_t, int64_t, int64_t, int64_t>, std::unique_ptr<Plan>> plans;
  std::map<int, cublasLtHandle_t> handles;
  std::map<std::pair<int, cudaStream_t>, torch::Tensor> workspaces;  // one per stream: calls may overlap
  std::vector<TunedGemmReport> reports;
};

// Never destroyed: the handles and workspaces must outlive every static that might still run a GEMM.
State& state() {
  static auto* s = new State;
  return *s;
}

cublasStatus_t matmul(cublasLtHandle_t handle, const Plan& p, const cublasLtMatmulAlgo_t& algo, const void* w,
                      const void* x, void* y, const torch::Tensor& workspace, cudaStream_t stream) {
  const float one = 1.f, zero = 0.f;
  return cublasLtMatmul(handle, p.op, &one, w, p.w, x, p.x, &zero, y, p.y, y, p.y, &algo,
                        workspace.data_ptr(), kWorkspaceBytes, stream);
}

// Deterministic inputs in [-scale/2, scale/2) without touching any random generator: frac(i * step) over
// i mod 10007 (a prime, so rows of any width differ), one period computed and tiled (no int64 or float32
// temporaries of a weight's size).
torch::Tensor filler(int64_t n, double step, double scale, const torch::TensorOptions& bf16) {
  constexpr int64_t kPeriod = 10007;
  auto i = torch::arange(kPeriod, bf16.dtype(torch::kFloat32));
  auto period = (i * step).frac().sub(0.5).mul(scale).to(torch::kBFloat16);
  return period.repeat({(n + kPeriod - 1) / kPeriod}).narrow(0, 0, n);
}

// Mean time (us) on `stream` of `runs` calls launch(r) after two untimed ones.
double time_us(const std::function<void(int64_t)>& launch, int64_t runs, cudaStream_t stream) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start), cudaEventCreate(&stop);
  launch(0), launch(1);
  cudaEventRecord(start, stream);
  for (int64_t r = 0; r < runs; ++r) launch(r);
  cudaEventRecord(stop, stream);
  cudaEventSynchronize(stop);
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  cudaEventDestroy(start), cudaEventDestroy(stop);
  return 1000.0 * ms / static_cast<double>(runs);
}

// What a kept algorithm must reproduce for one shape: deterministic w [n, k] and x [rows, k], and ref, the
// bits of torch's linear run on each of w's `parts` row blocks, side by side (parts 1: linear(x, w)).
struct TuningCase {
  torch::Tensor w, x, ref;
};

TuningCase tuning_case(int64_t rows, int64_t n, int64_t k, int64_t parts, const torch::TensorOptions& bf16) {
  TuningCase c;
  c.w = filler(n * k, 0.6180339887, 0.1, bf16).view({n, k});
  c.x = filler(rows * k, 0.7548776662, 4.0, bf16).view({rows, k});
  const int64_t part_n = n / parts;
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < parts; ++i)
    outs.push_back(torch::nn::functional::linear(c.x, c.w.narrow(0, i * part_n, part_n)));
  c.ref = parts == 1 ? outs[0] : torch::cat(outs, -1);
  return c;
}

// Times the heuristic's candidates without a split-K reduction and keeps the fastest whose output on
// tc.x, tc.w equals tc.ref in every bit.
void tune(Plan& p, cublasLtHandle_t handle, const torch::Tensor& workspace, const TuningCase& tc,
          cudaStream_t stream, TunedGemmReport& report) {
  const auto &w = tc.w, &x = tc.x, &ref = tc.ref;
  const int64_t n = w.size(0), k = w.size(1), w_bytes = n * k * 2;
  const int64_t copies = std::clamp<int64_t>((kRotatedBytes + w_bytes - 1) / w_bytes, 1, 32);
  auto w_copies = copies == 1 ? w.unsqueeze(0) : w.unsqueeze(0).expand({copies, n, k}).contiguous();
  auto y = torch::empty_like(ref);

  cublasLtMatmulPreference_t pref = nullptr;
  check_lt(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t max_ws = kWorkspaceBytes;
  const uint32_t no_reduction = CUBLASLT_REDUCTION_SCHEME_NONE;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws,
                                       sizeof(max_ws));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &no_reduction,
                                       sizeof(no_reduction));
  cublasLtMatmulHeuristicResult_t found[kCandidates];
  int count = 0;
  const auto status =
      cublasLtMatmulAlgoGetHeuristic(handle, p.op, p.w, p.x, p.y, p.y, pref, kCandidates, found, &count);
  cublasLtMatmulPreferenceDestroy(pref);
  if (status != CUBLAS_STATUS_SUCCESS) count = 0;

  report.candidates = count;
  for (int c = 0; c < count; ++c) {
    const auto& algo = found[c].algo;
    if (found[c].state != CUBLAS_STATUS_SUCCESS || found[c].workspaceSize > kWorkspaceBytes) continue;
    if (matmul(handle, p, algo, w.data_ptr(), x.data_ptr(), y.data_ptr(), workspace, stream) !=
        CUBLAS_STATUS_SUCCESS)
      continue;
    const bool same = torch::equal(y, ref);  // synchronizes
    if (!same && c != 0) continue;           // only the first is timed either way: the report's baseline
    auto launch = [&](int64_t r) {
      matmul(handle, p, algo, w_copies[r % copies].data_ptr(), x.data_ptr(), y.data_ptr(), workspace, stream);
    };
    const double us = time_us(launch, kTimedRuns, stream);
    if (c == 0) report.first_us = us;
    if (!same) continue;
    ++report.matching;
    if (!p.tuned || us < report.best_us) p.tuned = true, p.algo = algo, report.best_us = us;
  }
}

bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus s = cudaStreamCaptureStatusNone;
  return cudaStreamIsCapturing(stream, &s) == cudaSuccess && s != cudaStreamCaptureStatusNone;
}

// The cuBLASLt handle of `device` (created at its first use); s.mutex held.
cublasLtHandle_t handle_for(State& s, int device) {
  auto it = s.handles.find(device);
  if (it == s.handles.end()) {
    cublasLtHandle_t h = nullptr;
    check_lt(cublasLtCreate(&h), "cublasLtCreate");
    it = s.handles.emplace(device, h).first;
  }
  return it->second;
}

// y [..., n] = x w^T for w [n, k] (use_tuned_linear holds) through the algorithm tuned for (rows, n, k,
// parts), tuned at the shape's first call. Undefined where no candidate gave the reference's bits, or where
// the shape is first seen during a capture (tuning synchronizes, and nothing may be allocated there).
torch::Tensor run_tuned(const torch::Tensor& x, const torch::Tensor& w, int64_t parts) {
  const int64_t n = w.size(0), k = w.size(1);
  auto x2 = x.reshape({-1, k}).contiguous();
  const int64_t rows = x2.size(0);
  const c10::cuda::CUDAGuard guard(x.device());
  const int device = x.device().index();
  const auto stream = c10::cuda::getCurrentCUDAStream(device).stream();
  auto& s = state();
  std::unique_lock<std::mutex> lock(s.mutex);
  const auto key = std::make_tuple(device, compat::gemm_settings_key(), rows, n, k, parts);
  auto plan_it = s.plans.find(key);
  auto ws_it = s.workspaces.find({device, stream});
  if (capturing(stream) && (plan_it == s.plans.end() || ws_it == s.workspaces.end())) return {};
  if (ws_it == s.workspaces.end())
    ws_it = s.workspaces
                .emplace(std::make_pair(device, stream), torch::empty({static_cast<int64_t>(kWorkspaceBytes)},
                                                                      x.options().dtype(torch::kUInt8)))
                .first;
  const cublasLtHandle_t handle = handle_for(s, device);
  if (plan_it == s.plans.end()) {
    auto plan = std::make_unique<Plan>(rows, n, k);
    TunedGemmReport report{rows, n, k};
    report.parts = parts;
    tune(*plan, handle, ws_it->second, tuning_case(rows, n, k, parts, x.options()), stream, report);
    s.reports.push_back(report);
    plan_it = s.plans.emplace(key, std::move(plan)).first;
  }
  const Plan& plan = *plan_it->second;
  if (!plan.tuned) return {};
  auto y = torch::empty({rows, n}, x.options());
  check_lt(matmul(handle, plan, plan.algo, w.data_ptr(), x2.data_ptr(), y.data_ptr(), ws_it->second, stream),
           "cublasLtMatmul");
  auto shape = x.sizes().vec();
  shape.back() = n;
  return y.view(shape);
}
#endif

}  // namespace

torch::Tensor tuned_linear_reference(const torch::Tensor& x, const torch::Tensor& w) {
  return torch::nn::functional::linear(x, w);
}

bool use_tuned_linear(const torch::Tensor& x, const torch::Tensor& w) {
  // cuBLASLt's heuristic assumes 256-byte aligned operands unless told otherwise: others take the twin.
  auto aligned = [](const torch::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 256 == 0; };
  const bool needs_grad = torch::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad());
  return enabled("tuned_gemm") && !needs_grad && x.is_cuda() && x.scalar_type() == torch::kBFloat16 &&
         w.scalar_type() == torch::kBFloat16 && x.device() == w.device() && w.dim() == 2 && x.dim() >= 1 &&
         x.size(-1) == w.size(1) && w.is_contiguous() && w.size(0) % 8 == 0 && w.size(1) % 8 == 0 &&
         x.numel() > 0 && aligned(x) && aligned(w);
}

torch::Tensor tuned_linear(const torch::Tensor& x, const torch::Tensor& w) {
  ZRL_CHECK(
      use_tuned_linear(x, w),
      "kernels::tuned_linear: x {} and w {} must be bf16 CUDA, 256-byte aligned, w [N, K] contiguous with "
      "N and K multiples of 8, no gradient wanted (use_tuned_linear)",
      c10::str(x.sizes()), c10::str(w.sizes()));
#ifdef ZERORL_CUDA_KERNELS
  auto y = run_tuned(x, w, 1);
  return y.defined() ? y : tuned_linear_reference(x, w);
#else
  return tuned_linear_reference(x, w);
#endif
}

torch::Tensor tuned_linear_stacked(const torch::Tensor& x, const torch::Tensor& w, int64_t parts) {
  ZRL_CHECK(
      use_tuned_linear(x, w) && parts >= 1 && w.size(0) % parts == 0,
      "kernels::tuned_linear_stacked: x {} and w {} must pass use_tuned_linear, and w's rows split into "
      "{} parts",
      c10::str(x.sizes()), c10::str(w.sizes()), parts);
#ifdef ZERORL_CUDA_KERNELS
  return run_tuned(x, w, parts);
#else
  return {};
#endif
}

std::vector<TunedGemmReport> tuned_gemm_reports() {
#ifdef ZERORL_CUDA_KERNELS
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.reports;
#else
  return {};
#endif
}

}  // namespace zerorl::kernels
