// tests/tokenizer/test_loader_fuzz.cpp: tokenizer.json on bad input. A table of bad ids (negative, huge,
// not integers, one id for two strings, a gap far beyond the tokens present) that must fail naming the file
// and the token, and a seeded fuzz over mutated files (ids, types, deleted keys, truncation, flipped bytes)
// that must load or throw zerorl::Error: never crash, never allocate by a wild id. Also run by the ASan
// build. Not here: encode/decode fuzzing (test_fuzz.cpp), parity with HF (test_parity.cpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "tokenizer/tokenizer.h"

namespace zerorl::tokenizer {
namespace {

// The byte-level tokenizer (ids 0..255 bytes, 256..263 added) plus what real files have: three merges
// (merged tokens 264..266), an NFC normalizer, a Split regex before ByteLevel, a TemplateProcessing prefix.
Json make_base_spec() {
  const std::string dir = (std::filesystem::temp_directory_path() / "zrl_loader_fuzz_base").string();
  Tokenizer::byte_level().save(dir);
  Json spec = Json::parse(read_file(dir + "/tokenizer.json"));
  zerorl::remove_tree(dir);
  Json& model = spec["model"];
  model["vocab"]["\xC4\xA0t"] = 264;  // "Ġt"
  model["vocab"]["he"] = 265;
  model["vocab"]["\xC4\xA0the"] = 266;
  model["merges"] = {"\xC4\xA0 t", "h e", "\xC4\xA0t he"};
  spec["normalizer"] = {{"type", "NFC"}};
  spec["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\s+|\\p{L}+|\\p{N}"}}}, {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  spec["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<|im_start|>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens",
       {{"<|im_start|>", {{"id", "<|im_start|>"}, {"ids", {257}}, {"tokens", {"<|im_start|>"}}}}}}};
  return spec;
}
const Json& base_spec() {
  static const Json spec = make_base_spec();
  return spec;
}

Tokenizer load(const Json& spec) { return Tokenizer::from_json(spec.dump(), "", "bad/tokenizer.json"); }

std::string error_of(const Json& spec) {
  try {
    load(spec);
  } catch (const zerorl::Error& e) {
    return e.what();
  }
  return "<loaded>";
}

TEST(LoaderBadInput, BaseSpecLoads) {
  const Tokenizer tok = load(base_spec());
  EXPECT_EQ(tok.vocab_size(), 267);
  // By hand: the prefix <|im_start|> (257); the Split isolates "a", " ", "the"; bytes are their own ids
  // ('a' 97, ' ' as "Ġ" 32); "the" -> t h e -> merge "h e" -> t (116), he (265). "Ġ t" needs one word.
  const std::vector<int32_t> ids = tok.encode("a the");
  EXPECT_EQ(ids, (std::vector<int32_t>{257, 97, 32, 116, 265}));
  EXPECT_EQ(tok.decode(ids, true), "a the");
}

TEST(LoaderBadInput, BadIdsFailNamingFileAndToken) {
  const std::string the = "\xC4\xA0the";
  const struct {
    std::string what;
    std::function<void(Json&)> mutate;
    std::string token, expect;
  } cases[] = {
      {"vocab id -1", [&](Json& s) { s["model"]["vocab"][the] = -1; }, the, "ids must be in [0, 2^31)"},
      {"vocab id -5", [&](Json& s) { s["model"]["vocab"][the] = -5; }, the, "ids must be in [0, 2^31)"},
      {"vocab id 2e9", [&](Json& s) { s["model"]["vocab"][the] = 2000000000; }, the, "table of 2000000001"},
      {"vocab id 2^31", [&](Json& s) { s["model"]["vocab"][the] = 2147483648LL; }, the, "[0, 2^31)"},
      {"vocab id 2^64-1", [&](Json& s) { s["model"]["vocab"][the] = UINT64_MAX; }, the, "[0, 2^31)"},
      {"vocab id 3.5", [&](Json& s) { s["model"]["vocab"][the] = 3.5; }, the, "not an integer"},
      {"vocab id string", [&](Json& s) { s["model"]["vocab"][the] = "266"; }, the, "not an integer"},
      {"two vocab tokens, one id", [&](Json& s) { s["model"]["vocab"][the] = 265; }, "he",
       "one string per id"},
      {"added id of a vocab token", [](Json& s) { s["added_tokens"][0]["id"] = 65; }, "<|endoftext|>",
       "which 'A' already has"},
      {"added id -1", [](Json& s) { s["added_tokens"][1]["id"] = -1; }, "<|im_start|>", "[0, 2^31)"},
      {"added id 1e9", [](Json& s) { s["added_tokens"][2]["id"] = 1000000000; }, "<|im_end|>", "table of"},
      {"added id 5e9", [](Json& s) { s["added_tokens"][2]["id"] = 5000000000LL; }, "<|im_end|>", "[0, 2^31)"},
      {"post_processor id unknown",
       [](Json& s) { s["post_processor"]["special_tokens"]["<|im_start|>"]["ids"][0] = 99999; },
       "<|im_start|>", "no token of this file"},
      {"post_processor id -1",
       [](Json& s) { s["post_processor"]["special_tokens"]["<|im_start|>"]["ids"][0] = -1; }, "<|im_start|>",
       "[0, 2^31)"},
  };
  for (const auto& c : cases) {
    Json spec = base_spec();
    c.mutate(spec);
    const std::string msg = error_of(spec);
    EXPECT_NE(msg.find("bad/tokenizer.json"), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find("'" + c.token + "'"), std::string::npos) << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
  }
}

