// Tests of the config system: every error path (unknown key with line and suggestion, wrong type,
// out of range, bad --set, a key given twice), overrides, base files (on disk and through a BaseReader),
// and the save -> reload round trip.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/files.h"
#include "core/json_io.h"
#include "core/run_config.h"
#include "tests/test_paths.h"

namespace zerorl {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

Config from_text(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  Config cfg;
  config::load_yaml_text(cfg, yaml, "test.yaml");
  config::apply_overrides(cfg, overrides);
  config::validate(cfg);
  return cfg;
}

TEST(Config, DefaultsValidate) {
  Config cfg = load_config("", {});
  EXPECT_EQ(cfg.rollout.group_size, 8);
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 1e-6);
}

TEST(Config, LoadsValuesFromYaml) {
  Config cfg =
      from_text("optim:\n  lr: 3e-6\nrollout: {group_size: 16, stop: ['</answer>']}\nrun: {seed: 7}\n");
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 3e-6);
  EXPECT_EQ(cfg.rollout.group_size, 16);
  ASSERT_EQ(cfg.rollout.stop.size(), 1u);
  EXPECT_EQ(cfg.rollout.stop[0], "</answer>");
  EXPECT_EQ(cfg.run.seed, 7);
}

TEST(Config, MisspelledKeyNamesKeyLineAndSuggestion) {
  const std::string msg = error_of([] { from_text("run:\n  seed: 1\noptim: {lrr: 1e-6}\n"); });
  EXPECT_NE(msg.find("lrr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'lr'"), std::string::npos) << msg;
}

TEST(Config, UnknownSectionSuggestsClosest) {
  const std::string msg = error_of([] { from_text("optimm:\n  lr: 1e-6\n"); });
  EXPECT_NE(msg.find("optimm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'optim'"), std::string::npos) << msg;
}

