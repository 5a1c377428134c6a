// trainer/sample_filter.cpp: rejection-sampling filters, dedupe and selection (see sample_filter.h).
// Not here: generation, verification, files.
#include "trainer/sample_filter.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/seed.h"

namespace zerorl::trainer {
namespace {

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string first_failure(const Candidate& c, const SampleSection& o) {
  if (!c.correct) return "wrong";
  if (o.require_format && !c.format_ok) return "format";
  if (o.max_response_tokens > 0 && c.tokens > o.max_response_tokens) return "length";
  if (o.min_language > 0 && c.language < o.min_language) return "language";
  if (o.max_ngram_repeats > 0 && max_ngram_count(c.response, o.ngram) > o.max_ngram_repeats) return "ngram";
  return "";
}

}  // namespace

int64_t max_ngram_count(const std::string& text, int64_t n) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  if (n <= 0 || static_cast<int64_t>(words.size()) < n) return 0;
  std::map<std::vector<std::string>, int64_t> counts;
  int64_t best = 0;
  for (size_t i = 0; i + static_cast<size_t>(n) <= words.size(); ++i) {
    std::vector<std::string> gram(words.begin() + static_cast<std::ptrdiff_t>(i),
                                  words.begin() + static_cast<std::ptrdiff_t>(i + static_cast<size_t>(n)));
    best = std::max(best, ++counts[gram]);
  }
  return best;
}

std::vector<size_t> select_candidates(std::vector<Candidate>& candidates, const SampleSection& o,
                                      uint64_t seed) {
  std::set<std::string> seen;
  std::vector<size_t> kept;
  for (size_t i = 0; i < candidates.size(); ++i) {
    Candidate& c = candidates[i];
    c.reject = first_failure(c, o);
    if (c.reject.empty() && !seen.insert(trimmed(c.response)).second) c.reject = "duplicate";
    if (c.reject.empty()) kept.push_back(i);
  }
  std::vector<size_t> chosen = kept;
  if (o.select == "shortest" && !kept.empty()) {
    chosen = {*std::min_element(kept.begin(), kept.end(), [&](size_t a, size_t b) {
      return candidates[a].tokens < candidates[b].tokens;
    })};
  } else if (o.select == "random" && static_cast<int64_t>(kept.size()) > o.per_prompt) {
    std::mt19937_64 rng(mix_seed({seed, 0x73656c656374ULL}));  // "select"
    std::vector<size_t> pool = kept;
    for (size_t i = 0; i < static_cast<size_t>(o.per_prompt); ++i) {  // partial Fisher-Yates
      std::uniform_int_distribution<size_t> pick(i, pool.size() - 1);
      std::swap(pool[i], pool[pick(rng)]);
    }
    chosen.assign(pool.begin(), pool.begin() + o.per_prompt);
    std::sort(chosen.begin(), chosen.end());
  }
  for (size_t i : kept)
    if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) candidates[i].reject = "unselected";
  return chosen;
}

}  // namespace zerorl::trainer
