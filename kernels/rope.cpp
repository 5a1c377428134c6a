// kernels/rope.cpp: the LibTorch side of kernels/rope.h: the twin and the autograd node around the CUDA
// kernel.
#include "kernels/rope.h"

#include "core/error.h"

#ifdef ZERORL_CUDA_KERNELS
#include "kernels/cuda_glue.h"
#include "kernels/rope_launch.h"
#endif

namespace zerorl::kernels {
namespace {

#ifdef ZERORL_CUDA_KERNELS
// x (or dy) [B, H, T, D] through the kernel into a [B, H, T, D] tensor laid out as [B, T, H, D] in memory.
torch::Tensor run_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                       bool backward) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  auto xc = x.stride(3) == 1 ? x : x.contiguous();
  auto c = cos.expand({B, 1, T, D}), s = sin.expand({B, 1, T, D});
  ZRL_CHECK(c.strides() == s.strides() && c.stride(3) == 1, "rope kernel: cos and sin must share one layout");
  auto out = torch::empty_strided({B, H, T, D}, {T * H * D, D, H * D, 1}, x.options());
  const char* err =
      launch_rope_bf16(xc.data_ptr(), {xc.stride(0), xc.stride(1), xc.stride(2)}, c.data_ptr(), s.data_ptr(),
                       {c.stride(0), 0, c.stride(2)}, out.data_ptr(), B, H, T, D, backward, stream_of(x));
  check_launch(err, "rope");
  return out;
}

class RopeFunction : public torch::autograd::Function<RopeFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return run_rope(x, cos, sin, /*backward=*/false);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    ZRL_CHECK(grads[0].scalar_type() == torch::kBFloat16, "rope backward: the gradient must be bf16");
    return {run_rope(grads[0], s[0], s[1], /*backward=*/true), torch::Tensor(), torch::Tensor()};
  }
};
#endif

bool table_ok(const torch::Tensor& t, const torch::Tensor& x) {
  return t.scalar_type() == torch::kBFloat16 && t.device() == x.device() && t.dim() == 4 &&
         !t.requires_grad() && (t.size(0) == x.size(0) || t.size(0) == 1) && t.size(1) == 1 &&
         t.size(2) == x.size(2) && t.size(3) == x.size(3) && t.stride(3) == 1;
}

}  // namespace

torch::Tensor rope_reference(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

bool use_rope_kernel(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return enabled("rope") && x.is_cuda() && x.scalar_type() == torch::kBFloat16 && x.dim() == 4 &&
         x.size(3) % 2 == 0 && x.numel() > 0 && table_ok(cos, x) && table_ok(sin, x) &&
         cos.strides() == sin.strides();
}

torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
#ifdef ZERORL_CUDA_KERNELS
  ZRL_CHECK(use_rope_kernel(x, cos, sin), "kernels::rope: x {}, cos {}, sin {} are not what the kernel takes",
            c10::str(x.sizes()), c10::str(cos.sizes()), c10::str(sin.sizes()));
  return RopeFunction::apply(x, cos, sin);
#else
  ZRL_FAIL("kernels::rope: this build has no CUDA kernels (x {}, cos {}, sin {})", c10::str(x.sizes()),
           c10::str(cos.sizes()), c10::str(sin.sizes()));
#endif
}

torch::Tensor rope_decode_reference(const RopeDecodeInputs& in, torch::Tensor& k_cache,
                                    torch::Tensor& v_cache) {
  using torch::indexing::Slice;
  const int64_t R = in.q.size(0), D = in.q.size(3);
  const auto biased = [&](const torch::Tensor& x, const torch::Tensor& b) {
    return b.defined() ? x + b.view({x.size(2), D}) : x;
  };
  auto c = in.cos.index_select(0, in.positions).view({R, 1, 1, D});
  auto s = in.sin.index_select(0, in.positions).view({R, 1, 1, D});
  auto slots = torch::arange(R, in.positions.options());
  // Advanced indices around a slice: the indexed view is [R, Hkv, D].
  k_cache.index_put_({slots, Slice(), in.positions},
                     rope_reference(biased(in.k, in.k_bias).transpose(1, 2), c, s).squeeze(2));
  v_cache.index_put_({slots, Slice(), in.positions}, biased(in.v, in.v_bias).squeeze(1));
  return rope_reference(biased(in.q, in.q_bias).transpose(1, 2), c, s).transpose(1, 2);
}

