// tests/tokenizer/test_fuzz.cpp: randomized encode/decode on random bytes and random Unicode (combining
// marks, jamo, exotic whitespace, emoji, CJK, fragments of special tokens): nothing crashes (run it under the
// ASan build), decode(encode(s)) == NFC(s) for valid UTF-8 (qwen3 normalizes with NFC; llama3 and the
// byte-level tokenizer do not normalize). Not here: parity with HF on real text (test_parity.cpp).
#include <gtest/gtest.h>

#include <random>

#include "tests/test_paths.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

std::string random_unicode(std::mt19937& rng) {
  static const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E},       {0x20, 0x7E},     {0x9, 0xD},         {0xA0, 0x24F},    {0x300, 0x36F},
      {0x370, 0x3FF},     {0x400, 0x4FF},   {0x590, 0x6FF},     {0x900, 0x9FF},   {0xE00, 0xE7F},
      {0x1100, 0x11FF},   {0x2000, 0x206F}, {0x3000, 0x30FF},   {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3},
      {0xFB00, 0xFB4F},   {0xFF00, 0xFFEF}, {0x1F300, 0x1F6FF}, {0x85, 0x85},     {0x2028, 0x2029},
      {0x10000, 0x10FFFF}};
  static const std::vector<std::string> fragments = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>",
                                                     "'s",           "'LL",        "  \n",          "<|",
                                                     "\r\n",         "1234567",    "\xEF\xBD\x9C"};
  std::string s;
  int n = static_cast<int>(rng() % 48);
  for (int k = 0; k < n; ++k) {
    if (rng() % 10 == 0) {
      s += fragments[rng() % fragments.size()];
      continue;
    }
    auto [lo, hi] = ranges[rng() % ranges.size()];
    char32_t c = lo + rng() % (hi - lo + 1);
    if (c >= 0xD800 && c < 0xE000) c = 'x';
    append_utf8(c, s);
  }
  return s;
}

void fuzz(const Tokenizer& tok, bool nfc, uint32_t seed, int rounds) {
  std::mt19937 rng(seed);
  for (int round = 0; round < rounds; ++round) {
    std::string s = random_unicode(rng);
    std::string expected = nfc ? normalize(s, NormalForm::kNfc) : s;
    ASSERT_EQ(tok.decode(tok.encode(s)), expected) << "seed " << seed << " round " << round;
    std::string bytes;
    int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) bytes.push_back(static_cast<char>(rng() % 256));
    std::string repaired = utf8_lossy(bytes);
    ASSERT_EQ(tok.decode(tok.encode(bytes)), nfc ? normalize(repaired, NormalForm::kNfc) : repaired);
    std::vector<int32_t> ids;
    for (int k = 0; k < 20; ++k) ids.push_back(static_cast<int32_t>(rng() % (tok.vocab_size() + 10)) - 5);
    std::string text = tok.decode(ids, round % 2 == 0);
    ASSERT_EQ(utf8_valid_prefix(text), text.size());
  }
}

TEST(Fuzz, ByteLevel) { fuzz(Tokenizer::byte_level(), false, 1, 3000); }

TEST(Fuzz, Qwen3) { fuzz(Tokenizer::from_dir(testing::data_dir() + "/tokenizers/qwen3"), true, 2, 1500); }

TEST(Fuzz, Llama3) { fuzz(Tokenizer::from_dir(testing::data_dir() + "/tokenizers/llama3"), false, 3, 1500); }

}  // namespace
}  // namespace zerorl::tokenizer
