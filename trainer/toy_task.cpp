// trainer/toy_task.cpp: the toy task's two verifiers (see toy_task.h). Torch-free.
// Not here: the toy rows and tokenizer (data.cpp).
#include "trainer/toy_task.h"

#include <memory>

#include "core/strings.h"

namespace zerorl::trainer {
namespace {

verifiers::Verdict verdict(bool ok, std::string extracted = "") {
  verifiers::Verdict v;
  v.correct = ok;
  v.reward = ok ? 1.0 : 0.0;
  v.status = ok ? "ok" : "wrong";
  v.extracted = std::move(extracted);
  return v;
}

class ToyAddition : public verifiers::Verifier {
 public:
  std::string name() const override { return "toy_addition"; }
  verifiers::Verdict verify(const verifiers::Sample& s) const override {
    const std::string answer = trim(s.response);
    return verdict(answer == s.gold, answer);
  }
};

class ToyFormat : public verifiers::Verifier {
 public:
  std::string name() const override { return "toy_format"; }
  verifiers::Verdict verify(const verifiers::Sample& s) const override {
    bool ok = !s.response.empty() && s.extra.value("finished", false);
    for (char c : s.response) ok = ok && c >= '0' && c <= '9';
    return verdict(ok);
  }
};

}  // namespace

void register_toy_verifiers(verifiers::Registry& registry) {
  registry.add("toy_addition", [](const Json&) { return std::make_unique<ToyAddition>(); });
  registry.add("toy_format", [](const Json&) { return std::make_unique<ToyFormat>(); });
}

}  // namespace zerorl::trainer
