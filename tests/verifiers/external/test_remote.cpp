// tests/verifiers/external/test_remote.cpp: RemoteVerifier against a python3 http.server the test starts
// on 127.0.0.1 (port picked by the OS): results matched by id, batching, max_in_flight, retries with
// backoff, timeouts, 4xx, bad bodies. Not here: worker processes.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "tests/verifiers/external/test_helpers.h"
#include "verifiers/external/remote.h"

namespace zerorl::verifiers::external {
namespace {
using zerorl::testing::kPython;

// Paths: /score (answers in reverse order), /slow (0.2 s each), /flaky (503 for the first 2 requests),
// /hang (10 s), /bad (200 with a non-JSON body), /partial (no result for odd ids), /refuse (400).
// Counts per path and the peak of concurrent requests are written to argv[1] as each request arrives.
const char* kServer = R"PY(
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
stats_path = sys.argv[1]
lock = threading.Lock()
counts, state = {}, {"now": 0, "peak": 0}
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
            n = counts[self.path]
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            with open(stats_path + ".tmp", "w") as f: json.dump({"counts": counts, "peak": state["peak"]}, f)
            os.replace(stats_path + ".tmp", stats_path)
        code, text = self.answer(body, n)
        with lock:
            state["now"] -= 1  # before replying: the client may send its next request right after
        self.send(code, text)
    def answer(self, body, n):
        if self.path == "/slow": time.sleep(0.2)
        if self.path == "/hang": time.sleep(10)
        if self.path == "/flaky" and n <= 2: return 503, "busy"
        if self.path == "/refuse": return 400, "bad request"
        if self.path == "/bad": return 200, "not json"
        res = []
        for r in body["requests"]:
            if self.path == "/partial" and r["id"] % 2: continue
            ok = r["response"] == r["gold"]
            res.append({"id": r["id"], "reward": 1.0 if ok else 0.0, "correct": ok, "info": {"n": len(body["requests"])}})
        return 200, json.dumps({"results": res[::-1]})
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
)PY";

struct Remote : ::testing::Test {
  zerorl::testing::TempDir dir;
  std::string stats_path = dir.path() + "/stats.json";
  zerorl::testing::ChildProcess server{{kPython, dir.write("server.py", kServer), stats_path}};
  std::string port = server.read_line();

  RemoteOptions options(const std::string& path) {
    RemoteOptions o;
    o.name = "rm";
    o.url = "http://127.0.0.1:" + port + path;
    o.timeout_s = 5;
    o.backoff_s = 0.05;
    return o;
  }
  static std::vector<Sample> samples(int n) {
    std::vector<Sample> out(n);
    for (int i = 0; i < n; ++i) {
      out[i].gold = std::to_string(i);
      out[i].response = i % 3 ? std::to_string(i) : "no";
    }
    return out;
  }
  Json stats() { return Json::parse(std::ifstream(stats_path)); }
};

TEST_F(Remote, ScoresInOrderOverBatchesWithBoundedConcurrency) {
  ASSERT_FALSE(port.empty());
  auto o = options("/slow");
  o.batch_size = 5;
  o.max_in_flight = 2;
  RemoteVerifier v(o);
  const auto out = v.verify_batch(samples(37));
  ASSERT_EQ(out.size(), 37u);
  for (int i = 0; i < 37; ++i) {
    EXPECT_EQ(out[i].correct, i % 3 != 0) << i << " " << out[i].reason;
    EXPECT_EQ(out[i].reward, i % 3 ? 1.0 : 0.0);
    EXPECT_EQ(out[i].info.at("n"), i < 35 ? 5 : 2);  // 7 full batches of 5, then 2
  }
  EXPECT_EQ(stats()["counts"]["/slow"], 8);
  EXPECT_EQ(stats()["peak"], 2);
}

TEST_F(Remote, RetriesWithBackoffThenSucceeds) {
  auto o = options("/flaky");
  o.retries = 3;
  RemoteVerifier v(o);
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = v.verify_batch(samples(4));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i].correct, i % 3 != 0) << out[i].reason;
  EXPECT_EQ(stats()["counts"]["/flaky"], 3);
  EXPECT_GE(secs, 0.05 + 0.1);  // backoff 0.05 then 0.1
}

TEST_F(Remote, FailuresBecomeVerdicts) {
  auto o = options("/hang");
  o.timeout_s = 0.3;
  o.retries = 1;
  const auto t0 = std::chrono::steady_clock::now();
  auto out = RemoteVerifier(o).verify_batch(samples(3));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& x : out) EXPECT_EQ(x.status, "timeout") << x.reason;
  EXPECT_LT(secs, 2.0);

  o = options("/refuse");
  out = RemoteVerifier(o).verify_batch(samples(2));
  EXPECT_EQ(out[0].status, "error");
  EXPECT_NE(out[0].reason.find("HTTP 400"), std::string::npos) << out[0].reason;
  EXPECT_EQ(stats()["counts"]["/refuse"], 1);  // a 4xx is not retried

  o = options("/bad");
  o.retries = 2;
  out = RemoteVerifier(o).verify_batch(samples(2));
  EXPECT_NE(out[1].reason.find("not JSON"), std::string::npos) << out[1].reason;
  EXPECT_EQ(stats()["counts"]["/bad"], 3);

  out = RemoteVerifier(options("/partial")).verify_batch(samples(6));
  for (int i = 0; i < 6; ++i) {
    if (i % 2) {
      EXPECT_EQ(out[i].status, "error");
      EXPECT_NE(out[i].reason.find("no result for id"), std::string::npos);
    } else {
      EXPECT_EQ(out[i].correct, i % 3 != 0);
    }
  }

  o = options("/score");
  o.url = "http://127.0.0.1:1/score";  // nothing listens on port 1
  o.retries = 0;
  out = RemoteVerifier(o).verify_batch(samples(1));
  EXPECT_EQ(out[0].status, "error");
  EXPECT_NE(out[0].reason.find("connect"), std::string::npos) << out[0].reason;
}

TEST(RemoteUrl, BadUrlsAreRefused) {
  EXPECT_THROW(parse_http_url("https://x/y"), std::exception);
  EXPECT_THROW(parse_http_url("ftp://x"), std::exception);
  EXPECT_THROW(parse_http_url("http://:80/"), std::exception);
  EXPECT_THROW(parse_http_url("http://h:8x/"), std::exception);
  const HttpUrl u = parse_http_url("http://example.org:8000/score/v1");
  EXPECT_EQ(u.host, "example.org");
  EXPECT_EQ(u.port, "8000");
  EXPECT_EQ(u.target, "/score/v1");
  EXPECT_EQ(parse_http_url("http://h").target, "/");
}

}  // namespace
}  // namespace zerorl::verifiers::external
