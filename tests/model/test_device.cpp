// tests/model/test_device.cpp: model::resolve_device, the one device-picking function of train, eval,
// pretrain and the model commands: every name against the CUDA facts it is given, and on this machine.
// Not here: the commands' use of it (tests/apps/test_cli_runs.cpp runs them with run.device = cuda).
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/device.h"

namespace zerorl::model {
namespace {

std::string error_of(const std::string& value, bool cuda, int64_t devices) {
  try {
    resolve_device(value, "run.device", cuda, devices);
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Device, NamesResolveAgainstCudaFacts) {
  EXPECT_EQ(resolve_device("cpu", "run.device", false, 0), torch::Device(torch::kCPU));
  EXPECT_EQ(resolve_device("cpu", "run.device", true, 2), torch::Device(torch::kCPU));
  EXPECT_EQ(resolve_device("auto", "run.device", false, 0), torch::Device(torch::kCPU));
  EXPECT_EQ(resolve_device("auto", "run.device", true, 2), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(resolve_device("cuda", "run.device", true, 1), torch::Device(torch::kCUDA, 0));
  EXPECT_EQ(resolve_device("cuda:1", "run.device", true, 2), torch::Device(torch::kCUDA, 1));
}

TEST(Device, CudaWithoutCudaIsAnErrorNamingKeyAndValue) {
  for (const char* v : {"cuda", "cuda:0", "cuda:3"}) {
    const std::string msg = error_of(v, false, 0);
    EXPECT_NE(msg.find("run.device = " + std::string(v)), std::string::npos) << msg;
    EXPECT_NE(msg.find("CUDA is not available"), std::string::npos) << msg;
  }
  const std::string missing = error_of("cuda:2", true, 2);
  EXPECT_NE(missing.find("only 2 CUDA device(s)"), std::string::npos) << missing;
  for (const char* v : {"gpu", "cuda:", "cuda:x", ""}) {
    const std::string msg = error_of(v, true, 1);
    EXPECT_NE(msg.find("run.device = '" + std::string(v) + "'"), std::string::npos) << msg;
  }
}

TEST(Device, ThisMachine) {
  // The two-argument form asks torch; on a CPU-only build "cuda" must refuse rather than run on the CPU.
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  if (torch::cuda::is_available()) {
    EXPECT_EQ(resolve_device("auto"), torch::Device(torch::kCUDA, 0));
    EXPECT_EQ(resolve_device("cuda"), torch::Device(torch::kCUDA, 0));
  } else {
    EXPECT_EQ(resolve_device("auto"), torch::Device(torch::kCPU));
    EXPECT_THROW(resolve_device("cuda"), Error);
    EXPECT_THROW(resolve_device("cuda:0", "--device"), Error);
  }
}

}  // namespace
}  // namespace zerorl::model
