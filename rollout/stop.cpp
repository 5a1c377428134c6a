// rollout/stop.cpp: the stop rules of one sequence. Not here: batching (the engine owns one checker per
// live slot).
#include "rollout/stop.h"

#include <algorithm>

#include "core/error.h"

namespace zerorl::rollout {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    default:
      return "none";
  }
}

StopChecker::StopChecker(const StopRules* rules, std::unique_ptr<TextStream> stream)
    : rules_(rules), stream_(std::move(stream)) {
  ZRL_CHECK(rules_ != nullptr, "StopChecker: rules must not be null");
  ZRL_CHECK(rules_->max_new_tokens > 0, "max_new_tokens must be > 0, got {}", rules_->max_new_tokens);
  for (const auto& s : rules_->stop) {
    ZRL_CHECK(!s.empty(), "stop strings must not be empty");
    max_stop_len_ = std::max(max_stop_len_, s.size());
  }
  ZRL_CHECK(rules_->stop.empty() || stream_ != nullptr,
            "stop strings {} need a tokenizer to detokenize the generated text", rules_->stop.size());
}

FinishReason StopChecker::feed(int64_t token) {
  ++generated_;
  if (!rules_->ignore_eos &&
      std::find(rules_->eos_ids.begin(), rules_->eos_ids.end(), token) != rules_->eos_ids.end()) {
    return FinishReason::kEos;
  }
  if (stream_ != nullptr) {
    text_ += stream_->push(token);
    // A match must end in the new text, so it starts at most max_stop_len - 1 bytes before it.
    const size_t from = scanned_ >= max_stop_len_ ? scanned_ - (max_stop_len_ - 1) : 0;
    size_t best = std::string::npos, best_end = 0;
    for (const auto& s : rules_->stop) {
      const size_t at = text_.find(s, from);
      if (at != std::string::npos && at < best) best = at, best_end = at + s.size();
    }
    scanned_ = text_.size();
    if (best != std::string::npos) {
      text_.resize(best_end);
      stopped_ = true;
      return FinishReason::kStop;
    }
  }
  if (generated_ >= rules_->max_new_tokens) return FinishReason::kLength;
  return FinishReason::kNone;
}

std::string StopChecker::final_text() {
  if (stream_ != nullptr && !stopped_) text_ += stream_->finish();
  return text_;
}

}  // namespace zerorl::rollout
