// verifiers/external/process_pool.h: a verifier backed by persistent worker processes in any language,
// speaking JSON lines on stdin/stdout, one request at a time per worker (docs/verifiers.md). Not here:
// the JSON shapes (protocol.h), plugins (plugin.h), HTTP services (remote.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "verifiers/external/protocol.h"

namespace zerorl::verifiers::external {

struct ExternalOptions {
  std::string name;                  // for messages and Verifier::name()
  std::vector<std::string> command;  // argv of one worker; argv[0] is looked up in PATH
  int workers = 4;
  double timeout_s = 10.0;             // per request, from the moment it is written to a worker
  int max_restarts = 100;              // replacements over the pool's life, all workers together
  size_t max_reply_bytes = 16u << 20;  // a longer reply line is malformed
};

struct ExternalStats {
  int64_t served = 0;     // replies parsed
  int64_t timeouts = 0;   // requests past the deadline
  int64_t malformed = 0;  // unparsable or mismatched replies
  int64_t crashes = 0;    // workers found dead (EOF, broken pipe)
  int64_t restarts = 0;   // replacements counted against max_restarts
  int64_t recycled = 0;   // workers that exited cleanly (code 0) between requests, replaced for free
  int live_workers = 0;
};

struct ProcessPool;  // the Asio side, run by one thread of its own

// Every sample gets a verdict, in order: a reply ("ok"/"wrong" or the worker's own status), "timeout"
// (worker killed and replaced), or "error" (malformed reply, worker crashed twice on it, or no worker
// left once max_restarts is spent). A worker found dead before replying is replaced and the request
// retried once on another worker; an idle worker that exits is reaped and replaced at once. Workers run in
// process groups of their own; the pool kills a replaced worker's group with SIGKILL and reaps it (no
// zombies). Thread-safe.
class ExternalVerifier : public BatchVerifier {
 public:
  // Starts the workers. Throws when the command is empty or cannot be started (names it and errno).
  explicit ExternalVerifier(ExternalOptions options);
  ~ExternalVerifier() override;  // closes stdin of each worker, waits briefly, kills what is left, reaps

  std::string name() const override;
  std::vector<Verdict> verify_batch(const std::vector<Sample>& samples) const override;

  ExternalStats stats() const;
  std::vector<pid_t> worker_pids() const;  // live workers now

 private:
  std::unique_ptr<ProcessPool> pool_;
};

}  // namespace zerorl::verifiers::external
