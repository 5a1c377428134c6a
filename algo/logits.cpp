// algo/logits.cpp: chunked float32 log-probs and entropies from logits, and the fused lm_head variant that
// recomputes logits in backward (contracts in logits.h). On CUDA both walk the logits through
// kernels/token_logprobs (one read forward, one read and one write backward); elsewhere through LibTorch's
// float32 log_softmax. Not here: sampling, losses.
#include "algo/logits.h"

#include <utility>
#include <vector>

#include "compat/torch_compat.h"
#include "core/error.h"
#include "kernels/gemm_accumulate.h"
#include "kernels/switch.h"
#include "kernels/token_logprobs.h"

namespace zerorl::algo {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Logits chunk rows [begin, end) of the flattened [N, V] view, float32, divided by the temperature.
torch::Tensor scaled_chunk(const torch::Tensor& flat, int64_t begin, int64_t end, double temperature) {
  auto chunk = flat.slice(0, begin, end).to(torch::kFloat32);
  return temperature == 1.0 ? chunk : chunk / temperature;
}

// Chunk rows [begin, end) of hidden [N, H] @ weight^T, as float32 / tau.
torch::Tensor chunk_logits(const torch::Tensor& hidden, const torch::Tensor& weight, int64_t begin,
                           int64_t end, double temperature) {
  return scaled_chunk(torch::matmul(hidden.slice(0, begin, end), weight.t()), 0, end - begin, temperature);
}

// H = lse - sum_v p_v z_v for one chunk of scaled logits z; -inf logits (masked tokens) contribute 0
// instead of 0 * -inf = NaN. (Differentiable: entropy_from_logits.)
torch::Tensor chunk_entropy(const torch::Tensor& z, const torch::Tensor& lse) {
  auto pz = torch::softmax(z, 1) * z;
  return lse - torch::where(torch::isneginf(z), torch::zeros({}, pz.options()), pz).sum(1);
}

struct ChunkLogprobs {
  torch::Tensor logp, entropy;  // [n] float32; entropy undefined unless asked for
};

// One chunk of scaled logits z [n, V] float32 and ids [n, 1]: log pi(token) = log_softmax(z)[token] (the
// kernel the engine's sampler takes its log-probs from, rollout/sampling.cpp, so equal logits give equal
// bits), and when asked the entropy -sum_v p_v log p_v with p = exp(log_softmax(z)), where a masked entry's
// 0 * -inf is summed as 0 (nansum). Three passes over z for both, against eight for logsumexp + softmax.
ChunkLogprobs chunk_logprobs(const torch::Tensor& z, const torch::Tensor& ids, bool with_entropy) {
  auto ls = z.log_softmax(1);
  ChunkLogprobs out{ls.gather(1, ids).squeeze(1), torch::Tensor()};
  if (with_entropy) out.entropy = ls.exp().mul_(ls).nansum(1).neg_();
  return out;
}

// g * d log pi(token) / dz for one chunk: g (onehot(token) - softmax(z)), softmax recomputed from z;
// g [n, 1] float32. Not divided by the temperature (the caller does, for z = logits / tau).
torch::Tensor chunk_logprob_grad(const torch::Tensor& z, const torch::Tensor& ids, const torch::Tensor& g) {
  auto dz = torch::softmax(z, 1).mul_(-g);
  dz.scatter_add_(1, ids, g);
  return dz;
}

void check_common(const torch::Tensor& logits, double temperature, int64_t chunk_rows, const char* what) {
  ZRL_CHECK(logits.dim() >= 1 && logits.size(-1) > 0, "{}: logits must be [..., V], got {}", what,
            c10::str(logits.sizes()));
  ZRL_CHECK(logits.is_floating_point(), "{}: logits must be floating point, got {}", what,
            c10::toString(logits.scalar_type()));
  ZRL_CHECK(temperature > 0, "{}: temperature must be > 0, got {}", what, temperature);
  ZRL_CHECK(chunk_rows > 0, "{}: chunk_rows must be > 0, got {}", what, chunk_rows);
}

void check_token_range(const torch::Tensor& ids, int64_t vocab) {
  if (ids.numel() > 0 && ((ids < 0) | (ids >= vocab)).any().item<bool>()) {  // one host sync
    ZRL_FAIL("token ids must be in [0, {}), got range [{}, {}]", vocab, ids.min().item<int64_t>(),
             ids.max().item<int64_t>());
  }
}

// The checks the two hidden-state entries share (hidden [..., H] and weight [V, H] of one floating dtype,
// temperature > 0, tokens [...] in [0, V)), and what both then need: the ids [N, 1] and the leading shape.
struct LinearArgs {
  torch::Tensor ids;
  std::vector<int64_t> lead;
};
LinearArgs check_linear_args(const torch::Tensor& hidden, const torch::Tensor& weight,
                             const torch::Tensor& tokens, double temperature, const char* what) {
  ZRL_CHECK(weight.dim() == 2 && hidden.dim() >= 1 && hidden.size(-1) == weight.size(1),
            "{}: hidden [..., H] {} and weight [V, H] {} disagree", what, c10::str(hidden.sizes()),
            c10::str(weight.sizes()));
  ZRL_CHECK(hidden.is_floating_point() && hidden.scalar_type() == weight.scalar_type(),
            "{}: hidden ({}) and weight ({}) must share one floating dtype", what,
            c10::toString(hidden.scalar_type()), c10::toString(weight.scalar_type()));
  ZRL_CHECK(temperature > 0, "{}: temperature must be > 0, got {}", what, temperature);
  auto lead = hidden.sizes().slice(0, hidden.dim() - 1);
  ZRL_CHECK(tokens.sizes() == lead, "{}: tokens {} must match hidden {} without the H dim", what,
            c10::str(tokens.sizes()), c10::str(hidden.sizes()));
  auto ids = tokens.reshape({-1, 1}).to(torch::kInt64);
  check_token_range(ids, weight.size(0));
  return {ids, lead.vec()};
}

// What both autograd nodes below keep beside their tensors: the temperature and the chunking.
void save_chunking(AutogradContext* ctx, double temperature, int64_t chunk_rows) {
  ctx->saved_data["temperature"] = temperature;
  ctx->saved_data["chunk_rows"] = chunk_rows;
}
std::pair<double, int64_t> saved_chunking(AutogradContext* ctx) {
  return {ctx->saved_data["temperature"].toDouble(), ctx->saved_data["chunk_rows"].toInt()};
}

// Autograd node of linear_token_logprobs: inputs hidden [N, H], weight [V, H], ids [N, 1];
// outputs logp [N] and entropy [N] (non-differentiable). Saves only hidden, weight and ids.
class LinearLogprobsFunction : public torch::autograd::Function<LinearLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& ids, double temperature, int64_t chunk_rows) {
    const int64_t n = hidden.size(0);
    auto options = hidden.options().dtype(torch::kFloat32);
    auto logp = torch::empty({n}, options), entropy = torch::empty({n}, options);
    const bool kernel = kernels::use_token_logprobs_kernel(hidden);  // [N, H]: the logits share its dtype
    auto lse = kernel ? torch::empty({n}, options) : torch::Tensor();
    for (int64_t begin = 0; begin < n; begin += chunk_rows) {
      const int64_t end = std::min(begin + chunk_rows, n);
      if (kernel) {  // the chunk's logits in the weight's dtype, read once by the kernel
        auto k = kernels::token_logprobs(torch::matmul(hidden.slice(0, begin, end), weight.t()),
                                         ids.slice(0, begin, end).reshape({-1}), temperature);
        logp.slice(0, begin, end).copy_(k.logp);
        entropy.slice(0, begin, end).copy_(k.entropy);
        lse.slice(0, begin, end).copy_(k.lse);
        continue;
      }
      const auto c = chunk_logprobs(chunk_logits(hidden, weight, begin, end, temperature),
                                    ids.slice(0, begin, end), /*with_entropy=*/true);
      logp.slice(0, begin, end).copy_(c.logp);
      entropy.slice(0, begin, end).copy_(c.entropy);
    }
    ctx->save_for_backward({hidden, weight, ids, lse});
    save_chunking(ctx, temperature, chunk_rows);
    ctx->mark_non_differentiable({entropy});
    return {logp, entropy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const auto &hidden = saved[0], &weight = saved[1], &ids = saved[2], &lse = saved[3];
    const auto [temperature, chunk_rows] = saved_chunking(ctx);
    if (!grad_outputs[0].defined())
      return {torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    auto grad = grad_outputs[0].to(torch::kFloat32);
    auto grad_hidden = torch::empty_like(hidden);
    auto grad_weight = torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat32));
    for (int64_t begin = 0; begin < hidden.size(0); begin += chunk_rows) {
      const int64_t end = std::min(begin + chunk_rows, hidden.size(0));
      auto g = grad.slice(0, begin, end).unsqueeze(1);
      torch::Tensor dz_in;
      if (lse.defined()) {  // the kernel: the gradient in the weight's dtype straight from the logits
        dz_in = kernels::token_logprobs_backward(
            torch::matmul(hidden.slice(0, begin, end), weight.t()), ids.slice(0, begin, end).reshape({-1}),
            lse.slice(0, begin, end), g.reshape({-1}), temperature, weight.scalar_type());
      } else {
        // d logp / d z = onehot(token) - softmax(z); times 1/tau for z = logits / tau.
        auto dz = chunk_logprob_grad(chunk_logits(hidden, weight, begin, end, temperature),
                                     ids.slice(0, begin, end), g);
        if (temperature != 1.0) dz.div_(temperature);
        dz_in = dz.to(weight.scalar_type());
      }
      grad_hidden.slice(0, begin, end).copy_(torch::matmul(dz_in, weight));
      const auto h = hidden.slice(0, begin, end);
      if (kernels::use_gemm_accumulate(grad_weight, dz_in, h)) {  // one GEMM adding into the float32 sum
        kernels::gemm_accumulate(grad_weight, dz_in, h);
      } else {
        grad_weight.add_(torch::matmul(dz_in.t(), h));  // float32 accumulator
      }
    }
    return {grad_hidden, grad_weight.to(weight.scalar_type()), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

// Autograd node of linear_float32_token_logprobs: inputs hidden [N, H] and weight [V, H] (bf16, CUDA), ids
// [N, 1]; outputs logp [N] and entropy [N] (non-differentiable). Keeps the float32 logits and their
// logsumexps, as TokenLogprobsFunction does behind model::linear_float32's node.
class Float32LinearLogprobsFunction : public torch::autograd::Function<Float32LinearLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& ids, double temperature) {
    auto logits = compat::mm_float32_out(hidden, weight.t());  // LinearFloat32Out's forward
    auto k = kernels::token_logprobs(logits, ids.reshape({-1}), temperature);
    ctx->save_for_backward({hidden, weight, ids, logits, k.lse});
    ctx->saved_data["temperature"] = temperature;
    ctx->mark_non_differentiable({k.entropy});
    return {k.logp, k.entropy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list none(4);
    if (!grad_outputs[0].defined()) return none;
    auto saved = ctx->get_saved_variables();
    const auto &hidden = saved[0], &weight = saved[1], &ids = saved[2], &logits = saved[3], &lse = saved[4];
    // The bits of the float32 gradient cast to bf16: the kernel rounds each float32 value once as it stores.
    auto dz =
        kernels::token_logprobs_backward(logits, ids.reshape({-1}), lse, grad_outputs[0].to(torch::kFloat32),
                                         ctx->saved_data["temperature"].toDouble(), weight.scalar_type());
    variable_list out = none;
    out[0] = dz.mm(weight), out[1] = dz.t().mm(hidden);  // LinearFloat32Out's backward
    return out;
  }
};

// Autograd node of token_logprobs over flat logits [N, V] (any float dtype) and ids [N, 1]: outputs logp [N]
// and entropy [N] (non-differentiable; [0] unless asked for). Walks chunk_rows rows at a time, in float32;
// saves only the logits and ids, and backward writes one [N, V] gradient chunk by chunk (a slice per chunk
// through autograd would build and sum a full-size zero gradient for every chunk).
class TokenLogprobsFunction : public torch::autograd::Function<TokenLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& flat, const torch::Tensor& ids,
                               double temperature, int64_t chunk_rows, bool with_entropy) {
    const int64_t n = flat.size(0);
    auto options = flat.options().dtype(torch::kFloat32);
    if (kernels::use_token_logprobs_kernel(flat)) {  // all rows in one read: no chunk temporaries
      auto k = kernels::token_logprobs(flat, ids.reshape({-1}), temperature);
      ctx->save_for_backward({flat, ids, k.lse});
      save_chunking(ctx, temperature, chunk_rows);
      auto entropy = with_entropy ? k.entropy : torch::empty({0}, options);
      ctx->mark_non_differentiable({entropy});
      return {k.logp, entropy};
    }
    auto logp = torch::empty({n}, options), entropy = torch::empty({with_entropy ? n : 0}, options);
    for (int64_t begin = 0; begin < n; begin += chunk_rows) {
      const int64_t end = std::min(begin + chunk_rows, n);
      const auto c =
          chunk_logprobs(scaled_chunk(flat, begin, end, temperature), ids.slice(0, begin, end), with_entropy);
      logp.slice(0, begin, end).copy_(c.logp);
      if (with_entropy) entropy.slice(0, begin, end).copy_(c.entropy);
    }
    ctx->save_for_backward({flat, ids, torch::Tensor()});
    save_chunking(ctx, temperature, chunk_rows);
    ctx->mark_non_differentiable({entropy});
    return {logp, entropy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const auto &flat = saved[0], &ids = saved[1], &lse = saved[2];
    const auto [temperature, chunk_rows] = saved_chunking(ctx);
    const variable_list none(5);
    if (!grad_outputs[0].defined()) return none;
    auto grad = grad_outputs[0].to(torch::kFloat32);
    variable_list out = none;
    if (lse.defined()) {  // the forward took the kernel
      out[0] = kernels::token_logprobs_backward(flat, ids.reshape({-1}), lse, grad, temperature,
                                                flat.scalar_type());
      return out;
    }
    auto grad_flat = torch::empty_like(flat);
    for (int64_t begin = 0; begin < flat.size(0); begin += chunk_rows) {
      const int64_t end = std::min(begin + chunk_rows, flat.size(0));
      auto dz = chunk_logprob_grad(scaled_chunk(flat, begin, end, temperature), ids.slice(0, begin, end),
                                   grad.slice(0, begin, end).unsqueeze(1));
      if (temperature != 1.0) dz.div_(temperature);
      grad_flat.slice(0, begin, end).copy_(dz);
    }
    out[0] = grad_flat;
    return out;
  }
};

