// examples/plugin/numeric_plugin.cpp: an example zerorl verifier plugin: the last number in the
// response must equal the gold number within a relative tolerance (option "tolerance", default 1e-6).
// Not here: anything of zerorl beyond the plain-C header; build it with any compiler:
//   g++ -std=c++17 -shared -fPIC -O2 -I<zerorl>/include numeric_plugin.cpp -o libnumeric_plugin.so
#include <zerorl/verifier_plugin.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace {

struct NumericVerifier {
  double tolerance = 1e-6;
};

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// The value after "tolerance": in the options JSON; a real plugin would use a JSON library.
bool read_tolerance(const char* json, double& out) {
  const char* key = std::strstr(json, "\"tolerance\"");
  if (key == nullptr) return true;
  const char* colon = std::strchr(key, ':');
  if (colon == nullptr) return false;
  char* end = nullptr;
  out = std::strtod(colon + 1, &end);
  return end != colon + 1 && out >= 0;
}

// The last decimal number in `text` (commas between digits ignored), or false when there is none.
bool last_number(const char* text, std::string& found, double& value) {
  std::string current, last;
  for (const char* p = text;; ++p) {
    const char c = *p;
    const bool part = std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && !current.empty()) ||
                      (c == '-' && current.empty()) || (c == ',' && !current.empty());
    if (part) {
      if (c != ',') current += c;
    } else {
      if (!current.empty() && current != "-") last = current;
      current.clear();
    }
    if (c == '\0') break;
  }
  while (!last.empty() && last.back() == '.') last.pop_back();
  if (last.empty()) return false;
  char* end = nullptr;
  value = std::strtod(last.c_str(), &end);
  found = last;
  return *end == '\0';
}

void* create(const char* options_json, char** error) {
  auto* v = new (std::nothrow) NumericVerifier();
  if (v == nullptr) return nullptr;
  if (!read_tolerance(options_json, v->tolerance)) {
    *error = copy_string(std::string("option 'tolerance' must be a non-negative number, options were ") +
                         options_json);
    delete v;
    return nullptr;
  }
  return v;
}

void destroy(void* handle) { delete static_cast<NumericVerifier*>(handle); }

int32_t verify(void* handle, const char* /*prompt*/, const char* gold, const char* response,
               const char* /*extra_json*/, ZrlVerifierResult* out) {
  const auto* v = static_cast<const NumericVerifier*>(handle);
  std::string gold_text, found;
  double gold_value = 0, value = 0;
  if (!last_number(gold, gold_text, gold_value)) {
    out->info_json = copy_string("{\"status\": \"error\", \"reason\": \"gold is not a number\"}");
    return 1;
  }
  if (!last_number(response, found, value)) {
    out->info_json = copy_string("{\"status\": \"no_answer\", \"reason\": \"no number in the response\"}");
    return 0;
  }
  const double err = std::fabs(value - gold_value);
  out->correct = err <= v->tolerance * std::fmax(1.0, std::fabs(gold_value)) ? 1 : 0;
  out->reward = out->correct ? 1.0 : 0.0;
  out->info_json =
      copy_string("{\"extracted\": \"" + found + "\", \"abs_error\": " + std::to_string(err) + "}");
  return 0;
}

void free_string(char* s) { std::free(s); }

const ZrlVerifierPlugin kTable = {
    ZRL_VERIFIER_PLUGIN_ABI_VERSION,
    sizeof(ZrlVerifierPlugin),
    ZRL_PLUGIN_THREAD_SAFE,
    "numeric_tolerance",
    create,
    destroy,
    verify,
    free_string,
};

}  // namespace

extern "C" ZRL_PLUGIN_EXPORT const ZrlVerifierPlugin* zerorl_verifier_plugin(void) { return &kTable; }