TEST(LoaderBadInput, RepeatedVocabEntryAndSmallGapsStillLoad) {
  Json spec = base_spec();
  // HF files list some tokens both in model.vocab and added_tokens with the same id (deepseek_v3 does).
  spec["added_tokens"].push_back({{"id", 265}, {"content", "he"}, {"special", false}});
  // Holes are legal: an added token far past the others, within the bound.
  spec["added_tokens"].push_back({{"id", 1000}, {"content", "<|far|>"}, {"special", true}});
  const Tokenizer tok = load(spec);
  EXPECT_EQ(tok.vocab_size(), 1001);
  EXPECT_EQ(tok.token_to_id("<|far|>"), 1000);
  EXPECT_FALSE(tok.id_to_token(999).has_value());
}

// A random JSON value of the kinds that break loaders: wild ids, wrong types, plausible strings.
Json wild_value(std::mt19937_64& rng) {
  switch (rng() % 16) {
    case 0:
      return -1;
    case 1:
      return -5;
    case 2:
      return 2000000000;
    case 3:
      return INT32_MAX;
    case 4:
      return 5000000000LL;
    case 5:
      return UINT64_MAX;
    case 6:
      return 3.5;
    case 7:
      return nullptr;
    case 8:
      return Json::array();
    case 9:
      return Json::object();
    case 10:
      return true;
    case 11:
      return static_cast<int64_t>(rng() % 300);
    case 12:
      return "\xC4\xA0t";
    case 13:
      return "(";
    case 14:
      return "ByteLevel";
    default:
      return static_cast<int64_t>(rng() % 80000);
  }
}

// Replaces, deletes or retypes one node reached by a random walk from the root.
void mutate_node(Json& spec, std::mt19937_64& rng) {
  Json* cur = &spec;
  for (int depth = 0; depth < 6 && (cur->is_object() || cur->is_array()) && !cur->empty(); ++depth) {
    const size_t k = rng() % cur->size();
    Json* child =
        cur->is_array() ? &(*cur)[k] : &std::next(cur->begin(), static_cast<std::ptrdiff_t>(k)).value();
    if (rng() % 4 == 0) {  // act here: delete the child
      if (cur->is_array()) {
        cur->erase(k);
      } else {
        cur->erase(std::next(cur->begin(), static_cast<std::ptrdiff_t>(k)).key());
      }
      return;
    }
    cur = child;
  }
  *cur = wild_value(rng);
}

// Sets one id (vocab, added token or post_processor) to a wild value, or to a copy of another id.
void mutate_id(Json& spec, std::mt19937_64& rng) {
  const Json v = rng() % 3 == 0 ? Json(static_cast<int64_t>(rng() % 267)) : wild_value(rng);
  switch (rng() % 3) {
    case 0: {
      Json& vocab = spec["model"]["vocab"];
      std::next(vocab.begin(), static_cast<std::ptrdiff_t>(rng() % vocab.size())).value() = v;
      break;
    }
    case 1:
      spec["added_tokens"][rng() % spec["added_tokens"].size()]["id"] = v;
      break;
    default:
      spec["post_processor"]["special_tokens"]["<|im_start|>"]["ids"][0] = v;
  }
}

// Loads `text`; a crash or any exception but zerorl::Error fails. A loaded tokenizer must be usable and its
// tables bounded by the tokens in the file (<= 267 + the few a mutation adds), not by a wild id.
void expect_safe(const std::string& text, const std::string& what) {
  try {
    const Tokenizer tok = Tokenizer::from_json(text, "", "fuzz");
    ASSERT_LE(tok.vocab_size(), 2 * 300 + (1 << 16)) << what;
    for (int32_t id : tok.encode("<|im_start|> the \xC3\xA9t\xC3\xA9 42")) {
      ASSERT_GE(id, 0) << what;
      ASSERT_LT(id, tok.vocab_size()) << what;
    }
    tok.decode({0, 5, 257, 266, -1, 1 << 30}, true);
  } catch (const zerorl::Error&) {
  } catch (const std::exception& e) {
    FAIL() << what << ": non-zerorl exception: " << e.what();
  }
}

TEST(LoaderBadInput, FuzzMutatedFilesNeverCrash) {
  std::mt19937_64 rng(20261204);
  const Json base = base_spec();
  const std::string good = base.dump(1);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    switch (iter % 4) {
      case 0: {  // a wild or duplicated id
        Json spec = base;
        for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) mutate_id(spec, rng);
        text = spec.dump();
        break;
      }
      case 1: {  // a node replaced, retyped or deleted anywhere
        Json spec = base;
        for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) mutate_node(spec, rng);
        text = spec.dump();
        break;
      }
      case 2:  // truncation
        text = good.substr(0, rng() % good.size());
        break;
      default: {  // flipped bytes
        text = good;
        for (int k = 1 + static_cast<int>(rng() % 8); k > 0; --k)
          text[rng() % text.size()] = static_cast<char>(rng());
      }
    }
    expect_safe(text, "fuzz iteration " + std::to_string(iter));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace zerorl::tokenizer
