// tests/kernels/test_attention.cpp: kernels::causal_attention (the CUDA kernel) against its twin (masked
// scores, float32 softmax), the twin against a naive float64 loop, and the property the kernel exists for:
// a decode step's output (one query, K/V from a cache with garbage past the row) is the bits of the same
// query in a forward over the whole sequence. Kernel cases (label gpu through kernels_cuda) skip without
// CUDA or compiled kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "compat/torch_compat.h"
#include "kernels/attention.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

using kernel_test::cuda_bf16;
using kernel_test::differences;
using kernel_test::expect_close;
using kernel_test::kernel_here;
using kernel_test::values;

// out[b][h][t] = sum_j softmax_j(q.k_j / sqrt(D)) v_j over the visible keys, in float64.
std::vector<double> naive_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                    const std::vector<int64_t>& start, const std::vector<int64_t>& end) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3), Hkv = k.size(1), L = k.size(2);
  auto qa = q.to(torch::kFloat64).contiguous(), ka = k.to(torch::kFloat64).contiguous(),
       va = v.to(torch::kFloat64).contiguous();
  auto Q = qa.accessor<double, 4>(), K = ka.accessor<double, 4>(), V = va.accessor<double, 4>();
  std::vector<double> out;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kh = h / (H / Hkv);
      for (int64_t t = 0; t < T; ++t) {
        const int64_t p = start[static_cast<size_t>(b)] + t;
        std::vector<double> w(static_cast<size_t>(L), 0.0);
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t j = 0; j < L; ++j) {
          if (!((j <= p && j < end[static_cast<size_t>(b)]) || j == p)) continue;
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += Q[b][h][t][d] * K[b][kh][j][d];
          w[static_cast<size_t>(j)] = s / std::sqrt(static_cast<double>(D));
          mx = std::max(mx, w[static_cast<size_t>(j)]);
        }
        for (int64_t j = 0; j < L; ++j) {
          const bool see = (j <= p && j < end[static_cast<size_t>(b)]) || j == p;
          w[static_cast<size_t>(j)] = see ? std::exp(w[static_cast<size_t>(j)] - mx) : 0.0;
          sum += w[static_cast<size_t>(j)];
        }
        for (int64_t d = 0; d < D; ++d) {
          double o = 0;
          for (int64_t j = 0; j < L; ++j) o += w[static_cast<size_t>(j)] * V[b][kh][j][d];
          out.push_back(o / sum);
        }
      }
    }
  }
  return out;
}

TEST(AttentionTwin, MatchesANaiveLoop) {
  torch::manual_seed(1);
  auto q = torch::randn({2, 6, 5, 16}), k = torch::randn({2, 2, 11, 16}), v = torch::randn({2, 2, 11, 16});
  const std::vector<int64_t> start{3, 6}, end{7, 11};  // row 0: queries at 3..7, keys 7.. are padding
  auto got = causal_attention_reference(q, k, v, torch::tensor(start), torch::tensor(end));
  expect_close(got, torch::tensor(naive_attention(q, k, v, start, end)).view(got.sizes()), 1e-5,
               "twin vs loop, prefix");
  auto kk = k.narrow(2, 0, 5), vv = v.narrow(2, 0, 5);  // no q_start, no key_end: plain causal
  auto plain = causal_attention_reference(q, kk, vv);
  expect_close(plain, torch::tensor(naive_attention(q, kk, vv, {0, 0}, {5, 5})).view(plain.sizes()), 1e-5,
               "twin vs loop, causal");
  EXPECT_FALSE(use_attention_kernel(q.to(torch::kBFloat16), k.to(torch::kBFloat16), v.to(torch::kBFloat16)))
      << "CPU takes the twin";
}

// Random bf16 [B, H, T, D] laid out [B, T, H, D], as the model's projections (and the RoPE kernel) give.
torch::Tensor heads_tensor(int64_t B, int64_t H, int64_t T, int64_t D) {
  return torch::randn({B, T, H, D}, cuda_bf16()).transpose(1, 2);
}

torch::Tensor on_cuda(const std::vector<int64_t>& v) { return torch::tensor(v).to(torch::kCUDA); }

TEST(AttentionGpu, KernelMatchesTheTwin) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(2);
  for (int64_t D : {16, 32, 64, 128}) {
    for (int64_t g : {1, 7}) {
      const std::string what = "D " + std::to_string(D) + ", g " + std::to_string(g);
      auto q = heads_tensor(3, 2 * g, 150, D), k = heads_tensor(3, 2, 150, D), v = heads_tensor(3, 2, 150, D);
      const auto end = on_cuda({150, 97, 1});  // right-padded rows, one of a single token
      ASSERT_TRUE(use_attention_kernel(q, k, v)) << what;
      // bf16 P in the P.V product: a relative error of a few bf16 roundings of the largest output.
      expect_close(causal_attention(q, k, v, {}, end), causal_attention_reference(q, k, v, {}, end), 2e-2,
                   what + ", forward");
      expect_close(causal_attention(q, k, v), causal_attention_reference(q, k, v), 2e-2, what + ", causal");
      const auto start = on_cuda({0, 5, 70});  // a cached call: queries at start.., keys [0, 300)
      auto kc = heads_tensor(3, 2, 300, D), vc = heads_tensor(3, 2, 300, D);
      expect_close(causal_attention(q, kc, vc, start, on_cuda({150, 100, 220})),
                   causal_attention_reference(q, kc, vc, start, on_cuda({150, 100, 220})), 2e-2,
                   what + ", cached");
    }
  }
}

