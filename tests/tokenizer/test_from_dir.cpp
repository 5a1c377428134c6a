// tests/tokenizer/test_from_dir.cpp: Tokenizer::from_dir's file lookup: tokenizer.json or tokenizer.json.gz
// (and the same for tokenizer_config.json), plain first. Not here: what the files contain (test_parity).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "tests/test_paths.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::tokenizer {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& tag) {
  fs::path dir = fs::temp_directory_path() / ("zrl_from_dir_" + tag + "_" + std::to_string(::getpid()));
  zerorl::remove_tree(dir.string());
  fs::create_directories(dir);
  return dir;
}

// data/tokenizers/qwen3 holds only tokenizer.json.gz and tokenizer_config.json.gz. The reference is
// Hugging Face tokenizers' ids for the first corpus line, and the chat template of the config.
TEST(FromDir, ReadsGzipWhenThePlainFileIsAbsent) {
  const std::string dir = testing::data_dir() + "/tokenizers/qwen3";
  ASSERT_FALSE(fs::exists(dir + "/tokenizer.json"));
  ASSERT_FALSE(fs::exists(dir + "/tokenizer_config.json"));
  const Tokenizer tok = Tokenizer::from_dir(dir);
  const Json first =
      read_jsonl(testing::data_dir() + "/tokenizers/reference/qwen3_public_ids.jsonl.gz").at(0);
  EXPECT_EQ(tok.encode(first.at("text").get<std::string>()), first.at("ids").get<std::vector<int32_t>>());
  EXPECT_NE(tok.chat_template().find("<|im_start|>"), std::string::npos);  // from tokenizer_config.json.gz
}

// With both present the plain file is read: here a byte-level tokenizer.json beside Qwen3's .gz.
TEST(FromDir, PlainFileWinsOverGzip) {
  const fs::path dir = temp_dir("both");
  Tokenizer::byte_level().save(dir.string());
  fs::copy_file(testing::data_dir() + "/tokenizers/qwen3/tokenizer.json.gz", dir / "tokenizer.json.gz");
  const Tokenizer tok = Tokenizer::from_dir(dir.string());
  zerorl::remove_tree(dir.string());
  EXPECT_EQ(tok.vocab_size(), Tokenizer::byte_level().vocab_size());
}

TEST(FromDir, MissingFileNamesBothNamesAndTheFolder) {
  const fs::path dir = temp_dir("empty");
  try {
    Tokenizer::from_dir(dir.string());
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tokenizer.json.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
  }
  zerorl::remove_tree(dir.string());
}

}  // namespace
}  // namespace zerorl::tokenizer