// token_logprobs and, when with_entropy, the (detached) entropy: the checks, then the autograd node.
LinearLogprobs logits_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens, double temperature,
                               int64_t chunk_rows, bool with_entropy) {
  check_common(logits, temperature, chunk_rows, "token_logprobs");
  auto lead = logits.sizes().slice(0, logits.dim() - 1);
  ZRL_CHECK(tokens.sizes() == lead, "token_logprobs: tokens {} must match logits {} without the vocab dim",
            c10::str(tokens.sizes()), c10::str(logits.sizes()));
  const int64_t vocab = logits.size(-1);
  auto ids = tokens.reshape({-1, 1}).to(torch::kInt64);
  check_token_range(ids, vocab);
  auto out =
      TokenLogprobsFunction::apply(logits.reshape({-1, vocab}), ids, temperature, chunk_rows, with_entropy);
  return {out[0].view(lead), with_entropy ? out[1].view(lead) : torch::Tensor()};
}

}  // namespace

torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens, double temperature,
                             int64_t chunk_rows) {
  return logits_logprobs(logits, tokens, temperature, chunk_rows, /*with_entropy=*/false).logp;
}

LinearLogprobs token_logprobs_entropy(const torch::Tensor& logits, const torch::Tensor& tokens,
                                      double temperature, int64_t chunk_rows) {
  return logits_logprobs(logits, tokens, temperature, chunk_rows, /*with_entropy=*/true);
}

