// kernels/attention.cpp: the LibTorch side of kernels/attention.h: the twin, and the checks, launch and
// autograd node around the CUDA kernel.
#include "kernels/attention.h"

#include <atomic>
#include <cmath>
#include <limits>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "core/log.h"

#ifdef ZERORL_CUDA_KERNELS
#include "kernels/attention_launch.h"
#include "kernels/cuda_glue.h"
#endif

namespace zerorl::kernels {
namespace {

// A [B] int64 position tensor on q's device, or undefined.
void check_positions(const torch::Tensor& t, const torch::Tensor& q, const char* name) {
  if (!t.defined()) return;
  ZRL_CHECK(
      t.dim() == 1 && t.size(0) == q.size(0) && t.scalar_type() == torch::kInt64 && t.device() == q.device(),
      "kernels::causal_attention: {} {} ({}) must be [{}] int64 on q's device", name, c10::str(t.sizes()),
      c10::toString(t.scalar_type()), q.size(0));
}

#ifdef ZERORL_CUDA_KERNELS
// out [B, T, Hq, D], contiguous; lse [B, Hq, T] float32 filled when defined.
torch::Tensor run_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const torch::Tensor& q_start, const torch::Tensor& key_end,
                            const torch::Tensor& lse = torch::Tensor()) {
  ZRL_CHECK(use_attention_kernel(q, k, v),
            "kernels::causal_attention: q {}, k {}, v {} must be bf16 CUDA [B,H,T,16|32|64|128], Hq a "
            "multiple of Hkv, the last dimension contiguous and K/V rows 16-byte aligned",
            c10::str(q.sizes()), c10::str(k.sizes()), c10::str(v.sizes()));
  check_positions(q_start, q, "q_start");
  check_positions(key_end, q, "key_end");
  const int64_t B = q.size(0), Hq = q.size(1), T = q.size(2), D = q.size(3), L = k.size(2);
  ZRL_CHECK(q_start.defined() || T <= L, "kernels::causal_attention: {} queries over {} keys", T, L);
  auto out = torch::empty({B, T, Hq, D}, q.options());
  AttentionArgs a{};
  a.q = q.data_ptr(), a.q_sb = q.stride(0), a.q_st = q.stride(2), a.q_sh = q.stride(1);
  a.k = k.data_ptr(), a.v = v.data_ptr();
  a.kv_sb = k.stride(0), a.kv_sh = k.stride(1), a.kv_st = k.stride(2);
  a.q_start = q_start.defined() ? q_start.data_ptr<int64_t>() : nullptr;
  a.key_end = key_end.defined() ? key_end.data_ptr<int64_t>() : nullptr;
  a.out = out.data_ptr();
  a.lse = lse.defined() ? lse.data_ptr<float>() : nullptr;
  a.B = static_cast<int>(B), a.T = static_cast<int>(T), a.heads = static_cast<int>(Hq);
  a.kv_heads = static_cast<int>(k.size(1)), a.D = static_cast<int>(D);
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  check_launch(launch_causal_attention_bf16(a, stream_of(q)), "causal_attention");
  return out;
}

// Gradients {dq, dk, dv} through torch's causal SDPA recomputed under autograd (flash or cuDNN).
variable_list recomputed_gradients(const torch::Tensor& q0, const torch::Tensor& k0, const torch::Tensor& v0,
                                   const torch::Tensor& dout) {
  torch::AutoGradMode grad_on(true);
  auto q = q0.detach().requires_grad_(), k = k0.detach().requires_grad_(), v = v0.detach().requires_grad_();
  auto out = compat::sdpa_causal(q, k, v);  // [B, Hq, T, D]
  return torch::autograd::grad({out}, {q, k, v}, {dout});
}

// Whether backward may take cuDNN's attention backward on the kernel's output and log-sum-exp: until it
// first fails (shapes or a build cuDNN cannot run), then the recompute for the rest of the process.
std::atomic<bool> g_lse_backward_failed{false};

// Forward through the kernel. Backward through cuDNN's attention backward fed the kernel's output and
// log-sum-exp (no second forward; "attention_backward"), else torch's causal SDPA recomputed under
// autograd. Right-padded rows (key_end) differ from plain causal attention only at padding queries, whose
// gradient is zero: no loss reads them and no real query sees their keys (their lse is +inf: P = 0).
class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  // key_end: [B], or empty for none (LibTorch's apply() takes no undefined tensor).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& key_end, bool with_lse) {
    auto lse = with_lse ? torch::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(torch::kFloat32))
                        : torch::Tensor();
    auto out = run_attention(q, k, v, {}, key_end.numel() > 0 ? key_end : torch::Tensor(), lse);
    ctx->save_for_backward({q, k, v, out, with_lse ? lse : torch::empty({0}, q.options())});
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const auto &q = s[0], &k = s[1], &v = s[2], &out = s[3], &lse = s[4];
    auto dout = grads[0].contiguous().transpose(1, 2);  // [B, Hq, T, D], out's strides
    if (lse.numel() > 0 && !g_lse_backward_failed.load()) {
      try {
        auto g = compat::sdpa_causal_backward_cudnn(dout, q, k, v, out.transpose(1, 2), lse,
                                                    1.0 / std::sqrt(static_cast<double>(q.size(3))));
        return {g[0], g[1], g[2], torch::Tensor(), torch::Tensor()};
      } catch (const c10::Error& e) {
        if (!g_lse_backward_failed.exchange(true))
          ZRL_WARN("causal_attention backward: cuDNN's backward failed, recomputing the forward: {}",
                   e.what_without_backtrace());
      }
    }
    auto g = recomputed_gradients(q, k, v, dout);
    return {g[0], g[1], g[2], torch::Tensor(), torch::Tensor()};
  }
};
#endif

