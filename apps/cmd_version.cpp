// apps/cmd_version.cpp: `zerorl version`: zerorl version, LibTorch version, CUDA availability.
// Not here: anything that loads a model.
#include <torch/torch.h>

#include <cstdio>

#include "apps/commands.h"
#include "compat/torch_compat.h"
#include "zerorl/build_info.h"

namespace zerorl::apps {

void register_version_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("version", "Print zerorl, LibTorch and CUDA versions");
  cmd->callback([&exit_code]() {
    const bool cuda = torch::cuda::is_available();
    std::printf("zerorl %s (%s)\nlibtorch %s\ncuda %s", ZERORL_VERSION, ZERORL_BUILD_TYPE,
                compat::torch_version().c_str(), cuda ? "available" : "not available");
    if (cuda) std::printf(" (%d device(s))", static_cast<int>(torch::cuda::device_count()));
    std::printf("\n");
    exit_code = 0;
  });
}

}  // namespace zerorl::apps
