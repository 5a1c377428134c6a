// tests/tokenizer/test_units.cpp: the parts of the tokenizer against independent references: HF's documented
// Split behaviors and added-token rules, the Unicode standard's U+FFFD example, utf8proc for NFC, the scan
// twin of the heap BPE merge, sequential encode for the batch encode, decode for the stream decoder.
// Not here: corpus parity (test_parity.cpp), fuzzing (test_fuzz.cpp).
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "tests/test_paths.h"
#include "tokenizer/bpe.h"
#include "tokenizer/fast_split.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace zerorl::tokenizer {
namespace {

std::vector<std::string> pieces(const Json& spec, std::string text) {
  PreTokenizer pre(spec);
  std::vector<Span> spans;
  pre.split(text, spans);
  std::vector<std::string> out;
  for (const Span& s : spans) out.push_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

Json split_spec(const std::string& pattern, const std::string& behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"String", pattern}}}, {"behavior", behavior}, {"invert", invert}};
}

using Pieces = std::vector<std::string>;

// The examples of HF's SplitDelimiterBehavior documentation ("the-final--countdown", delimiter "-").
TEST(PreTokenizer, SplitBehaviorsMatchHuggingFaceDocs) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(pieces(split_spec("-", "Removed"), text), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(pieces(split_spec("-", "Isolated"), text), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(pieces(split_spec("-", "MergedWithPrevious"), text),
            (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(pieces(split_spec("-", "MergedWithNext"), text), (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(pieces(split_spec("-", "Contiguous"), text), (Pieces{"the", "-", "final", "--", "countdown"}));
}

TEST(PreTokenizer, InvertKeepsMatchesAsContent) {
  Json spec = {
      {"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Removed"}, {"invert", true}};
  EXPECT_EQ(pieces(spec, "hello, wörld!"), (Pieces{"hello", "wörld"}));
}

TEST(PreTokenizer, ByteLevelRegexAndPrefixSpace) {
  Json spec = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_EQ(pieces(spec, "Hello world's 42!!  x"),
            (Pieces{" Hello", " world", "'s", " 42", "!!", " ", " x"}));
}

// The hand-written matcher of the Qwen / Llama 3 pattern against PCRE2 running the pattern itself.
TEST(PreTokenizer, FastSplitterEqualsPcre2) {
  const std::string root = testing::data_dir() + "/tokenizers/";
  std::mt19937 rng(5);
  const std::vector<std::string> atoms = {"'s",
                                          "'S",
                                          "'re",
                                          "'LL",
                                          "'x",
                                          "'\xC5\xBF",
                                          " ",
                                          "  ",
                                          "\t",
                                          "\n",
                                          "\r\n",
                                          "\xC2\xA0",
                                          "\xE2\x80\xA8",
                                          "\xC2\x85",
                                          "\xE3\x80\x80",
                                          "a",
                                          "Zz",
                                          "\xC3\xA9",
                                          "\xCC\x81",
                                          "\xE4\xB8\xAD",
                                          "1",
                                          "12345",
                                          "\xD9\xA3",
                                          "\xC2\xBD",
                                          "!",
                                          "?!",
                                          "...",
                                          "\xF0\x9F\x98\x80",
                                          "_",
                                          "$",
                                          "\xE2\x80\x94",
                                          "x\xE2\x80\x8B",
                                          "\xE1\xA0\x8E",
                                          "\x0B"};
  for (const char* name : {"qwen3", "llama3"}) {
    Json spec = read_json(root + name + "/tokenizer.json.gz")["pre_tokenizer"]["pretokenizers"][0];
    std::string pattern = spec["pattern"]["Regex"];
    auto fast = FastSplitter::for_pattern(pattern);
    ASSERT_NE(fast, nullptr) << name;
    Regex regex(pattern, false);
    for (int trial = 0; trial < 20000; ++trial) {
      std::string s;
      int n = static_cast<int>(rng() % 12);
      for (int k = 0; k < n; ++k) s += atoms[rng() % atoms.size()];
      std::vector<std::pair<size_t, size_t>> a, b;
      fast->find_all(s, a);
      regex.find_all(s, b);
      ASSERT_EQ(a, b) << name << ": '" << s << "'";
    }
  }
}

// Oniguruma's \s is White_Space: U+180E (a format character since Unicode 6.3) is not a space, U+0085 is.
TEST(PreTokenizer, WhitespaceIsUnicodeWhiteSpace) {
  Json spec = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+|[^\\s]+"}}}, {"behavior", "Isolated"}};
  EXPECT_EQ(pieces(spec,
                   "a\xE1\xA0\x8E b\xC2\x85\xE2\x80\x83"
                   "c"),
            (Pieces{"a\xE1\xA0\x8E", " ", "b", "\xC2\x85\xE2\x80\x83", "c"}));
}

TEST(PreTokenizer, UnsupportedComponentsAreNamed) {
  try {
    PreTokenizer pre(Json{{"type", "Whitespace"}});
    FAIL() << "Whitespace accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Whitespace"), std::string::npos);
  }
  EXPECT_THROW(Normalizer(Json{{"type", "Lowercase"}}), Error);
}

// Unicode Standard ch. 3, "U+FFFD Substitution of Maximal Subparts" example.
TEST(Unicode, LossyReplacesMaximalSubparts) {
  std::string in = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8_lossy(in), "a" + r + r + r + "b" + r + "c" + r + r + "d");
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), r + r + r);  // surrogates are ill-formed
  EXPECT_EQ(utf8_valid_prefix("ab\xE4\xB8"), 2u);
}

