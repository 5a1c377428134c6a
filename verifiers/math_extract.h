// verifiers/math_extract.h: finds the final answer in a model response (<answer> tags, last \boxed{},
// "The final answer is", GSM8K "####"), kept separate from equivalence. Not here: comparison.
#pragma once

#include <string>
#include <vector>

namespace zerorl::verifiers::math {

struct ExtractOptions {
  // Only text after the last reasoning delimiter counts; without one there is no answer (R1-Zero).
  bool require_think_close = false;
  std::vector<std::string> think_close_tags = {"</think>"};
  // Methods tried in this order: "answer_tag", "boxed", "phrase" (The (final) answer is ...),
  // "gsm8k" (#### n). Remove one to disable it.
  std::vector<std::string> priority = {"answer_tag", "boxed", "phrase", "gsm8k"};
  // Evaluation-only fallbacks: the last $...$ block, the whole text when it is short, the last number.
  // Off in training: a "last number in the text" reward pays for mentioning numbers.
  bool fallback = false;
  bool number_fallback = true;  // with `fallback`: may the last number of prose be the answer
  // Among the methods that found something, take the one whose answer sits last in the text
  // ("\boxed{255} ... The final answer is 10455"); off: the first method in `priority` wins.
  bool prefer_last = false;
};

struct Extraction {
  bool found = false;
  std::string answer;
  std::string method;  // "answer_tag", "boxed", "phrase", "gsm8k", "math_block", "whole", "last_number"
};

Extraction extract_answer(const std::string& response, const ExtractOptions& options);

// A "pred" that is already an answer: unwraps \boxed{} when present, else returns it as is.
std::string unwrap_pred(const std::string& pred);

// Content of the last \boxed{...} / \fbox{...} (nested braces); boxes separated only by short
// connecting text ("and", "\quad", ",") are joined with commas. Empty when none.
std::string last_boxed(const std::string& text);

}  // namespace zerorl::verifiers::math