TEST(Config, UnknownKeyWithoutCloseMatchListsValidKeys) {
  const std::string msg = error_of([] { from_text("optim: {zzzzzzzz: 1}\n"); });
  EXPECT_NE(msg.find("zzzzzzzz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid keys here"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesKeyAndValue) {
  const std::string msg = error_of([] { from_text("rollout:\n  group_size: many\n"); });
  EXPECT_NE(msg.find("rollout.group_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("many"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test.yaml:2"), std::string::npos) << msg;
  const std::string msg2 = error_of([] { from_text("rollout: {group_size: 2.5}\n"); });
  EXPECT_NE(msg2.find("2.5"), std::string::npos) << msg2;
  const std::string msg3 = error_of([] { from_text("optim: {lr: [1, 2]}\n"); });
  EXPECT_NE(msg3.find("optim.lr"), std::string::npos) << msg3;
}

TEST(Config, OutOfRangeNamesKeyAndValue) {
  const std::string msg = error_of([] { from_text("optim: {lr: -1}\n"); });
  EXPECT_NE(msg.find("optim.lr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-1"), std::string::npos) << msg;
  const std::string msg2 = error_of([] { from_text("optim: {schedule: linear}\n"); });
  EXPECT_NE(msg2.find("linear"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("cosine"), std::string::npos) << msg2;
  const std::string msg3 = error_of([] { from_text("rollout: {top_p: 1.5}\n"); });
  EXPECT_NE(msg3.find("rollout.top_p"), std::string::npos) << msg3;
}

TEST(Config, SetOverridesApplyInOrder) {
  Config cfg = from_text("optim: {lr: 1e-6}\n", {"optim.lr=2e-6", "rollout.group_size=4", "optim.lr=5e-6",
                                                 "rollout.stop=['a', 'b']", "run.output_dir=out/x"});
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 5e-6);
  EXPECT_EQ(cfg.rollout.group_size, 4);
  EXPECT_EQ(cfg.rollout.stop, (config::StringList{"a", "b"}));
  EXPECT_EQ(cfg.run.output_dir, "out/x");
}

TEST(Config, BadSetNamesKeyAndValue) {
  const std::string msg = error_of([] { from_text("", {"optim.lr=abc"}); });
  EXPECT_NE(msg.find("optim.lr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("abc"), std::string::npos) << msg;
  const std::string msg2 = error_of([] { from_text("", {"optim.lrr=1"}); });
  EXPECT_NE(msg2.find("optim.lrr"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("optim.lr'"), std::string::npos) << msg2;
  const std::string msg3 = error_of([] { from_text("", {"optim=1"}); });
  EXPECT_NE(msg3.find("section"), std::string::npos) << msg3;
  const std::string msg4 = error_of([] { from_text("", {"no_equals_sign"}); });
  EXPECT_NE(msg4.find("key.path=value"), std::string::npos) << msg4;
  const std::string msg5 = error_of([] { from_text("", {"optim.lr=-3"}); });
  EXPECT_NE(msg5.find("must be > 0"), std::string::npos) << msg5;
}

// README: "any string containing {prompt}" is a template. It used to be rejected by a fixed list of names.
TEST(Config, CustomPromptTemplateIsAccepted) {
  EXPECT_EQ(from_text("tokenizer:\n  prompt_template: \"Question: {prompt}\\nAnswer:\"\n")
                .tokenizer.prompt_template,
            "Question: {prompt}\nAnswer:");
  EXPECT_EQ(from_text("", {"tokenizer.prompt_template='Q: {prompt} A:'"}).tokenizer.prompt_template,
            "Q: {prompt} A:");
  for (const char* name : {"r1_zero", "chatml", "plain"}) {
    EXPECT_EQ(from_text("", {std::string("tokenizer.prompt_template=") + name}).tokenizer.prompt_template,
              name);
  }
}

TEST(Config, PromptTemplateNeedsPromptExactlyOnce) {
  for (const char* bad : {"'Q: {question} A:'", "'{prompt} and {prompt}'", "r1-zero-typo"}) {
    const std::string msg =
        error_of([&] { from_text("", {std::string("tokenizer.prompt_template=") + bad}); });
    EXPECT_NE(msg.find("tokenizer.prompt_template"), std::string::npos) << msg;
    EXPECT_NE(msg.find("exactly once"), std::string::npos) << msg;
  }
  const std::string msg = error_of([] { from_text("", {"tokenizer.prompt_template='{prompt} {prompt}'"}); });
  EXPECT_NE(msg.find("2 times"), std::string::npos) << msg;
  EXPECT_NE(msg.find("{prompt} {prompt}"), std::string::npos) << msg;  // the value
}

TEST(Config, DeviceNames) {
  for (const char* ok : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    EXPECT_EQ(from_text("", {std::string("run.device=") + ok}).run.device, ok);
  }
  for (const char* bad : {"gpu", "cuda:x", "cuda0", "CPU", "cuda:123456"}) {
    const std::string msg = error_of([&] { from_text("", {std::string("run.device=") + bad}); });
    EXPECT_NE(msg.find("run.device"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cuda:N"), std::string::npos) << msg;
  }
}

TEST(Config, InvalidYamlNamesFileAndLine) {
  const std::string msg = error_of([] { from_text("optim:\n  lr: [1, 2\n"); });
  EXPECT_NE(msg.find("test.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
}

TEST(Config, MissingFileIsNamed) {
  const std::string msg = error_of([] { load_config("/nonexistent/run.yaml", {}); });
  EXPECT_NE(msg.find("/nonexistent/run.yaml"), std::string::npos) << msg;
}

TEST(Config, BaseFileLoadsFirstAndIsOverridden) {
  const auto dir = std::filesystem::temp_directory_path() / "zerorl_cfg_base_test";
  std::filesystem::create_directories(dir);
  write_file_atomic((dir / "base.yaml").string(),
                    "optim: {lr: 2e-6, warmup_steps: 5}\nrollout: {group_size: 4}\n");
  write_file_atomic((dir / "variant.yaml").string(), "base: base.yaml\noptim: {lr: 3e-6}\n");
  Config cfg = load_config((dir / "variant.yaml").string(), {});
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 3e-6);
  EXPECT_EQ(cfg.optim.warmup_steps, 5);
  EXPECT_EQ(cfg.rollout.group_size, 4);
  // An error inside the base file names the base file.
  write_file_atomic((dir / "base.yaml").string(), "optim: {lr: 2e-6}\nrolout: {}\n");
  const std::string msg = error_of([&] { load_config((dir / "variant.yaml").string(), {}); });
  EXPECT_NE(msg.find("base.yaml:2"), std::string::npos) << msg;
  zerorl::remove_tree(dir);
}

TEST(Config, DuplicateKeyNamesBothLines) {
  // yaml-cpp keeps both entries and its lookup returns the first, so `lr` would silently be 1e-6.
  const struct {
    std::string yaml, key;
    int first, second;
  } cases[] = {
      {"optim:\n  lr: 1e-6\n  warmup_steps: 3\n  lr: 2e-6\n", "optim.lr", 2, 4},
      {"run:\n  seed: 1\noptim: {lr: 1e-6}\nrun:\n  seed: 2\n", "run", 1, 4},
      {"optim: {lr: 1e-6, lr: 2e-6}\n", "optim.lr", 1, 1},
      {"rollout:\n  stop: ['a', 'a']\n  temperature: 1\n  \"temperature\": 2\n", "rollout.temperature", 3, 4},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of([&] { from_text(c.yaml); });
    EXPECT_NE(msg.find("test.yaml:" + std::to_string(c.second) + ": duplicate key '" + c.key + "'"),
              std::string::npos)
        << c.yaml << "\n"
        << msg;
    EXPECT_NE(msg.find("first at line " + std::to_string(c.first)), std::string::npos) << msg;
  }
  // The same key in different mappings, and repeated list items, are fine.
  Config cfg = from_text("optim: {lr: 2e-6}\nrollout: {stop: ['a', 'a']}\n");
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 2e-6);
}

TEST(Config, DuplicateKeyInBaseFileNamesTheBaseFile) {
  const auto dir = std::filesystem::temp_directory_path() / "zerorl_cfg_dup_base";
  std::filesystem::create_directories(dir);
  write_file_atomic((dir / "base.yaml").string(), "optim:\n  lr: 2e-6\n  lr: 3e-6\n");
  write_file_atomic((dir / "variant.yaml").string(), "base: base.yaml\nrollout: {group_size: 4}\n");
  const std::string msg = error_of([&] { load_config((dir / "variant.yaml").string(), {}); });
  EXPECT_NE(msg.find((dir / "base.yaml").string() + ":3: duplicate key 'optim.lr' (first at line 2)"),
            std::string::npos)
      << msg;
  zerorl::remove_tree(dir);
}

TEST(Config, BaseReaderResolvesBaseWithoutTheFileSystem) {
  // What the CLI does for configs compiled into the binary: `base:` is looked up by the reader.
  const std::map<std::string, std::string> files = {{"a.yaml", "optim: {lr: 2e-6, warmup_steps: 7}\n"},
                                                    {"b.yaml", "base: a.yaml\noptim: {lr: 3e-6}\n"}};
  std::vector<std::string> asked;
  const config::BaseReader reader = [&](const std::string& including, const std::string& base) {
    asked.push_back(including + " -> " + base);
    const auto it = files.find(base);
    if (it == files.end()) ZRL_FAIL("{}: no base '{}'", including, base);
    return config::ConfigSource{it->second, "<mem>/" + base};
  };
  Config cfg;
  config::load_yaml_text(cfg, "base: b.yaml\nrollout: {group_size: 4}\n", "<mem>/c.yaml", 0, reader);
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 3e-6);
  EXPECT_EQ(cfg.optim.warmup_steps, 7);
  EXPECT_EQ(cfg.rollout.group_size, 4);
  EXPECT_EQ(asked, (std::vector<std::string>{"<mem>/c.yaml -> b.yaml", "<mem>/b.yaml -> a.yaml"}));
  const std::string msg = error_of([&] {
    Config other;
    config::load_yaml_text(other, "base: missing.yaml\n", "<mem>/d.yaml", 0, reader);
  });
  EXPECT_NE(msg.find("<mem>/d.yaml: no base 'missing.yaml'"), std::string::npos) << msg;
}

TEST(Config, RoundTripSavedConfigReloadsEqual) {
  Config cfg = from_text(
      "optim: {lr: 2.5e-6, schedule: cosine}\nrollout: {temperature: 0.7, stop: ['x', '']}\n"
      "run: {output_dir: 'a dir/with: colon', seed: 123}\n");
  cfg.optim.weight_decay = 0.1;  // a value with no short binary form
  const std::string saved = config::to_yaml(cfg);
  Config back;
  config::load_yaml_text(back, saved, "saved.yaml");
  EXPECT_EQ(config::to_yaml(back), saved);
  EXPECT_DOUBLE_EQ(back.optim.lr, 2.5e-6);
  EXPECT_EQ(back.optim.weight_decay, 0.1);
  EXPECT_EQ(back.run.output_dir, "a dir/with: colon");
  EXPECT_EQ(back.rollout.stop, (config::StringList{"x", ""}));
  EXPECT_EQ(back.optim.schedule, "cosine");
  // And a changed value is visible in the saved text (the comparison is not vacuous).
  back.optim.lr = 4e-6;
  EXPECT_NE(config::to_yaml(back), saved);
}

TEST(ConfigDocs, ReadmeIsGeneratedFromDeclarations) {
  Config cfg;
  const std::string expected = config::markdown_reference(config::document(cfg), "zerorl config reference");
  const std::string path = testing::source_dir() + "/configs/README.md";
  const char* update = std::getenv("ZERORL_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") write_file_atomic(path, expected);
  EXPECT_EQ(read_file(path), expected)
      << "configs/README.md is stale; regenerate: ZERORL_UPDATE_DOCS=1 build/tests/core/test_core "
         "--gtest_filter='ConfigDocs.*'";
}

TEST(ConfigDocs, EveryKeyHasHelp) {
  Config cfg;
  for (const auto& row : config::document(cfg)) EXPECT_FALSE(row.help.empty()) << row.key;
}

}  // namespace
}  // namespace zerorl
