// apps/cmd_verify_code.cpp: the `code` branch of `zerorl verify` (sandboxed program runs): docs/design.md's
// code lines in, one {"passed","total","status","reward"} line out per input, in order. Not here: the sandbox
// (verifiers/sandbox/).
#include <iostream>
#include <thread>

#include "apps/commands.h"
#include "core/json_io.h"
#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::apps {

int verify_code_jsonl(const std::string& input_path) {
  std::vector<Json> rows;
  try {
    rows = read_jsonl(input_path);
  } catch (const std::exception& e) {
    std::cerr << "verify --verifier code: " << e.what() << "\n";
    return 1;
  }
  verifiers::CodeVerifierOptions options;
  options.sandbox.slots = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  verifiers::CodeVerifier verifier(options);
  if (!verifier.sandbox().missing_protections().empty()) {
    std::cerr << "verify --verifier code: sandbox unavailable, missing: "
              << verifier.sandbox().missing_protections() << "\n";
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
  std::vector<verifiers::Verdict> verdicts = verifier.verify_batch(samples);
  for (const auto& v : verdicts) {
    Json line = {{"passed", v.info.value("passed", 0)},
                 {"total", v.info.value("total", 0)},
                 {"status", v.status},
                 {"reward", v.reward}};
    std::cout << line.dump() << "\n";
  }
  std::cout.flush();
  return 0;
}

}  // namespace zerorl::apps
