// core/strings.h: small string helpers used across layers: split/join/trim, edit distance for
// "did you mean" hints. Not here: Unicode work (tokenizer/ uses utf8proc).
#pragma once

#include <string>
#include <vector>

namespace zerorl {

std::vector<std::string> split(const std::string& s, char sep);
std::string join(const std::vector<std::string>& parts, const std::string& sep);
std::string trim(const std::string& s);
bool starts_with(const std::string& s, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);

// Levenshtein distance (insert, delete, substitute each cost 1).
size_t edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` if it is close enough to be a plausible typo, else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace zerorl
