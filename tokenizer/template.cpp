// tokenizer/template.cpp: the built-in prompt templates and {prompt} substitution.
// Not here: tokenization of the result (Tokenizer::encode).
#include "tokenizer/template.h"

#include "core/error.h"

namespace zerorl::tokenizer {

const char* const kR1ZeroTemplate =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
    "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
    "</answer>. User: {prompt}. Assistant:";

const char* const kChatMlTemplate = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n";

std::vector<std::string> template_names() { return {"r1_zero", "chatml", "plain"}; }

std::string apply_template(const std::string& name_or_template, const std::string& prompt) {
  std::string tmpl;
  if (name_or_template == "r1_zero" || name_or_template == "r1-zero") {
    tmpl = kR1ZeroTemplate;
  } else if (name_or_template == "chatml") {
    tmpl = kChatMlTemplate;
  } else if (name_or_template == "plain") {
    return prompt;
  } else {
    ZRL_CHECK(
        name_or_template.find("{prompt}") != std::string::npos,
        "prompt template '{}' is neither a built-in (r1_zero, chatml, plain) nor a string with {{prompt}}",
        name_or_template);
    tmpl = name_or_template;
  }
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = tmpl.find("{prompt}", pos)) != std::string::npos; pos = hit + 8) {
    out.append(tmpl, pos, hit - pos);
    out += prompt;
  }
  out.append(tmpl, pos, std::string::npos);
  return out;
}

}  // namespace zerorl::tokenizer