TEST(Unicode, NfcQuickCheckAgreesWithUtf8proc) {
  std::mt19937 rng(7);
  const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E},     {0xC0, 0x17F},    {0x300, 0x36F},   {0x370, 0x3FF},
      {0x900, 0x9FF},   {0xB00, 0xBFF},   {0x1100, 0x11FF}, {0x1E00, 0x1FFF},
      {0x3040, 0x30FF}, {0xAC00, 0xAC40}, {0xF900, 0xFAFF}, {0x1F300, 0x1F64F}};
  int quick = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string s;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      auto [lo, hi] = ranges[rng() % ranges.size()];
      append_utf8(lo + rng() % (hi - lo + 1), s);
    }
    auto* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
    std::string expected(reinterpret_cast<char*>(nfc));
    std::free(nfc);
    if (is_nfc_quick(s)) {
      ++quick;
      EXPECT_EQ(expected, s) << "quick check passed a string NFC changes";
    }
    EXPECT_EQ(normalize(s, NormalForm::kNfc), expected);
  }
  EXPECT_GT(quick, 1000);
}

// Random merge tables over "abcd": the heap merge (long words) must equal the scan merge (short words).
TEST(Bpe, HeapMergeEqualsScanMerge) {
  std::mt19937 rng(11);
  for (int seed = 0; seed < 5; ++seed) {
    std::vector<std::string> tokens = {"a", "b", "c", "d"};
    std::unordered_map<std::string, int32_t> vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"d", 3}};
    std::vector<std::pair<std::string, std::string>> merges;
    while (merges.size() < 60) {
      std::string l = tokens[rng() % tokens.size()], r = tokens[rng() % tokens.size()];
      if (l.size() + r.size() > 8 || vocab.count(l + r)) continue;
      vocab[l + r] = static_cast<int32_t>(vocab.size());
      tokens.push_back(l + r);
      merges.emplace_back(l, r);
    }
    BpeModel bpe(vocab, merges, false, -1, false);
    for (int w = 0; w < 300; ++w) {
      std::string word;
      size_t len = 1 + rng() % 120;
      for (size_t k = 0; k < len; ++k) word.push_back(static_cast<char>('a' + rng() % (seed % 2 ? 2 : 4)));
      auto scan = bpe.initial_symbols(word), heap = scan;
      bpe.merge_scan(scan);
      bpe.merge_heap(heap);
      ASSERT_EQ(scan, heap) << word;
    }
  }
}

Tokenizer byte_level_with(const Json& added, const Json& post = nullptr, const Json& normalizer = nullptr) {
  Tokenizer base = Tokenizer::byte_level();
  auto dir = std::filesystem::temp_directory_path() / ("zrl_tok_" + std::to_string(::getpid()));
  base.save(dir.string());
  Json spec = read_json((dir / "tokenizer.json").string());
  zerorl::remove_tree(dir);
  spec["added_tokens"] = added;
  spec["post_processor"] = post;
  spec["normalizer"] = normalizer;
  return Tokenizer::from_json(spec.dump());
}

