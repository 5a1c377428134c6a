// apps/cmd_verify_code.cpp: the `code` branch of `zerorl verify` (sandboxed program runs).
// Not here: the sandbox (verifiers/sandbox/).
#include "apps/commands.h"

namespace zerorl::apps {

int verify_code_jsonl(const std::string& input_path) { return not_implemented("verify --verifier code", 6); }

}  // namespace zerorl::apps
