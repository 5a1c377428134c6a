// tokenizer/pretokenizer.cpp: PCRE2 wrapper, normalizers, Split behaviors and ByteLevel splitting with
// Hugging Face's semantics (empty pieces dropped; each step runs on every piece of the previous one).
// Not here: added-token extraction (added_tokens.cpp), BPE.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <algorithm>

#include "core/error.h"

namespace zerorl::tokenizer {
namespace {

// The GPT-2 pattern that ByteLevel applies when use_regex is true.
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Per-thread PCRE2 match data and JIT stack, created on first use in each thread.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchScratch() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchScratch() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

// Hugging Face runs these patterns with Oniguruma, whose \s is Unicode White_Space. PCRE2's \s (UCP) also
// matches U+180E, so \s (and \S outside classes) are spelled out as White_Space. Patterns with constructs
// this rewrite does not follow (\Q...\E, POSIX classes, \S inside a class) are left as they are.
std::string with_onig_whitespace(const std::string& p) {
  const std::string ranges =
      R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char next = p[i + 1];
      if (next == 'Q' || (next == 'S' && in_class)) return p;
      if (next == 's') {
        out += in_class ? ranges : "[" + ranges + "]";
      } else if (next == 'S') {
        out += "[^" + ranges + "]";
      } else {
        out.append(p, i, 2);
      }
      i += 2;
    } else if (!in_class && c == '[') {
      in_class = true;
      out += p[i++];
      if (i < p.size() && p[i] == '^') out += p[i++];
      if (i < p.size() && p[i] == ']') out += p[i++];  // a leading ']' is literal
    } else if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      return p;
    } else {
      if (in_class && c == ']') in_class = false;
      out += p[i++];
    }
  }
  return out;
}

