// verifiers/pool.h: runs verifications on a thread pool with a hard per-item deadline enforced without
// signals: a late item gets a "timeout" Verdict, its worker is written off and replaced, the pool keeps
// serving. Not here: which verifier a row uses (registry.h).
#pragma once

#include <memory>
#include <vector>

#include "verifiers/verifier.h"

namespace zerorl::verifiers {

struct PoolShared;  // state shared with (possibly stuck) worker threads

class VerifierPool {
 public:
  // threads >= 1. deadline_s: per item, from the moment a worker starts it. At most
  // threads + max_spare_threads threads exist while some are stuck past their deadline.
  explicit VerifierPool(int threads, double deadline_s = 2.0, int max_spare_threads = 32);
  ~VerifierPool();
  VerifierPool(const VerifierPool&) = delete;
  VerifierPool& operator=(const VerifierPool&) = delete;

  // One verdict per sample, in order. `verifiers` has one entry (used for all) or one per sample.
  // Never throws for a verifier's failure (status "error") or lateness (status "timeout").
  std::vector<Verdict> run(const std::vector<std::shared_ptr<const Verifier>>& verifiers,
                           const std::vector<Sample>& samples);

  int live_threads() const;  // workers alive now, stuck ones included
  double deadline_s() const { return deadline_s_; }

 private:
  std::shared_ptr<PoolShared> shared_;
  double deadline_s_;
};

}  // namespace zerorl::verifiers
