// Tests of the zerorl binary's command-line contract (DESIGN.md): subcommands, version, config errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/json_io.h"
#include "tests/run_process.h"
#include "tests/test_paths.h"

namespace zerorl {
namespace {

using testing::run_zerorl;
using Result = testing::CliResult;

std::string temp_file(const std::string& name, const std::string& content) {
  const auto path = (std::filesystem::temp_directory_path() / name).string();
  write_file_atomic(path, content);
  return path;
}

TEST(Cli, HelpListsEverySubcommand) {
  Result r = run_zerorl("--help");
  EXPECT_EQ(r.code, 0) << r.out;
  for (const char* sub :
       {"train", "eval", "pretrain", "generate", "logits", "tokenize", "verify", "version"}) {
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub << " missing from:\n" << r.out;
  }
}

TEST(Cli, VersionPrintsTorchAndCuda) {
  Result r = run_zerorl("version");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("zerorl 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libtorch "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cuda "), std::string::npos) << r.out;
}

TEST(Cli, MisspelledKeyFailsWithLineAndSuggestion) {
  const std::string cfg = temp_file("zerorl_cli_bad.yaml", "run:\n  seed: 1\noptim: {lrr: 1e-6}\n");
  Result r = run_zerorl("train --config " + cfg + " --print-config");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("lrr"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(":3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'lr'"), std::string::npos) << r.out;
}

TEST(Cli, BadSetValueNamesKeyAndValue) {
  Result r = run_zerorl("train --set optim.lr=abc --print-config");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("optim.lr"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("abc"), std::string::npos) << r.out;
}

TEST(Cli, PrintConfigShowsOverridesAndReloads) {
  const std::string cfg = temp_file("zerorl_cli_ok.yaml", "rollout: {group_size: 4}\n");
  Result r = run_zerorl("train --config " + cfg + " --set optim.lr=2e-6 --print-config");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("group_size: 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lr: 2e-06"), std::string::npos) << r.out;
  // The printed config is itself a valid config that resolves to the same text.
  const std::string saved = temp_file("zerorl_cli_saved.yaml", r.out);
  Result again = run_zerorl("train --config " + saved + " --print-config");
  EXPECT_EQ(again.code, 0);
  EXPECT_EQ(again.out, r.out);
}

// An allocation LibTorch cannot make ends the command with one message (what ran out, the keys that size
// memory), never LibTorch's stack trace. A 16M-wide tiny model asks for a 1 PB projection matrix: more than
// the address space, so it fails at once, touching nothing, whatever the machine's overcommit policy.
TEST(Cli, OutOfMemoryIsOneMessageWithoutAStackTrace) {
  Result r =
      run_zerorl("eval --config " + testing::source_dir() +
                 "/configs/tiny_test.yaml --set model.tiny_hidden_size=16000000 --set run.output_dir=" +
                 (std::filesystem::temp_directory_path() / "zrl_mem_oom").string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("zerorl: error: out of host memory"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rollout.kv_cache_fraction"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("algo.micro_batch_tokens"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Exception raised from"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("frame #"), std::string::npos) << r.out;
}

TEST(Cli, UnknownSubcommandFails) {
  Result r = run_zerorl("trian");
  EXPECT_NE(r.code, 0);
}

}  // namespace
}  // namespace zerorl