bool rows_aligned(const torch::Tensor& t) {
  for (int64_t d = 0; d + 1 < t.dim(); ++d) {
    if (t.stride(d) % 8 != 0) return false;
  }
  return t.stride(-1) == 1 && reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0;
}

}  // namespace

torch::Tensor causal_attention_reference(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v, const torch::Tensor& q_start,
                                         const torch::Tensor& key_end) {
  ZRL_CHECK(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes() && q.size(0) == k.size(0) &&
                q.size(3) == k.size(3) && k.size(1) > 0 && q.size(1) % k.size(1) == 0,
            "kernels::causal_attention_reference: q {} and k/v {} / {} are not [B,Hq,T,D] and [B,Hkv,L,D]",
            c10::str(q.sizes()), c10::str(k.sizes()), c10::str(v.sizes()));
  check_positions(q_start, q, "q_start");
  check_positions(key_end, q, "key_end");
  const int64_t B = q.size(0), T = q.size(2), D = q.size(3), L = k.size(2), g = q.size(1) / k.size(1);
  auto ints = torch::TensorOptions().dtype(torch::kInt64).device(q.device());
  auto start = q_start.defined() ? q_start.view({B, 1, 1}) : torch::zeros({B, 1, 1}, ints);
  auto p = start + torch::arange(T, ints).view({1, T, 1});  // [B, T, 1]
  auto j = torch::arange(L, ints).view({1, 1, L});
  auto see = j.le(p);
  if (key_end.defined()) see = see.logical_and(j.lt(key_end.view({B, 1, 1})));
  see = see.logical_or(j.eq(p));  // [B, T, L]
  auto kr = k.to(torch::kFloat32).repeat_interleave(g, 1), vr = v.to(torch::kFloat32).repeat_interleave(g, 1);
  auto scores =
      torch::matmul(q.to(torch::kFloat32), kr.transpose(-1, -2)) / std::sqrt(static_cast<double>(D));
  scores = scores.masked_fill(see.logical_not().unsqueeze(1), -std::numeric_limits<float>::infinity());
  return torch::matmul(torch::softmax(scores, -1), vr).to(q.scalar_type());
}

bool use_attention_kernel(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  if (!enabled("attention") || !q.is_cuda() || q.dim() != 4 || k.dim() != 4 || v.sizes() != k.sizes())
    return false;
  const int64_t D = q.size(3);
  return q.scalar_type() == torch::kBFloat16 && k.scalar_type() == torch::kBFloat16 &&
         v.scalar_type() == torch::kBFloat16 && k.device() == q.device() && v.device() == q.device() &&
         (D == 16 || D == 32 || D == 64 || D == 128) && k.size(3) == D && k.size(0) == q.size(0) &&
         q.size(0) <= 65535 && k.size(1) > 0 && k.size(1) <= 65535 && q.size(1) % k.size(1) == 0 &&
         k.strides() == v.strides() && q.stride(3) == 1 && q.stride(0) % 2 == 0 && q.stride(1) % 2 == 0 &&
         q.stride(2) % 2 == 0 && reinterpret_cast<uintptr_t>(q.data_ptr()) % 4 == 0 && rows_aligned(k) &&
         rows_aligned(v);
}

bool attention_backward_fell_back() {
#ifdef ZERORL_CUDA_KERNELS
  return g_lse_backward_failed.load();
#else
  return false;
#endif
}

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& q_start, const torch::Tensor& key_end) {
#ifdef ZERORL_CUDA_KERNELS
  if (q_start.defined()) {  // a cached call (prefill, decode): inference only
    ZRL_CHECK(!q.requires_grad() && !k.requires_grad() && !v.requires_grad(),
              "kernels::causal_attention: q_start is for cached inference; gradients need q_start undefined");
    return run_attention(q, k, v, q_start, key_end).transpose(1, 2);
  }
  const auto end = key_end.defined() ? key_end : torch::empty({0}, q.options().dtype(torch::kInt64));
  const bool grad =
      torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  const bool with_lse = grad && compat::kHasCudnnSdpaBackward && enabled("attention_backward");
  return CausalAttentionFunction::apply(q, k, v, end, with_lse).transpose(1, 2);
#else
  (void)q_start, (void)key_end;
  ZRL_FAIL("kernels::causal_attention: this build has no CUDA kernels (q {}, k {})", c10::str(q.sizes()),
           c10::str(k.sizes()));
#endif
}

}  // namespace zerorl::kernels