// The engine's decode step and the trainer's forward: Qwen2.5-0.5B's heads (14 over 2, D 64), 1.5B's (12 over
// 2, D 128) and the small head sizes; right-padded rows; the cache holds NaN past what was written. 3 rows
// take the decode kernel that splits a row's work over warps, 300 rows (600 CTAs, more than twice any GPU's
// SMs) the one-warp one.
TEST(AttentionGpu, DecodeRowsAreTheBitsOfTheFullForward) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(3);
  const std::vector<std::pair<int64_t, int64_t>> heads{{14, 64}, {12, 128}, {8, 32}, {4, 16}};
  for (int64_t B : {3, 300}) {
    for (auto [Hq, D] : heads) {
      const int64_t T = 200, Hkv = 2, capacity = 256;
      const int64_t lengths[] = {200, 130, 64};  // row b's: lengths[b % 3]
      std::vector<int64_t> len;
      for (int64_t b = 0; b < B; ++b) len.push_back(lengths[b % 3]);
      const std::string what =
          "B " + std::to_string(B) + ", Hq " + std::to_string(Hq) + ", D " + std::to_string(D);
      auto q = heads_tensor(B, Hq, T, D), k = heads_tensor(B, Hkv, T, D), v = heads_tensor(B, Hkv, T, D);
      const auto full = causal_attention(q, k, v, {}, on_cuda(len));  // [B, Hq, T, D]
      auto kc = torch::full({B, Hkv, capacity, D}, std::numeric_limits<float>::quiet_NaN(), cuda_bf16());
      auto vc = kc.clone();
      kc.narrow(2, 0, T).copy_(k), vc.narrow(2, 0, T).copy_(v);
      for (int64_t p : {0, 1, 63, 64, 65, 127, 129, 199}) {
        std::vector<int64_t> pos;
        for (int64_t b = 0; b < B; ++b) pos.push_back(std::min(p, len[static_cast<size_t>(b)] - 1));
        const auto idx = on_cuda(pos);
        auto qs = q.gather(2, idx.view({B, 1, 1, 1}).expand({B, Hq, 1, D}));  // each row's query at its pos
        const auto step = causal_attention(qs, kc, vc, idx);                  // [B, Hq, 1, D]
        const auto want = full.gather(2, idx.view({B, 1, 1, 1}).expand({B, Hq, 1, D}));
        EXPECT_TRUE(torch::equal(step, want))
            << what << ", position " << p << ": " << differences(step, want);
      }
      // A prefill over the cache (queries 0..T-1 of each row, its length as key_end) gives the same bits.
      const auto prefill = causal_attention(q, kc, vc, on_cuda(std::vector<int64_t>(B, 0)), on_cuda(len));
      for (int64_t b = 0; b < B; ++b) {
        const auto n = len[static_cast<size_t>(b)];
        EXPECT_TRUE(torch::equal(prefill[b].narrow(1, 0, n), full[b].narrow(1, 0, n)))
            << what << ", prefill row " << b;
      }
    }
  }
}

// Both backwards (cuDNN's fed the kernel's output and log-sum-exp; the recompute) against autograd through
// the float32 twin, with a right-padded row, at head_dim 64 and 128 and a length that is no multiple of 64.
TEST(AttentionGpu, GradientMatchesAutogradThroughTheTwin) {
  if (!kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  torch::manual_seed(4);
  const int64_t B = 2, Hq = 14, Hkv = 2, T = 100;
  const auto end = on_cuda({100, 40});
  for (const int64_t D : {64, 128}) {
    auto q0 = heads_tensor(B, Hq, T, D), k0 = heads_tensor(B, Hkv, T, D), v0 = heads_tensor(B, Hkv, T, D);
    // The loss reads real tokens only (row 1's padding queries get zero gradient), as the trainer's does.
    auto w = torch::randn({B, Hq, T, D}, cuda_bf16());
    w[1].narrow(1, 40, T - 40).zero_();
    auto grads = [&](int path) {  // 0: the twin, 1: the kernel + cuDNN's backward, 2: the kernel + recompute
      set_disabled(path == 2 ? std::set<std::string>{"attention_backward"} : std::set<std::string>{});
      auto q = q0.detach().requires_grad_(), k = k0.detach().requires_grad_(),
           v = v0.detach().requires_grad_();
      auto out =
          path == 0 ? causal_attention_reference(q, k, v, {}, end) : causal_attention(q, k, v, {}, end);
      (out.to(torch::kFloat32) * w.to(torch::kFloat32)).sum().backward();
      set_disabled({});
      return std::vector<torch::Tensor>{q.grad(), k.grad(), v.grad()};
    };
    const auto want = grads(0);
    const char* names[3] = {"d/dq", "d/dk", "d/dv"};
    for (int path = 1; path <= 2; ++path) {
      const auto got = grads(path);
      const std::string what =
          std::string(path == 1 ? "cuDNN backward" : "recompute") + ", D " + std::to_string(D);
      for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(torch::isfinite(got[static_cast<size_t>(i)]).all().item<bool>())
            << what << " " << names[i];
        expect_close(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)], 3e-2, what + " " + names[i]);
      }
    }
    if (compat::kHasCudnnSdpaBackward) {
      EXPECT_FALSE(attention_backward_fell_back()) << "cuDNN's backward failed and the recompute ran instead";
    }
  }
}

}  // namespace
}  // namespace zerorl::kernels
