// tokenizer/template.h: prompt templates: built-in names ("r1_zero", "chatml", "plain") and user template
// strings with {prompt}. Not here: Jinja chat templates from tokenizer_config.json (not rendered).
#pragma once

#include <string>
#include <vector>

namespace zerorl::tokenizer {

// The R1-Zero prompt of the DeepSeek-R1 paper (Table 1), with {prompt} where the question goes.
extern const char* const kR1ZeroTemplate;
// ChatML as the Qwen instruct models use it: one user turn, then the assistant's turn is opened.
extern const char* const kChatMlTemplate;

// Names accepted by apply_template besides literal templates.
std::vector<std::string> template_names();

// `name_or_template` is a built-in name (r1_zero, chatml, plain) or a template string containing
// "{prompt}" (every occurrence is replaced). Anything else throws naming the value and the built-ins.
std::string apply_template(const std::string& name_or_template, const std::string& prompt);

}  // namespace zerorl::tokenizer
