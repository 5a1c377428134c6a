// verifiers/verifier.h: the Verifier interface every answer checker implements (math, countdown, format,
// code, plugins) and the Verdict value it returns. Not here: registries, pools, or any particular checker.
#pragma once

#include <string>

#include "core/json_io.h"

namespace zerorl::verifiers {

// One thing to check. `gold` is the dataset's answer (may be empty for format-only checks);
// `extra` carries verifier-specific fields (countdown numbers/target, code tests, ...).
struct Sample {
  std::string prompt;
  std::string response;
  std::string gold;
  Json extra = Json::object();
};

// The result of one check. A bad or unparsable answer, a crash or a timeout is a Verdict, never an
// exception. `status` is a short machine-readable word: "ok" (correct), "wrong", "no_answer",
// "timeout", "error", or a verifier-specific one (code: "memory", "runtime_error", ...).
struct Verdict {
  bool correct = false;
  double reward = 0.0;  // in [0, 1] for built-ins; the reward layer weights it
  std::string status = "wrong";
  std::string extracted;       // the answer the verifier found in the response
  std::string reason;          // one human-readable line: why correct or not
  Json info = Json::object();  // verifier-specific details (passed/total, seconds, ...)
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual std::string name() const = 0;
  // Must not throw for any model output; thread-safe (called concurrently from a pool).
  virtual Verdict verify(const Sample& sample) const = 0;
};

}  // namespace zerorl::verifiers
