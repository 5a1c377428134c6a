// Tests of the zerorl binary's command-line contract (docs/design.md): subcommands, version, config errors,
// embedded configs from outside the checkout, bad input files that must end in a message, not a signal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/files.h"
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
  for (const char* sub : {"train", "eval", "pretrain", "sample", "sft", "pipeline", "generate", "logits",
                          "tokenize", "verify", "version"}) {
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

// A pipeline file (trainer/pipeline.h) rather than a run config: a top-level `stages:` key.
bool is_pipeline_file(const std::filesystem::path& p) {
  const std::string text = read_file(p.string());
  return text.rfind("stages:", 0) == 0 || text.find("\nstages:") != std::string::npos;
}

TEST(Cli, EmbeddedConfigsResolveFromAnyDirectory) {
  // dapo.yaml and dr_grpo.yaml say `base: r1_zero_qwen2.5_math_1.5b.yaml`: from outside the checkout that
  // base must come from the embedded set, and give the same config as the files on disk.
  const auto cwd =
      std::filesystem::temp_directory_path() / ("zerorl_cli_elsewhere_" + std::to_string(getpid()));
  std::filesystem::create_directories(cwd);
  const auto configs = std::filesystem::path(testing::source_dir()) / "configs";
  int seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(configs)) {
    if (e.path().extension() != ".yaml" || is_pipeline_file(e.path())) continue;  // next test
    ++seen;
    const std::string name = e.path().filename().string();
    const std::string log = (cwd / (name + ".log")).string();
    const int code = testing::wait_exit(testing::spawn_logged(
        {testing::binary_dir() + "/zerorl", "train", "--config", name, "--print-config"}, log, cwd.string(),
        false));
    const std::string embedded = read_file(log);
    EXPECT_EQ(code, 0) << name << ":\n" << embedded;
    Result on_disk = run_zerorl("train --config " + e.path().string() + " --print-config", false);
    EXPECT_EQ(on_disk.code, 0) << name;
    EXPECT_EQ(embedded, on_disk.out) << name;
  }
  EXPECT_GE(seen, 2);
  remove_tree(cwd.string());
}

// Every pipeline file of configs/ and examples/pipeline/ resolves: each stage's run config (a file or an
// embedded name), its `set:` overrides and its `from:` wiring, without running anything (the GPU recipe
// cannot run here). From the checkout, as the files' relative paths expect.
TEST(Cli, PipelineFilesResolveEveryStage) {
  const std::filesystem::path src(testing::source_dir());
  int seen = 0;
  for (const auto& dir : {src / "configs", src / "examples" / "pipeline"}) {
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".yaml" || !is_pipeline_file(e.path())) continue;
      ++seen;
      const std::string rel = std::filesystem::relative(e.path(), src).string();
      const std::string log =
          (std::filesystem::temp_directory_path() / ("zerorl_cli_pipe_" + e.path().stem().string())).string();
      const int code = testing::wait_exit(
          testing::spawn_logged({testing::binary_dir() + "/zerorl", "pipeline", "--config", rel, "--check"},
                                log, src.string(), false));
      const std::string out = read_file(log);
      EXPECT_EQ(code, 0) << rel << ":\n" << out;
      EXPECT_NE(out.find(rel + ": "), std::string::npos) << out;
      EXPECT_NE(out.find(" stages resolve"), std::string::npos) << out;
    }
  }
  EXPECT_GE(seen,
            3);  // configs/pipeline_tiny.yaml, the R1-order GPU recipe, examples/pipeline/toy_distill.yaml
}

TEST(Cli, PipelineCheckNamesABadStageKey) {
  // A stage's override with a misspelled key fails the check, naming the key.
  const std::string p =
      temp_file("zerorl_cli_bad_pipe.yaml",
                "output_dir: /tmp/zerorl_cli_bad_pipe\nstages:\n  - name: a\n    kind: train\n"
                "    config: tiny_test.yaml\n    set: [trainer.stepz=3]\n");
  Result r = run_zerorl("pipeline --config " + p + " --check");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("trainer.stepz"), std::string::npos) << r.out;
}

TEST(Cli, DuplicateYamlKeyNamesBothLines) {
  const std::string cfg =
      temp_file("zerorl_cli_dup.yaml", "optim:\n  lr: 1e-6\n  warmup_steps: 2\n  lr: 2e-6\n");
  Result r = run_zerorl("train --config " + cfg + " --print-config");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(cfg + ":4: duplicate key 'optim.lr' (first at line 2)"), std::string::npos) << r.out;
}

TEST(Cli, DeeplyNestedJsonlIsAnErrorNotACrash) {
  // 100000 nested arrays once overflowed the stack while the error message printed the value (exit 139).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string input = temp_file("zerorl_cli_deep.jsonl", "{\"gold\": " + deep + ", \"pred\": \"1\"}\n");
  Result r = run_zerorl("verify --verifier math --input " + input);
  EXPECT_EQ(r.code, 1) << r.out.substr(0, 500);
  EXPECT_NE(r.out.find("nested deeper than"), std::string::npos) << r.out.substr(0, 500);
  EXPECT_LT(r.out.size(), 1000u);
}

TEST(Cli, TokenizerWithANegativeIdIsAnErrorNotACrash) {
  // A vocab id of -1 once segfaulted the loader; the message names the file and the token.
  const auto dir = std::filesystem::temp_directory_path() / ("zerorl_cli_badtok_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Json spec = read_json(testing::source_dir() + "/assets/tiny_base/tokenizer.json");
  spec["model"]["vocab"]["a"] = -1;
  write_file_atomic((dir / "tokenizer.json").string(), spec.dump());
  const std::string input = temp_file("zerorl_cli_tok.jsonl", "{\"text\": \"abc\"}\n");
  Result r = run_zerorl("tokenize --tokenizer " + dir.string() + " --input " + input);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("tokenizer.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'a' has id -1"), std::string::npos) << r.out;
  remove_tree(dir.string());
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