torch::Tensor entropy_from_logits(const torch::Tensor& logits, double temperature, int64_t chunk_rows) {
  check_common(logits, temperature, chunk_rows, "entropy_from_logits");
  auto lead = logits.sizes().slice(0, logits.dim() - 1);
  auto flat = logits.reshape({-1, logits.size(-1)});
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < flat.size(0); begin += chunk_rows) {
    const int64_t end = std::min(begin + chunk_rows, flat.size(0));
    auto z = scaled_chunk(flat, begin, end, temperature);
    parts.push_back(chunk_entropy(z, torch::logsumexp(z, 1)));
  }
  if (parts.empty()) return torch::zeros(lead, logits.options().dtype(torch::kFloat32));
  return torch::cat(parts).view(lead);
}

bool float32_lm_head_fused(const torch::Tensor& hidden, const torch::Tensor& weight) {
  return compat::kHasMmOutDtype && kernels::enabled("fused_lm_head") && hidden.is_cuda() &&
         hidden.scalar_type() == torch::kBFloat16 && weight.scalar_type() == torch::kBFloat16 &&
         weight.device() == hidden.device() && weight.dim() == 2 && kernels::enabled("token_logprobs");
}

LinearLogprobs linear_float32_token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                             const torch::Tensor& tokens, double temperature) {
  ZRL_CHECK(float32_lm_head_fused(hidden, weight),
            "linear_float32_token_logprobs: needs bf16 CUDA hidden and weight, torch >= 2.8 and the token "
            "log-prob kernel; got hidden {} ({}) and weight {} ({})",
            c10::str(hidden.sizes()), c10::toString(hidden.scalar_type()), c10::str(weight.sizes()),
            c10::toString(weight.scalar_type()));
  const LinearArgs a =
      check_linear_args(hidden, weight, tokens, temperature, "linear_float32_token_logprobs");
  auto out =
      Float32LinearLogprobsFunction::apply(hidden.reshape({-1, hidden.size(-1)}), weight, a.ids, temperature);
  return {out[0].view(a.lead), out[1].view(a.lead)};
}

LinearLogprobs linear_token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                     const torch::Tensor& tokens, double temperature, int64_t chunk_rows) {
  ZRL_CHECK(chunk_rows > 0, "linear_token_logprobs: chunk_rows must be > 0, got {}", chunk_rows);
  const LinearArgs a = check_linear_args(hidden, weight, tokens, temperature, "linear_token_logprobs");
  auto out = LinearLogprobsFunction::apply(hidden.reshape({-1, hidden.size(-1)}), weight, a.ids, temperature,
                                           chunk_rows);
  return {out[0].view(a.lead), out[1].view(a.lead)};
}

}  // namespace zerorl::algo