Json added_token(const std::string& content, int id, bool lstrip, bool rstrip, bool single_word,
                 bool normalized = false) {
  return {{"id", id},         {"content", content}, {"single_word", single_word},
          {"lstrip", lstrip}, {"rstrip", rstrip},   {"normalized", normalized},
          {"special", true}};
}

// HF AddedVocabulary::find_matches rules, cases worked by hand from them.
TEST(AddedTokens, StripAndSingleWordRules) {
  Tokenizer plain = byte_level_with(Json::array({added_token("<x>", 300, false, false, false)}));
  EXPECT_EQ(plain.encode("a <x> b"), (std::vector<int32_t>{'a', ' ', 300, ' ', 'b'}));
  Tokenizer strip = byte_level_with(Json::array({added_token("<x>", 300, true, true, false)}));
  EXPECT_EQ(strip.encode("a \t<x>\n b"), (std::vector<int32_t>{'a', 300, 'b'}));
  Tokenizer word = byte_level_with(Json::array({added_token("ab", 300, false, false, true)}));
  EXPECT_EQ(word.encode("ab cab ab_ ab."),
            (std::vector<int32_t>{300, ' ', 'c', 'a', 'b', ' ', 'a', 'b', '_', ' ', 300, '.'}));
  // Leftmost-longest: "<xy>" wins over "<x" at the same start.
  Tokenizer longest = byte_level_with(Json::array(
      {added_token("<x", 300, false, false, false), added_token("<xy>", 301, false, false, false)}));
  EXPECT_EQ(longest.encode("<xy><x"), (std::vector<int32_t>{301, 300}));
}

// HF: non-normalized tokens match the raw text first; normalized ones match the NFC'd rest, in NFC form.
TEST(AddedTokens, NormalizedTokensMatchNormalizedText) {
  const std::string e_acute = "\xC3\xA9", e_combining = "e\xCC\x81";
  Tokenizer tok =
      byte_level_with(Json::array({added_token(e_combining + "x", 300, false, false, false, true),
                                   added_token(e_combining + "y", 301, false, false, false, false)}),
                      nullptr, Json{{"type", "NFC"}});
  EXPECT_EQ(tok.encode(e_acute + "x"), std::vector<int32_t>{300});
  EXPECT_EQ(tok.encode(e_combining + "x"), std::vector<int32_t>{300});
  EXPECT_EQ(tok.encode(e_combining + "y"), std::vector<int32_t>{301});
  EXPECT_EQ(tok.encode(e_acute + "y"), (std::vector<int32_t>{0xC3, 0xA9, 'y'}));
}

TEST(AddedTokens, TemplateProcessingAddsSpecialTokens) {
  Json post = {{"type", "TemplateProcessing"},
               {"single", Json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
               {"pair", Json::array()},
               {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {300}}, {"tokens", {"<s>"}}}}}}};
  Tokenizer tok = byte_level_with(Json::array({added_token("<s>", 300, false, false, false)}), post);
  EXPECT_EQ(tok.encode("hi"), (std::vector<int32_t>{300, 'h', 'i'}));
  EXPECT_EQ(tok.encode("hi", false), (std::vector<int32_t>{'h', 'i'}));
}

TEST(ByteLevel, EncodeDecodeSaveLoad) {
  Tokenizer tok = Tokenizer::byte_level();
  EXPECT_EQ(tok.vocab_size(), 256 + static_cast<int64_t>(kByteLevelSpecials.size()));
  std::string text = "h\xC3\xA9<think>x</think><|endoftext|>";
  std::vector<int32_t> expected = {'h', 0xC3, 0xA9, 259, 'x', 260, 256};
  EXPECT_EQ(tok.encode(text), expected);
  EXPECT_EQ(tok.decode(expected), text);
  EXPECT_EQ(tok.decode(expected, true), "h\xC3\xA9<think>x</think>");
  EXPECT_EQ(tok.eos_id(), 256);
  EXPECT_EQ(tok.pad_id(), tok.token_to_id("<|pad|>"));
  auto dir = std::filesystem::temp_directory_path() / ("zrl_tok_save_" + std::to_string(::getpid()));
  tok.save(dir.string());
  Tokenizer back = Tokenizer::from_dir(dir.string());
  zerorl::remove_tree(dir);
  EXPECT_EQ(back.encode(text), expected);
  EXPECT_EQ(back.eos_id(), 256);
}

