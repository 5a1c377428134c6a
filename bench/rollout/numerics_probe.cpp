// bench/rollout/numerics_probe.cpp: does one op give a row the same bits when the row shares a call with
// more rows (the trainer's teacher-forced forward, M = 768) as with fewer (the decode step, M = 64/256)?
// Prints, per op of a Qwen2.5-0.5B layer, the fraction of output elements that differ and their mean
// relative difference. Diagnoses the bf16 log-prob gap between the rollout engine and the trainer.
#include <torch/torch.h>

#include <iostream>

#include "compat/torch_compat.h"
#include "core/json_io.h"
#include "model/decoder.h"

namespace zr = zerorl;

namespace {

zr::Json compare(const torch::Tensor& a, const torch::Tensor& b) {
  auto x = a.to(torch::kDouble), y = b.to(torch::kDouble);
  auto differ = x.ne(y);
  auto rel = (x - y).abs() / x.abs().clamp_min(1e-30);
  return {{"frac_differ", differ.to(torch::kDouble).mean().item<double>()},
          {"mean_rel_diff", rel.mean().item<double>()}};
}

// op(x)'s last m rows vs op(x's last m rows).
template <class Op>
zr::Json rows_probe(Op op, const torch::Tensor& x, int64_t m) {
  torch::NoGradGuard g;
  auto full = op(x).narrow(0, x.size(0) - m, m);
  auto part = op(x.narrow(0, x.size(0) - m, m).contiguous());
  return compare(full, part);
}

// Full causal attention over T positions vs the decode form for the last m positions: one query row per
// sequence, query heads of a KV group stacked, keys [0, L) with an additive mask.
zr::Json attention_probe(int64_t T, int64_t m, int64_t Hq, int64_t Hkv, int64_t D, const torch::Device& dev) {
  torch::NoGradGuard g;
  auto opt = torch::TensorOptions().dtype(torch::kBFloat16).device(dev);
  auto q = torch::randn({1, Hq, T, D}, opt), k = torch::randn({1, Hkv, T, D}, opt);
  auto v = torch::randn({1, Hkv, T, D}, opt);
  const int64_t gq = Hq / Hkv;
  auto ke = k.unsqueeze(2).expand({1, Hkv, gq, T, D}).reshape({1, Hq, T, D});
  auto ve = v.unsqueeze(2).expand({1, Hkv, gq, T, D}).reshape({1, Hq, T, D});
  auto causal = torch::ones({T, T}, opt.dtype(torch::kBool)).tril().view({1, 1, T, T});
  auto full = zr::compat::sdpa(q, ke, ve, causal).narrow(2, T - m, m);  // [1, Hq, m, D]
  // Decode: row r is position p = T - m + r; it sees keys j <= p of a cache padded to L = T.
  auto qd = q.narrow(2, T - m, m).permute({2, 1, 0, 3}).reshape({m, Hkv, gq, D});
  auto kd = k.expand({m, Hkv, T, D}), vd = v.expand({m, Hkv, T, D});
  auto pos = torch::arange(T - m, T, opt.dtype(torch::kLong)).view({m, 1, 1, 1});
  auto keep = torch::arange(T, opt.dtype(torch::kLong)).view({1, 1, 1, T}).le(pos);
  auto mask = torch::zeros({m, 1, 1, T}, opt).masked_fill_(keep.logical_not(), -INFINITY);
  auto dec = zr::compat::sdpa(qd, kd, vd, mask).reshape({m, Hq, D}).permute({1, 0, 2}).unsqueeze(0);
  return compare(full, dec);
}

}  // namespace

// Usage: numerics_probe [auto|math|efficient|cudnn|flash] [batch-invariant-gemm]
int main(int argc, char** argv) {
  const std::string backend = argc > 1 ? argv[1] : "auto";
  zr::compat::select_sdpa_backend(backend);
  const bool invariant = argc > 2 && std::string(argv[2]) == "batch-invariant-gemm";
  if (invariant && !zr::compat::set_batch_invariant_gemm(true)) return 2;
  const torch::Device dev(torch::cuda::is_available() ? "cuda" : "cpu");
  torch::manual_seed(0);
  const auto c = zr::model::qwen25_05b_config();
  zr::model::CausalLM lm(c, torch::kBFloat16, dev);
  zr::model::init_random_(lm, 1);
  auto* layer = lm->model->layers[0]->as<zr::model::DecoderLayerImpl>();
  auto* attn = layer->self_attn.get();
  auto opt = torch::TensorOptions().dtype(torch::kBFloat16).device(dev);
  const int64_t T = 768;
  auto x = torch::randn({T, c.hidden_size}, opt);
  auto xi = torch::randn({T, c.intermediate_size}, opt) * 0.3;
  auto resid = torch::randn({T, c.hidden_size}, opt.dtype(torch::kFloat32));
  zr::Json out;
  out["sdpa"] = backend, out["batch_invariant_gemm"] = invariant;
  for (int64_t m : {1, 64, 256}) {
    zr::Json j;
    j["q_proj_bias"] = rows_probe([&](const torch::Tensor& t) { return attn->q_proj(t); }, x, m);
    j["o_proj"] = rows_probe([&](const torch::Tensor& t) { return attn->o_proj(t); }, x, m);
    j["gate_proj"] = rows_probe([&](const torch::Tensor& t) { return layer->mlp->gate_proj(t); }, x, m);
    j["down_proj"] = rows_probe([&](const torch::Tensor& t) { return layer->mlp->down_proj(t); }, xi, m);
    j["rms_norm_fp32_in"] =
        rows_probe([&](const torch::Tensor& t) { return layer->input_layernorm(t); }, resid, m);
    j["lm_head_fp32_out"] = rows_probe([&](const torch::Tensor& t) { return lm->logits(t); }, x, m);
    if (zr::compat::kHasSdpa)
      j["attention"] = attention_probe(T, m, c.num_attention_heads, c.num_key_value_heads, c.head_dim, dev);
    out["rows_" + std::to_string(m) + "_of_" + std::to_string(T)] = j;
  }
  std::cout << out.dump(1) << std::endl;
  return 0;
}