SplitBehavior parse_behavior(const std::string& name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  ZRL_FAIL("tokenizer.json: pre_tokenizer Split behavior '{}' is not supported", name);
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  uint32_t options = PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  const std::string source = literal ? pattern : with_onig_whitespace(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), options,
                                   &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    ZRL_FAIL("tokenizer.json: regex '{}' does not compile at offset {}: {}", pattern, offset,
             reinterpret_cast<char*>(message));
  }
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;  // else the interpreter runs it
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  thread_local MatchScratch scratch;
  auto* code = static_cast<pcre2_code*>(code_);
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos <= s.size()) {
    int rc =
        jit_ ? pcre2_jit_match(code, subject, s.size(), pos, 0, scratch.data, scratch.context)
             : pcre2_match(code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, scratch.data, scratch.context);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    ZRL_CHECK(rc >= 0, "PCRE2 match of '{}' failed with code {}", pattern_, rc);
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch.data);
    out.emplace_back(ov[0], ov[1]);
    if (ov[1] > ov[0]) {
      pos = ov[1];
    } else {  // empty match: step one character forward
      if (pos == s.size()) return;
      pos = ov[1] + 1;
      while (pos < s.size() && (static_cast<uint8_t>(s[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
}

Normalizer::Normalizer(const Json& spec) {
  if (spec.is_null()) return;
  std::string type = spec.value("type", "");
  if (type == "Sequence") {
    for (const auto& sub : spec.at("normalizers")) {
      Normalizer inner(sub);
      forms_.insert(forms_.end(), inner.forms_.begin(), inner.forms_.end());
    }
  } else if (type == "NFC") {
    forms_.push_back(NormalForm::kNfc);
  } else if (type == "NFD") {
    forms_.push_back(NormalForm::kNfd);
  } else if (type == "NFKC") {
    forms_.push_back(NormalForm::kNfkc);
  } else if (type == "NFKD") {
    forms_.push_back(NormalForm::kNfkd);
  } else {
    ZRL_FAIL(
        "tokenizer.json: normalizer type '{}' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)",
        type);
  }
}

std::string Normalizer::apply(std::string_view s) const {
  std::string out(s);
  for (NormalForm form : forms_) out = normalize(out, form);
  return out;
}

PreTokenizer::PreTokenizer(const Json& spec) {
  if (!spec.is_null()) add(spec);
}

void PreTokenizer::add(const Json& spec) {
  std::string type = spec.value("type", "");
  ZRL_CHECK(!has_byte_level_, "tokenizer.json: pre_tokenizer '{}' after ByteLevel is not supported", type);
  if (type == "Sequence") {
    for (const auto& sub : spec.at("pretokenizers")) add(sub);
  } else if (type == "Split") {
    const Json& pattern = spec.at("pattern");
    bool literal = pattern.contains("String");
    std::string text =
        literal ? pattern.at("String").get<std::string>() : pattern.at("Regex").get<std::string>();
    std::shared_ptr<FastSplitter> fast;
    if (!literal) fast = FastSplitter::for_pattern(text);
    steps_.push_back({std::make_shared<Regex>(text, literal), fast, parse_behavior(spec.at("behavior")),
                      spec.value("invert", false)});
  } else if (type == "ByteLevel") {
    has_byte_level_ = true;
    prefix_space_ = spec.value("add_prefix_space", false);
    if (spec.value("use_regex", true)) byte_level_regex_ = std::make_shared<Regex>(kGpt2Pattern, false);
  } else {
    ZRL_FAIL(
        "tokenizer.json: pre_tokenizer type '{}' is not supported (supported: Sequence, Split, ByteLevel)",
        type);
  }
}

// One Split step over every span (HF: regex matches and the gaps between them become pieces, tagged
// match or not (flipped by invert), combined by the behavior; empty pieces are dropped).
void PreTokenizer::apply_step(const Step& step, const std::string& text, std::vector<Span>& spans) const {
  std::vector<Span> result;
  std::vector<std::pair<size_t, size_t>> found;
  std::vector<std::pair<Span, bool>> pieces;
  std::vector<Span> merged;
  for (const Span& span : spans) {
    std::string_view view(text.data() + span.begin, span.end - span.begin);
    found.clear();
    if (step.fast) {
      step.fast->find_all(view, found);
    } else {
      step.regex->find_all(view, found);
    }
    if (step.behavior == SplitBehavior::kIsolated) {  // the common case: every piece stays
      size_t prev = 0;
      for (auto [start, end] : found) {
        if (prev != start) result.push_back({span.begin + prev, span.begin + start});
        if (end != start) result.push_back({span.begin + start, span.begin + end});
        prev = end;
      }
      if (prev != view.size()) result.push_back({span.begin + prev, span.end});
      continue;
    }
    pieces.clear();
    size_t prev = 0;
    for (auto [start, end] : found) {
      if (prev != start) pieces.push_back({{span.begin + prev, span.begin + start}, step.invert});
      pieces.push_back({{span.begin + start, span.begin + end}, !step.invert});
      prev = end;
    }
    if (prev != view.size()) pieces.push_back({{span.begin + prev, span.end}, step.invert});
    merged.clear();
    bool previous_match = false;
    auto fold = [&](const Span& s, bool is_match, bool extend) {
      if (extend && !merged.empty()) {
        merged.back().end = s.end;
      } else {
        merged.push_back(s);
      }
      previous_match = is_match;
    };
    switch (step.behavior) {
      case SplitBehavior::kIsolated:  // handled above
      case SplitBehavior::kRemoved:
        for (auto& [s, m] : pieces)
          if (!m) merged.push_back(s);
        break;
      case SplitBehavior::kMergedWithPrevious:
        for (auto& [s, m] : pieces) fold(s, m, m && !previous_match);
        break;
      case SplitBehavior::kContiguous:
        for (auto& [s, m] : pieces) fold(s, m, m == previous_match);
        break;
      case SplitBehavior::kMergedWithNext:
        for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
          if (it->second && !previous_match && !merged.empty()) {
            merged.back().begin = it->first.begin;
          } else {
            merged.push_back(it->first);
          }
          previous_match = it->second;
        }
        std::reverse(merged.begin(), merged.end());
        break;
    }
    for (const Span& s : merged)
      if (s.end > s.begin) result.push_back(s);
  }
  spans.swap(result);
}

// ByteLevel add_prefix_space: every piece that does not start with ' ' gets one prepended.
void PreTokenizer::add_prefix_spaces(std::string& text, std::vector<Span>& spans) const {
  std::string rebuilt;
  rebuilt.reserve(text.size() + spans.size());
  for (Span& span : spans) {
    size_t begin = rebuilt.size();
    if (text[span.begin] != ' ') rebuilt.push_back(' ');
    rebuilt.append(text, span.begin, span.end - span.begin);
    span = {begin, rebuilt.size()};
  }
  text.swap(rebuilt);
}

void PreTokenizer::split(std::string& text, std::vector<Span>& spans) const {
  spans.clear();
  if (text.empty()) return;
  spans.push_back({0, text.size()});
  for (const Step& step : steps_) apply_step(step, text, spans);
  if (prefix_space_) add_prefix_spaces(text, spans);
  if (byte_level_regex_)
    apply_step({byte_level_regex_, nullptr, SplitBehavior::kIsolated, false}, text, spans);
}

}  // namespace zerorl::tokenizer
