// verifiers/external/remote.h: a verifier backed by an HTTP reward service: batches of requests POSTed as
// JSON (Boost.Beast), a bounded number in flight, retries with exponential backoff. Not here: the JSON
// shapes of one request/reply (protocol.h); TLS (plain http only).
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "verifiers/external/protocol.h"

namespace zerorl::verifiers::external {

struct RemoteOptions {
  std::string name;
  std::string url;          // http://host[:port][/path]
  double timeout_s = 30.0;  // per HTTP request: connect + send + receive
  int max_in_flight = 4;    // across all concurrent calls of this verifier
  int batch_size = 64;      // samples per POST
  int retries = 3;          // extra attempts after a connection error, timeout, 429/5xx or unreadable body
  double backoff_s = 0.5;   // wait before retry k (k = 0, 1, ...): backoff_s * 2^k
};

struct HttpUrl {
  std::string host, port, target;
};
// Throws naming the URL when it is not http://host[:port][/path].
HttpUrl parse_http_url(const std::string& url);

// POST body {"requests": [request, ...]} (protocol.h's request_json); the service answers 200 with
// {"results": [reply, ...]} (or a bare list), one reply per request, matched by "id" in any order.
// After the retries are spent, the chunk's samples get status "timeout" (last failure a timeout) or
// "error"; a 4xx other than 429 is not retried. A reply missing or malformed for one id is an "error"
// verdict for that sample only.
class RemoteVerifier : public BatchVerifier {
 public:
  explicit RemoteVerifier(RemoteOptions options);  // checks the options and the URL; connects lazily
  std::string name() const override { return opt_.name; }
  std::vector<Verdict> verify_batch(const std::vector<Sample>& samples) const override;

 private:
  void run_chunk(const std::vector<Sample>& samples, size_t begin, size_t end,
                 std::vector<Verdict>& out) const;
  RemoteOptions opt_;
  HttpUrl url_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  mutable int in_flight_ = 0;
};

}  // namespace zerorl::verifiers::external