TEST(Loader, UnsupportedModelAndDecoderAreNamed) {
  Json spec =
      Json::parse(R"({"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": {"type": "ByteLevel"}})");
  try {
    Tokenizer::from_json(spec.dump(), "", "x/tokenizer.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos) << e.what();
  }
}

class Hf : public ::testing::TestWithParam<std::string> {
 protected:
  // Loaded once per tokenizer for the whole suite (loading is the slow part).
  const Tokenizer& load() {
    static std::map<std::string, Tokenizer> loaded;
    auto it = loaded.find(GetParam());
    if (it == loaded.end())
      it = loaded.emplace(GetParam(), Tokenizer::from_dir(testing::data_dir() + "/tokenizers/" + GetParam()))
               .first;
    return it->second;
  }
};

TEST_P(Hf, SpecialIdsAndConfig) {
  const Tokenizer& tok = load();
  if (GetParam() == "qwen3") {
    EXPECT_EQ(tok.eos_id(), 151645);
    EXPECT_EQ(tok.pad_id(), 151643);
    EXPECT_EQ(tok.bos_id(), std::nullopt);
    EXPECT_EQ(tok.encode("<|im_start|>"), std::vector<int32_t>{151644});
    EXPECT_NE(tok.chat_template().find("im_start"), std::string::npos);
  } else if (GetParam() == "llama3") {
    EXPECT_EQ(tok.bos_id(), 128000);
    EXPECT_EQ(tok.eos_id(), 128001);
  } else {
    EXPECT_EQ(tok.bos_id(), 0);
    EXPECT_EQ(tok.eos_id(), 1);
    EXPECT_TRUE(tok.add_bos_token());
  }
}

TEST_P(Hf, InvalidUtf8DecodesToReplacementChar) {
  const Tokenizer& tok = load();
  std::vector<int32_t> ids = tok.encode("\xE4\xB8\xAD");  // 中
  std::vector<int32_t> partial;
  for (char b : std::string("\xE4\xB8"))
    partial.push_back(*tok.token_to_id(bytes_to_byte_level(std::string(1, b))));
  EXPECT_EQ(tok.decode(partial), "\xEF\xBF\xBD");
  EXPECT_EQ(tok.decode(ids), "\xE4\xB8\xAD");
  EXPECT_EQ(tok.encode("\xFF"), tok.encode("\xEF\xBF\xBD"));  // invalid input is repaired first
}

TEST_P(Hf, StreamDecoderConcatenationEqualsDecode) {
  const Tokenizer& tok = load();
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int32_t> ids;
    for (int k = 0; k < 40; ++k) {
      // Mostly single-byte tokens (ids of byte chars) so that characters straddle tokens.
      ids.push_back(trial % 2 ? static_cast<int32_t>(rng() % tok.vocab_size())
                              : *tok.token_to_id(bytes_to_byte_level(
                                    std::string(1, static_cast<char>(0x80 + rng() % 0x80)))));
    }
    StreamDecoder stream(tok);
    std::string joined;
    for (int32_t id : ids) {
      std::string piece = stream.step(id);
      EXPECT_EQ(utf8_valid_prefix(piece), piece.size());
      joined += piece;
    }
    joined += stream.finish();
    ASSERT_EQ(joined, tok.decode(ids));
    StreamDecoder skipping(tok, true);
    std::string skipped = skipping.step(ids);
    skipped += skipping.finish();
    ASSERT_EQ(skipped, tok.decode(ids, true));
  }
}

TEST_P(Hf, BatchEncodeEqualsSequential) {
  const Tokenizer& tok = load();
  std::vector<std::string> texts;
  for (const auto& row : read_jsonl(testing::data_dir() + "/tokenizers/corpus_public.jsonl.gz"))
    texts.push_back(row.at("text").get<std::string>());
  texts.resize(300);
  auto batch = tok.encode_batch(texts, 4);
  for (size_t i = 0; i < texts.size(); ++i) ASSERT_EQ(batch[i], tok.encode(texts[i])) << i;
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Hf, ::testing::Values("qwen3", "llama3", "deepseek_v3"));

}  // namespace
}  // namespace zerorl::tokenizer
