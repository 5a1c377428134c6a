// verifiers/format_reward.cpp: tag-format rewards, written as explicit scans that implement the
// reference regexes (no std::regex: its recursion overflows the stack on long completions).
// Not here: answer extraction or correctness.
#include "verifiers/format_reward.h"

#include <cctype>

#include "core/error.h"

namespace zerorl::verifiers {
namespace {

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}
bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
// Python re `$` under MULTILINE: at the end or before a newline.
bool at_line_end(const std::string& s, size_t pos) { return pos == s.size() || s[pos] == '\n'; }

// ^<think>(?!.*<think>)(.*?)</think>.*$  (DOTALL|MULTILINE)
double trl_think(const std::string& s) {
  if (!starts_with(s, "<think>")) return 0.0;
  if (s.find("<think>", 7) != std::string::npos) return 0.0;
  return s.find("</think>", 7) != std::string::npos ? 1.0 : 0.0;
}

// ^<think>\n.*?\n</think>\n<answer>\n(middle)\n</answer>$ where `middle` must contain ```lang…```
// when `lang` is non-empty. The earliest separator and fences leave the most room, so they decide.
double open_r1(const std::string& s, const std::string& lang) {
  if (!starts_with(s, "<think>\n")) return 0.0;
  const std::string sep = "\n</think>\n<answer>\n";
  size_t a = s.find(sep, 7);
  if (a == std::string::npos) return 0.0;
  size_t from = a + sep.size();
  if (!lang.empty()) {
    size_t open = s.find("```" + lang, from);
    if (open == std::string::npos) return 0.0;
    size_t close = s.find("```", open + 3 + lang.size());
    if (close == std::string::npos) return 0.0;
    from = close + 3;
  }
  // Any "\n</answer>" at or after `from` (the .*? may be empty) followed by a line end.
  const std::string end = "\n</answer>";
  for (size_t p = s.find(end, from); p != std::string::npos; p = s.find(end, p + 1))
    if (at_line_end(s, p + end.size())) return 1.0;
  return 0.0;
}

double tag_count(const std::string& s) {
  double r = 0.0;
  for (const char* t : {"<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>"})
    if (count(s, t) == 1) r += 0.25;
  return r;
}

bool open_then_close(const std::string& s, const std::string& tag) {
  size_t o = s.find("<" + tag + ">");
  return o != std::string::npos && s.find("</" + tag + ">", o) != std::string::npos;
}

double nemo(const std::string& s, const FormatOptions& o) {
  return (open_then_close(s, o.think_tag) ? 0.25 : 0.0) + (open_then_close(s, o.answer_tag) ? 0.75 : 0.0);
}

bool only_space(const std::string& s, size_t b, size_t e) {
  for (size_t i = b; i < e; ++i)
    if (!std::isspace(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// Exactly: ws <think> reasoning </think> ws <answer> answer </answer> ws, each tag once, answer non-empty.
double r1_zero(const std::string& s, const FormatOptions& o) {
  const std::string to = "<" + o.think_tag + ">", tc = "</" + o.think_tag + ">";
  const std::string ao = "<" + o.answer_tag + ">", ac = "</" + o.answer_tag + ">";
  if (count(s, to) != 1 || count(s, tc) != 1 || count(s, ao) != 1 || count(s, ac) != 1) return 0.0;
  size_t p_to = s.find(to), p_tc = s.find(tc), p_ao = s.find(ao), p_ac = s.find(ac);
  if (!(p_to < p_tc && p_tc < p_ao && p_ao < p_ac)) return 0.0;
  if (!only_space(s, 0, p_to) || !only_space(s, p_tc + tc.size(), p_ao) ||
      !only_space(s, p_ac + ac.size(), s.size()))
    return 0.0;
  if (only_space(s, p_ao + ao.size(), p_ac)) return 0.0;
  return 1.0;
}

}  // namespace

FormatOptions FormatOptions::from_json(const Json& j) {
  FormatOptions o;
  ZRL_CHECK(j.is_object(), "format verifier options must be a JSON object, got {}", j.dump());
  for (const auto& [key, value] : j.items()) {
    if (key == "rule")
      o.rule = value.get<std::string>();
    else if (key == "think_tag")
      o.think_tag = value.get<std::string>();
    else if (key == "answer_tag")
      o.answer_tag = value.get<std::string>();
    else if (key == "language")
      o.language = value.get<std::string>();
    else if (key == "think_opened_in_prompt")
      o.think_opened_in_prompt = value.get<bool>();
    else
      ZRL_FAIL("unknown format verifier option '{}' (see verifiers/format_reward.h)", key);
  }
  format_reward("", o);  // validates the rule name now, not at the first sample
  return o;
}

double format_reward(const std::string& completion, const FormatOptions& o) {
  const std::string s = o.think_opened_in_prompt ? "<" + o.think_tag + ">" + completion : completion;
  if (o.rule == "r1_zero") return r1_zero(s, o);
  if (o.rule == "trl_think") return trl_think(s);
  if (o.rule == "open_r1_format") return open_r1(s, "");
  if (o.rule == "open_r1_tag_count") return tag_count(s);
  if (o.rule == "open_r1_code") return open_r1(s, o.language);
  if (o.rule == "nemo_rl") return nemo(s, o);
  ZRL_FAIL(
      "unknown format rule '{}' (r1_zero, trl_think, open_r1_format, open_r1_tag_count, open_r1_code, "
      "nemo_rl)",
      o.rule);
}

FormatVerifier::FormatVerifier(FormatOptions options) : options_(std::move(options)) {
  format_reward("", options_);
}

Verdict FormatVerifier::verify(const Sample& sample) const {
  Verdict v;
  v.reward = format_reward(sample.response, options_);
  v.correct = v.reward >= 1.0;
  v.status = v.correct ? "ok" : "wrong";
  v.reason = "format rule " + options_.rule + ": reward " + std::to_string(v.reward);
  return v;
}

}  // namespace zerorl::verifiers
