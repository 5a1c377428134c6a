// apps/cmd_verify_code.cpp: the `code` branch of `zerorl verify` (sandboxed program runs): docs/design.md's
// code lines in, one {"passed","total","status","reward"} line out per input, in order, with the run config's
// sandbox limits, on the verifier pool the trainer uses. Not here: the sandbox (verifiers/sandbox/).
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "core/json_io.h"
#include "trainer/components.h"
#include "verifiers/pool.h"
#include "verifiers/registry.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::apps {

int verify_code_jsonl(const std::string& input_path, const SandboxSection& sandbox, int threads,
                      double deadline_s) {
  std::vector<Json> rows;
  try {
    rows = read_jsonl(input_path);
  } catch (const std::exception& e) {
    std::cerr << "verify --verifier code: " << e.what() << "\n";
    return 1;
  }
  // --threads sets how many programs run at once; the pool gets as many threads, so no item waits for a
  // sandbox slot while its deadline runs.
  const int slots = threads > 0 ? threads : static_cast<int>(sandbox.workers);
  Json options = trainer::code_verifier_options(sandbox);
  options["slots"] = slots;
  const std::shared_ptr<const verifiers::Verifier> verifier =
      verifiers::Registry::with_builtins().create("code", options);
  const auto* code = dynamic_cast<const verifiers::CodeVerifier*>(verifier.get());
  if (code != nullptr && !code->sandbox().missing_protections().empty() && !sandbox.insecure_allow) {
    std::cerr << "verify --verifier code: sandbox unavailable, missing: "
              << code->sandbox().missing_protections()
              << " (sandbox.insecure_allow: true in --config runs unprotected)\n";
    return 1;
  }
  std::vector<verifiers::Sample> samples(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].is_object()) {
      std::cerr << "verify --verifier code: " << input_path << ":" << i + 1 << ": not a JSON object\n";
      return 1;
    }
    samples[i].response = rows[i].value("response", "");
    samples[i].extra = rows[i];
  }
  verifiers::VerifierPool pool(slots, deadline_s);
  const std::vector<verifiers::Verdict> verdicts = pool.run({verifier}, samples);
  for (size_t i = 0; i < verdicts.size(); ++i) {
    const auto& v = verdicts[i];
    // A verdict the pool made (timeout) has no info: the total is the row's number of tests.
    const Json& tests = rows[i].contains("tests") ? rows[i]["tests"] : Json::array();
    const int64_t n_tests = tests.is_array() ? static_cast<int64_t>(tests.size()) : 0;
    Json line = {{"passed", v.info.value("passed", 0)},
                 {"total", v.info.value("total", n_tests)},
                 {"status", v.status},
                 {"reward", v.reward}};
    std::cout << line.dump() << "\n";
  }
  std::cout.flush();
  return 0;
}

}  // namespace zerorl::apps
