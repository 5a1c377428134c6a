// verifiers/external/protocol.cpp: request/reply JSON for user verifiers. Not here: transports.
#include "verifiers/external/protocol.h"

#include <cmath>

namespace zerorl::verifiers::external {

std::vector<Verdict> verify_all(const Verifier& v, const std::vector<Sample>& samples) {
  if (const auto* batch = dynamic_cast<const BatchVerifier*>(&v)) return batch->verify_batch(samples);
  std::vector<Verdict> out;
  out.reserve(samples.size());
  for (const auto& s : samples) out.push_back(v.verify(s));
  return out;
}

Json request_json(int64_t id, const Sample& sample) {
  return Json{{"id", id},
              {"prompt", sample.prompt},
              {"response", sample.response},
              {"gold", sample.gold},
              {"extra", sample.extra.is_null() ? Json::object() : sample.extra}};
}

namespace {
bool fail(std::string& problem, std::string why) {
  problem = std::move(why);
  return false;
}
}  // namespace

bool parse_reply(const Json& reply, int64_t id, Verdict& out, std::string& problem) {
  if (!reply.is_object()) return fail(problem, "reply is not a JSON object");
  auto it = reply.find("id");
  if (it == reply.end() || !it->is_number_integer() || it->get<int64_t>() != id) {
    return fail(problem, "reply id " + (it == reply.end() ? std::string("missing") : it->dump()) +
                             ", expected " + std::to_string(id));
  }
  const auto r = reply.find("reward");
  const auto c = reply.find("correct");
  const bool has_r = r != reply.end() && !r->is_null();
  const bool has_c = c != reply.end() && !c->is_null();
  if (!has_r && !has_c) return fail(problem, "reply has neither 'reward' nor 'correct'");
  if (has_r && !r->is_number()) return fail(problem, "'reward' is not a number: " + r->dump());
  if (has_c && !c->is_boolean()) return fail(problem, "'correct' is not true/false: " + c->dump());
  Verdict v;
  v.reward = has_r ? r->get<double>() : (c->get<bool>() ? 1.0 : 0.0);
  if (!std::isfinite(v.reward)) return fail(problem, "'reward' is not finite");
  v.correct = has_c ? c->get<bool>() : v.reward >= 1.0;
  v.status = v.correct ? "ok" : "wrong";
  auto text = [&](const char* key, std::string& dst) {
    auto f = reply.find(key);
    if (f == reply.end() || f->is_null()) return true;
    if (!f->is_string()) return fail(problem, std::string("'") + key + "' is not a string");
    dst = f->get<std::string>();
    return true;
  };
  if (!text("status", v.status) || !text("extracted", v.extracted) || !text("reason", v.reason)) return false;
  auto info = reply.find("info");
  if (info != reply.end() && !info->is_null()) {
    if (!info->is_object()) return fail(problem, "'info' is not a JSON object");
    v.info = *info;
  }
  out = std::move(v);
  return true;
}

Verdict failed_verdict(const std::string& status, const std::string& reason) {
  Verdict v;
  v.correct = false;
  v.reward = 0.0;
  v.status = status;
  v.reason = reason;
  return v;
}

}  // namespace zerorl::verifiers::external
