// tests/kernels/test_switch.cpp: the per-kernel off list (ZERORL_KERNELS_OFF, kernels::set_disabled): its
// parsing and its error for an unknown name on any machine; on a CUDA build (label gpu through
// kernels_cuda), that one kernel goes off while the others stay on.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "kernels/attention.h"
#include "kernels/swiglu.h"
#include "kernels/switch.h"
#include "tests/kernels/kernel_test_util.h"

namespace zerorl::kernels {
namespace {

TEST(KernelSwitch, ParsesACommaListOfKnownNames) {
  EXPECT_EQ(parse_kernel_list(" attention, sample ,"), (std::set<std::string>{"attention", "sample"}));
  EXPECT_TRUE(parse_kernel_list("").empty());
  for (const auto& name : kernel_names()) EXPECT_EQ(parse_kernel_list(name).count(name), 1u) << name;
  try {
    parse_kernel_list("rope,attn");
    FAIL() << "an unknown name must throw";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'attn'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(set_disabled({"nope"}), std::exception);
}

TEST(KernelSwitchGpu, TurnsOneKernelOff) {
  if (!kernel_test::kernel_here()) GTEST_SKIP() << "no CUDA device or no compiled kernels";
  auto opts = kernel_test::cuda_bf16();
  auto q = torch::randn({1, 2, 8, 64}, opts), k = torch::randn({1, 1, 8, 64}, opts);
  auto g = torch::randn({4, 8}, opts);
  set_disabled({"attention"});
  EXPECT_FALSE(use_attention_kernel(q, k, k));
  EXPECT_TRUE(use_silu_mul_kernel(g, g));
  set_disabled({});
  EXPECT_TRUE(use_attention_kernel(q, k, k));
}

}  // namespace
}  // namespace zerorl::kernels
