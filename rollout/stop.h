// rollout/stop.h: when a generated sequence ends: EOS ids, stop strings on streamed text, max new
// tokens. Not here: detokenization itself (the tokenizer's streaming decoder, behind TextStream).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zerorl::rollout {

enum class FinishReason { kNone, kEos, kStop, kLength };
const char* finish_reason_name(FinishReason reason);  // "none" | "eos" | "stop" | "length"

// Incremental detokenizer: push(id) returns the text that became final with this token (possibly
// empty while a multi-byte UTF-8 character is incomplete).
class TextStream {
 public:
  virtual ~TextStream() = default;
  virtual std::string push(int64_t id) = 0;
  // Text still held back at the end of the sequence (an unfinished character becomes U+FFFD).
  virtual std::string finish() { return {}; }
};
using TextStreamFactory = std::function<std::unique_ptr<TextStream>()>;

struct StopRules {
  std::vector<int64_t> eos_ids;   // any of these ends the sequence (the token is kept)
  std::vector<std::string> stop;  // any of these in the generated text ends the sequence
  int64_t max_new_tokens = 256;
  bool ignore_eos = false;  // benchmarks: always generate max_new_tokens
};

// One per sequence. feed() takes each new token (and, when stop strings are set, its streamed text)
// and says whether the sequence is finished. Stop strings match across token boundaries; the text
// scanned is the generated text only, never the prompt.
class StopChecker {
 public:
  explicit StopChecker(const StopRules* rules, std::unique_ptr<TextStream> stream = nullptr);
  FinishReason feed(int64_t token);
  int64_t generated() const { return generated_; }
  // The generated text up to and including the first stop string (when one matched).
  const std::string& text() const { return text_; }
  // text() plus whatever the stream still held; call once, when the sequence has finished.
  std::string final_text();

 private:
  const StopRules* rules_;
  std::unique_ptr<TextStream> stream_;
  std::string text_;
  size_t scanned_ = 0;  // text_ before this offset cannot start a new match
  int64_t generated_ = 0;
  bool stopped_ = false;
  size_t max_stop_len_ = 0;
};

}  // namespace zerorl::rollout
