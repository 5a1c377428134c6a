// algo/logits.cpp: chunked float32 log-probs and entropies from logits (contracts in logits.h).
// Not here: sampling, losses.
#include "algo/logits.h"

#include <vector>

#include "core/error.h"

namespace zerorl::algo {
namespace {

// Logits chunk rows [begin, end) of the flattened [N, V] view, float32, divided by the temperature.
torch::Tensor scaled_chunk(const torch::Tensor& flat, int64_t begin, int64_t end, double temperature) {
  auto chunk = flat.slice(0, begin, end).to(torch::kFloat32);
  return temperature == 1.0 ? chunk : chunk / temperature;
}

void check_common(const torch::Tensor& logits, double temperature, int64_t chunk_rows, const char* what) {
  ZRL_CHECK(logits.dim() >= 1 && logits.size(-1) > 0, "{}: logits must be [..., V], got {}", what,
            c10::str(logits.sizes()));
  ZRL_CHECK(logits.is_floating_point(), "{}: logits must be floating point, got {}", what,
            c10::toString(logits.scalar_type()));
  ZRL_CHECK(temperature > 0, "{}: temperature must be > 0, got {}", what, temperature);
  ZRL_CHECK(chunk_rows > 0, "{}: chunk_rows must be > 0, got {}", what, chunk_rows);
}

}  // namespace

torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& tokens, double temperature,
                             int64_t chunk_rows) {
  check_common(logits, temperature, chunk_rows, "token_logprobs");
  auto lead = logits.sizes().slice(0, logits.dim() - 1);
  ZRL_CHECK(tokens.sizes() == lead, "token_logprobs: tokens {} must match logits {} without the vocab dim",
            c10::str(tokens.sizes()), c10::str(logits.sizes()));
  const int64_t vocab = logits.size(-1);
  auto flat = logits.reshape({-1, vocab});
  auto ids = tokens.reshape({-1, 1}).to(torch::kInt64);
  if (ids.numel() > 0 && ((ids < 0) | (ids >= vocab)).any().item<bool>()) {  // one host sync
    ZRL_FAIL("token_logprobs: token ids must be in [0, {}), got range [{}, {}]", vocab,
             ids.min().item<int64_t>(), ids.max().item<int64_t>());
  }
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < flat.size(0); begin += chunk_rows) {
    const int64_t end = std::min(begin + chunk_rows, flat.size(0));
    auto z = scaled_chunk(flat, begin, end, temperature);
    parts.push_back(z.gather(1, ids.slice(0, begin, end)).squeeze(1) - torch::logsumexp(z, 1));
  }
  if (parts.empty()) return torch::zeros(lead, logits.options().dtype(torch::kFloat32));
  return torch::cat(parts).view(lead);
}

torch::Tensor entropy_from_logits(const torch::Tensor& logits, double temperature, int64_t chunk_rows) {
  check_common(logits, temperature, chunk_rows, "entropy_from_logits");
  auto lead = logits.sizes().slice(0, logits.dim() - 1);
  auto flat = logits.reshape({-1, logits.size(-1)});
  std::vector<torch::Tensor> parts;
  for (int64_t begin = 0; begin < flat.size(0); begin += chunk_rows) {
    const int64_t end = std::min(begin + chunk_rows, flat.size(0));
    auto z = scaled_chunk(flat, begin, end, temperature);
    parts.push_back(torch::logsumexp(z, 1) - (torch::softmax(z, 1) * z).sum(1));
  }
  if (parts.empty()) return torch::zeros(lead, logits.options().dtype(torch::kFloat32));
  return torch::cat(parts).view(lead);
}

}  // namespace zerorl::algo
