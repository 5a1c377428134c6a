// verifiers/external/remote.cpp: HTTP POST of JSON batches with Boost.Beast, deadlines, retries with
// backoff. Not here: the per-sample JSON shapes (protocol.cpp).
#include "verifiers/external/remote.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"

namespace zerorl::verifiers::external {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

HttpUrl parse_http_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind("https://", 0) == 0) {
    ZRL_FAIL(
        "remote verifier url '{}': https is not supported; use a plain http endpoint (e.g. a local "
        "proxy)",
        url);
  }
  ZRL_CHECK(url.rfind(scheme, 0) == 0, "remote verifier url '{}': expected http://host[:port][/path]", url);
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  HttpUrl u;
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  const size_t colon = authority.rfind(':');
  u.host = authority.substr(0, colon);
  u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  ZRL_CHECK(!u.host.empty(), "remote verifier url '{}': no host", url);
  ZRL_CHECK(!u.port.empty() && u.port.find_first_not_of("0123456789") == std::string::npos,
            "remote verifier url '{}': port '{}' is not a number", url, u.port);
  return u;
}

namespace {
struct HttpResult {
  bool done = false;  // a response arrived
  bool timed_out = false;
  int status = 0;
  std::string body;
  std::string error;
};

// One POST, everything (resolve, connect, write, read) within timeout_s.
HttpResult http_post(const HttpUrl& u, const std::string& body, double timeout_s) {
  HttpResult res;
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::string_body> req{http::verb::post, u.target, 11};
  req.set(http::field::host, u.host + ":" + u.port);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "zerorl");
  req.body() = body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  auto fail = [&](const char* what, beast::error_code ec) {
    res.error = std::string(what) + ": " + ec.message();
  };
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, tcp::resolver::results_type eps) {
    if (ec) return fail("resolve", ec);
    stream.async_connect(eps, [&](beast::error_code ec2, const tcp::endpoint&) {
      if (ec2) return fail("connect", ec2);
      http::async_write(stream, req, [&](beast::error_code ec3, size_t) {
        if (ec3) return fail("send", ec3);
        http::async_read(stream, buffer, parser, [&](beast::error_code ec4, size_t) {
          if (ec4) return fail("receive", ec4);
          res.done = true;
          res.status = static_cast<int>(parser.get().result_int());
          res.body = parser.get().body();
        });
      });
    });
  });
  io.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(timeout_s)));
  if (!res.done && res.error.empty()) {
    res.timed_out = true;
    res.error = fmt::format("no response within {} s", timeout_s);
  }
  beast::error_code ignored;
  stream.socket().close(ignored);
  return res;
}

// Parses a 200 body into verdicts for ids [first_id, first_id + n). False when the body as a whole is
// unusable (retried); a bad or missing entry only fails its own sample.
bool parse_results(const std::string& body, int64_t first_id, size_t n, std::vector<Verdict>& out,
                   std::string& problem) {
  Json j = parse_json_or_discarded(body);
  if (j.is_discarded()) return problem = "response body is not JSON: " + body.substr(0, 200), false;
  if (j.is_object() && j.contains("results")) j = j["results"];
  if (!j.is_array()) return problem = "response has no 'results' list", false;
  std::vector<bool> seen(n, false);
  for (const auto& item : j) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_number_integer()) continue;
    const int64_t k = item["id"].get<int64_t>() - first_id;
    if (k < 0 || k >= static_cast<int64_t>(n) || seen[k]) continue;
    std::string why;
    Verdict v;
    if (parse_reply(item, first_id + k, v, why)) {
      out[k] = std::move(v);
    } else {
      out[k] = failed_verdict("error", "malformed result: " + why);
    }
    seen[k] = true;
  }
  for (size_t k = 0; k < n; ++k)
    if (!seen[k]) out[k] = failed_verdict("error", fmt::format("no result for id {}", first_id + k));
  return true;
}
}  // namespace

RemoteVerifier::RemoteVerifier(RemoteOptions options) : opt_(std::move(options)) {
  ZRL_CHECK(!opt_.url.empty(), "remote verifier '{}': verifiers.remote.{}.url is empty", opt_.name,
            opt_.name);
  url_ = parse_http_url(opt_.url);
  ZRL_CHECK(opt_.max_in_flight >= 1 && opt_.batch_size >= 1 && opt_.retries >= 0 && opt_.timeout_s > 0,
            "remote verifier '{}': max_in_flight, batch_size must be >= 1, retries >= 0, timeout_s > 0",
            opt_.name);
}

void RemoteVerifier::run_chunk(const std::vector<Sample>& samples, size_t begin, size_t end,
                               std::vector<Verdict>& out) const {
  Json requests = Json::array();
  for (size_t i = begin; i < end; ++i) requests.push_back(request_json(static_cast<int64_t>(i), samples[i]));
  const std::string body = Json{{"requests", requests}}.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::vector<Verdict> chunk(end - begin);
  std::string last_error;
  bool last_timeout = false;
  for (int attempt = 0; attempt <= opt_.retries; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(opt_.backoff_s * std::pow(2.0, attempt - 1)));
    }
    HttpResult r;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return in_flight_ < opt_.max_in_flight; });
      ++in_flight_;
    }
    r = http_post(url_, body, opt_.timeout_s);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --in_flight_;
    }
    cv_.notify_one();
    last_timeout = r.timed_out;
    if (!r.done) {
      last_error = r.error;
      continue;
    }
    if (r.status != 200) {
      last_error = fmt::format("HTTP {}: {}", r.status, r.body.substr(0, 200));
      if (r.status == 429 || r.status >= 500) continue;
      break;  // the service refused this request: retrying will not help
    }
    if (parse_results(r.body, static_cast<int64_t>(begin), end - begin, chunk, last_error)) {
      for (size_t k = 0; k < chunk.size(); ++k) out[begin + k] = std::move(chunk[k]);
      return;
    }
  }
  const std::string reason = fmt::format("remote verifier '{}' ({}): {} (after {} attempts)", opt_.name,
                                         opt_.url, last_error, opt_.retries + 1);
  for (size_t i = begin; i < end; ++i) out[i] = failed_verdict(last_timeout ? "timeout" : "error", reason);
}

std::vector<Verdict> RemoteVerifier::verify_batch(const std::vector<Sample>& samples) const {
  std::vector<Verdict> out(samples.size());
  const size_t bs = static_cast<size_t>(opt_.batch_size);
  const size_t chunks = (samples.size() + bs - 1) / bs;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t c = next++; c < chunks; c = next++)
      run_chunk(samples, c * bs, std::min(samples.size(), (c + 1) * bs), out);
  };
  const size_t threads = std::min(chunks, static_cast<size_t>(opt_.max_in_flight));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return out;
}

}  // namespace zerorl::verifiers::external
