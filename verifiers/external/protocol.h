// verifiers/external/protocol.h: the JSON shape of one request and one reply, shared by worker
// processes (JSON lines) and remote servers (batches), and the batch interface of user verifiers.
// Not here: transports (process_pool.h, remote.h). Protocol text: docs/verifiers.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verifiers/verifier.h"

namespace zerorl::verifiers::external {

// A verifier that is cheaper per sample when given many at once (processes, HTTP).
class BatchVerifier : public Verifier {
 public:
  // One verdict per sample, in order; never throws for a sample's failure.
  virtual std::vector<Verdict> verify_batch(const std::vector<Sample>& samples) const = 0;
  Verdict verify(const Sample& sample) const override { return verify_batch({sample}).front(); }
};

// verify_batch when `v` is a BatchVerifier, else verify() per sample.
std::vector<Verdict> verify_all(const Verifier& v, const std::vector<Sample>& samples);

// {"id", "prompt", "response", "gold", "extra"}.
Json request_json(int64_t id, const Sample& sample);

// Reply {"id", "reward", "correct"?, "status"?, "info"?, "extracted"?, "reason"?} -> Verdict.
// At least one of reward/correct: a missing reward is correct ? 1 : 0, a missing correct is reward >= 1.
// Returns false (and says why in `problem`) for anything else, including an id other than `id`.
bool parse_reply(const Json& reply, int64_t id, Verdict& out, std::string& problem);

// A Verdict for a sample the transport could not score: status "timeout" or "error", reward 0.
Verdict failed_verdict(const std::string& status, const std::string& reason);

}  // namespace zerorl::verifiers::external
