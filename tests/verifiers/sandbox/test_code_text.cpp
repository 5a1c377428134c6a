// tests/verifiers/sandbox/test_code_text.cpp: fenced-block extraction and LiveCodeBench-style output
// comparison, as tables. Not here: running programs (test_sandbox_adversarial.cpp).
#include <gtest/gtest.h>

#include "verifiers/sandbox/code_verifier.h"

namespace zerorl::verifiers {
namespace {

struct MatchCase {
  const char* got;
  const char* expected;
  bool match;
};

// Expected values follow LiveCodeBench's compare: strip, split lines, equal line counts, each line equal
// as a string or as a list of Decimal values (Python: Decimal('1.0') == Decimal('1') is True).
TEST(OutputsMatch, Table) {
  const MatchCase cases[] = {
      {"3\n", "3", true},
      {"  3  \n\n", "3", true},
      {"1 2 3\n", "1 2 3", true},
      {"1  2\t3", "1 2 3", true},  // decimal path: token lists equal
      {"1.0", "1", true},
      {"1.50", "1.5", true},
      {"-0", "0", true},
      {"1e3", "1000", true},
      {"0.1", "0.10000000000000001", false},  // exact decimals, no tolerance
      {"1.5", "1.4999999", false},
      {"3\n4", "3", false},
      {"3", "3\n4", false},
      {"a b", "a  b", false},  // not decimals, strings differ
      {"YES", "yes", false},
      {"line1\r\nline2\r\n", "line1\nline2", true},
      {"", "", true},
      {"", "0", false},
      {"nan", "nan", true},  // equal as strings
      {"1.", "1", true},
      {".5", "0.5", true},
      {"+2", "2", true},
      {"1e", "1", false},
      {"0x10", "16", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(outputs_match(c.got, c.expected), c.match)
        << "got=[" << c.got << "] expected=[" << c.expected << "]";
  }
}

struct BlockCase {
  const char* response;
  bool found;
  const char* code;
};

TEST(ExtractLastCodeBlock, Table) {
  const BlockCase cases[] = {
      {"Here:\n```python\nprint(1)\n```\nDone", true, "print(1)\n"},
      {"```\nx = 1\n```", true, "x = 1\n"},
      {"```py\na\n```\ntext\n```python\nb\n```", true, "b\n"},
      {"```python\na\n```\n```python\nunterminated", true, "a\n"},
      {"no code here", false, ""},
      {"```python\nnever closed", false, ""},
      {"```cpp\nint main(){}\n```", true, "int main(){}\n"},
  };
  for (const auto& c : cases) {
    bool found = false;
    std::string code = extract_last_code_block(c.response, &found);
    EXPECT_EQ(found, c.found) << c.response;
    EXPECT_EQ(code, c.code) << c.response;
  }
}

}  // namespace
}  // namespace zerorl::verifiers