bool use_rope_decode_kernel(const RopeDecodeInputs& in, const torch::Tensor& k_cache,
                            const torch::Tensor& v_cache) {
  const auto& q = in.q;
  if (!enabled("rope") || !q.is_cuda() || q.dim() != 4 || in.k.dim() != 4 || in.v.dim() != 4) return false;
  const int64_t R = q.size(0), Hq = q.size(2), Hkv = in.k.size(2), D = q.size(3);
  const auto here = [&](const torch::Tensor& t) {
    return t.scalar_type() == torch::kBFloat16 && t.device() == q.device() && !t.requires_grad();
  };
  const auto rows_ok = [&](const torch::Tensor& t, int64_t heads) {
    return here(t) && t.size(0) == R && t.size(1) == 1 && t.size(2) == heads && t.size(3) == D &&
           t.stride(3) == 1;
  };
  const auto bias_ok = [&](const torch::Tensor& b, int64_t heads) {
    return !b.defined() || (here(b) && b.dim() == 1 && b.numel() == heads * D && b.is_contiguous());
  };
  const auto cache_ok = [&](const torch::Tensor& t) {
    return here(t) && t.dim() == 4 && t.size(0) >= R && t.size(1) == Hkv && t.size(3) == D &&
           t.is_contiguous() && t.sizes() == k_cache.sizes();
  };
  const auto table_ok = [&](const torch::Tensor& t) {
    return here(t) && t.dim() == 2 && t.size(0) == k_cache.size(2) && t.size(1) == D && t.is_contiguous();
  };
  const auto& p = in.positions;
  return D % 2 == 0 && Hkv > 0 && Hq % Hkv == 0 && rows_ok(q, Hq) && rows_ok(in.k, Hkv) &&
         rows_ok(in.v, Hkv) && bias_ok(in.q_bias, Hq) && bias_ok(in.k_bias, Hkv) && bias_ok(in.v_bias, Hkv) &&
         cache_ok(k_cache) && cache_ok(v_cache) && table_ok(in.cos) && table_ok(in.sin) &&
         p.scalar_type() == torch::kLong && p.device() == q.device() && p.dim() == 1 && p.size(0) == R &&
         p.is_contiguous();
}

torch::Tensor rope_decode(const RopeDecodeInputs& in, torch::Tensor& k_cache, torch::Tensor& v_cache) {
#ifdef ZERORL_CUDA_KERNELS
  const auto &q = in.q, &k = in.k, &v = in.v;
  ZRL_CHECK(use_rope_decode_kernel(in, k_cache, v_cache),
            "kernels::rope_decode: q {}, k {}, v {}, caches {} are not what the kernel takes",
            c10::str(q.sizes()), c10::str(k.sizes()), c10::str(v.sizes()), c10::str(k_cache.sizes()));
  const auto ptr = [](const torch::Tensor& b) -> const void* { return b.defined() ? b.data_ptr() : nullptr; };
  auto out = torch::empty(q.sizes(), q.options());
  RopeDecodeArgs a{};
  a.q = q.data_ptr(), a.k = k.data_ptr(), a.v = v.data_ptr();
  a.q_row = q.stride(0), a.q_head = q.stride(2), a.k_row = k.stride(0), a.k_head = k.stride(2);
  a.v_row = v.stride(0), a.v_head = v.stride(2);
  a.q_bias = ptr(in.q_bias), a.k_bias = ptr(in.k_bias), a.v_bias = ptr(in.v_bias);
  a.cos = in.cos.data_ptr(), a.sin = in.sin.data_ptr(), a.positions = in.positions.data_ptr<int64_t>();
  a.q_out = out.data_ptr(), a.k_cache = k_cache.data_ptr(), a.v_cache = v_cache.data_ptr();
  a.q_heads = q.size(2), a.kv_heads = k.size(2), a.capacity = k_cache.size(2);
  check_launch(launch_rope_decode_bf16(a, q.size(0), q.size(3), stream_of(q)), "rope decode");
  return out;
#else
  (void)k_cache, (void)v_cache;
  ZRL_FAIL("kernels::rope_decode: this build has no CUDA kernels (q {})", c10::str(in.q.sizes()));
#endif
}

}  // namespace zerorl::kernels
