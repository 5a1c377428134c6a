// verifiers/jsonl_verify.cpp: JSONL in, verdict JSONL out, for `zerorl verify`.
// Not here: argument parsing; the code verifier.
#include "verifiers/jsonl_verify.h"

#include <algorithm>
#include <memory>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"
#include "verifiers/language.h"
#include "verifiers/pool.h"
#include "verifiers/registry.h"

namespace zerorl::verifiers {
namespace {

std::string get_string(const Json& row, const char* key, const std::string& where) {
  ZRL_CHECK(row.contains(key), "{}: missing key \"{}\"", where, key);
  ZRL_CHECK(row[key].is_string(), "{}: key \"{}\" must be a string, got {}", where, key,
            dump_excerpt(row[key]));
  return row[key].get<std::string>();
}
// Gold answers may be numbers in datasets (AMC's 27.0): keep their JSON text.
std::string get_gold(const Json& row, const std::string& where) {
  ZRL_CHECK(row.contains("gold"), "{}: missing key \"gold\"", where);
  const Json& g = row["gold"];
  ZRL_CHECK(g.is_string() || g.is_number(), "{}: key \"gold\" must be a string or number, got {}", where,
            dump_excerpt(g));
  return g.is_string() ? g.get<std::string>() : g.dump();
}

}  // namespace

Sample sample_from_row(const std::string& verifier, const Json& row, const std::string& where) {
  ZRL_CHECK(row.is_object(), "{}: each line must be a JSON object, got {}", where, dump_excerpt(row));
  Sample s;
  if (verifier == "math") {
    s.gold = get_gold(row, where);
    if (row.contains("pred")) {
      s.extra["pred"] = get_string(row, "pred", where);
    } else {
      ZRL_CHECK(row.contains("response"), "{}: math lines need \"response\" or \"pred\"", where);
      s.response = get_string(row, "response", where);
    }
  } else if (verifier == "countdown") {
    ZRL_CHECK(row.contains("numbers") && row["numbers"].is_array(),
              "{}: countdown lines need \"numbers\": [ints]", where);
    for (const auto& n : row["numbers"])
      ZRL_CHECK(n.is_number_integer(), "{}: \"numbers\" must hold integers, got {}", where, dump_excerpt(n));
    ZRL_CHECK(row.contains("target") && row["target"].is_number_integer(),
              "{}: countdown lines need an integer \"target\"", where);
    s.extra = {{"numbers", row["numbers"]}, {"target", row["target"]}};
    s.response = get_string(row, "response", where);
  } else if (verifier == "format") {
    s.response = get_string(
        row, row.contains("completion") && !row.contains("response") ? "completion" : "response", where);
  } else if (verifier == "language_consistency") {
    s.response = get_string(row, "response", where);
    const std::string language = get_string(row, "language", where);
    try {
      check_language(language);
    } catch (const Error& e) {
      ZRL_FAIL("{}: {}", where, e.what());
    }
    s.extra["language"] = language;
  } else {
    ZRL_FAIL("verify: unknown verifier '{}' (math, countdown, format, language_consistency, code)", verifier);
  }
  return s;
}

Json verdict_to_row(const std::string& verifier, const Verdict& v) {
  Json out = {{"correct", v.correct}, {"extracted", v.extracted}, {"reason", v.reason}};
  if (verifier == "format") out["reward"] = v.reward;
  if (verifier == "language_consistency") {
    out = {{"reward", v.reward},
           {"words", v.info.value("words", 0)},
           {"target_words", v.info.value("target_words", 0)},
           {"scripts", v.info.value("scripts", Json::object())},
           {"reason", v.reason}};
  }
  return out;
}

int verify_jsonl(const std::string& verifier, const std::string& input_path, std::ostream& out, int threads,
                 double deadline_s, const Json& options) {
  Registry registry = Registry::with_builtins();
  std::shared_ptr<const Verifier> v = registry.create(verifier, options);
  std::vector<Json> rows = read_jsonl(input_path);
  std::vector<Sample> samples;
  samples.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    samples.push_back(
        sample_from_row(verifier, rows[i], "'" + input_path + "' row " + std::to_string(i + 1)));
  if (threads <= 0)
    threads = static_cast<int>(std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
  VerifierPool pool(threads, deadline_s);
  const size_t chunk = 4096;
  for (size_t b = 0; b < samples.size(); b += chunk) {
    std::vector<Sample> part(samples.begin() + b, samples.begin() + std::min(samples.size(), b + chunk));
    for (const Verdict& d : pool.run({v}, part)) out << verdict_to_row(verifier, d).dump() << "\n";
  }
  out.flush();
  return 0;
}

}  // namespace zerorl::verifiers
