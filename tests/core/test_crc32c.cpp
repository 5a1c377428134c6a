// tests/core/test_crc32c.cpp: CRC-32C against the published check values (the CRC catalogue's "123456789",
// RFC 3720 section B.4's 32-byte vectors) and a bit-at-a-time twin, on both paths (SSE4.2, Boost); streaming
// equals one-shot at every split.
// Not here: checkpoint manifests (tests/trainer/test_checkpoint.cpp), TFRecord masking (test_tb_writer.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/crc32c.h"

namespace zerorl {
namespace {

// Bit-at-a-time, straight from the definition: reflected polynomial 0x82F63B78, init and final xor ~0.
uint32_t naive_crc32c(const std::string& s) {
  uint32_t crc = 0xFFFFFFFFU;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1U) ? (crc >> 1) ^ 0x82F63B78U : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32c, PublishedCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283U);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  for (int i = 31; i >= 0; --i) descending.push_back(static_cast<char>(i));
  const struct {
    std::string data;
    uint32_t crc;
  } rfc3720[] = {{std::string(32, '\0'), 0x8A9136AAU},
                 {std::string(32, '\xff'), 0x62A8AB43U},
                 {ascending, 0x46DD794EU},
                 {descending, 0x113FDB5CU}};
  for (const auto& c : rfc3720) EXPECT_EQ(crc32c(c.data.data(), c.data.size()), c.crc);
  EXPECT_EQ(crc32c("", 0), 0U);
}

TEST(Crc32c, MatchesNaiveTwinAndStreamsAtEverySplit) {
  std::string s;
  for (int i = 0; i < 300; ++i) s.push_back(static_cast<char>((i * 131 + 7) & 0xFF));
  for (size_t n : {size_t{1}, size_t{7}, size_t{64}, size_t{300}}) {
    EXPECT_EQ(crc32c(s.data(), n), naive_crc32c(s.substr(0, n))) << n;
  }
  const uint32_t whole = crc32c(s.data(), s.size());
  for (size_t cut = 0; cut <= s.size(); cut += 13) {
    Crc32c c;
    c.update(s.data(), cut);
    c.update(s.data() + cut, s.size() - cut);
    EXPECT_EQ(c.value(), whole) << cut;
  }
}

// The SSE4.2 path (where the CPU has it) and Boost's table both equal the bit-at-a-time twin, at lengths
// around the 8-byte blocks of the instruction path and with streaming splits that break those blocks.
TEST(Crc32c, HardwareAndSoftwarePathsEqualTheNaiveTwin) {
  std::string s;
  for (int i = 0; i < 1000; ++i) s.push_back(static_cast<char>((i * 197 + 11) & 0xFF));
  for (const auto path : {Crc32c::Path::kFastest, Crc32c::Path::kSoftware}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{15}, size_t{16},
                     size_t{17}, size_t{999}, size_t{1000}}) {
      Crc32c c(path);
      c.update(s.data(), n);
      EXPECT_EQ(c.value(), naive_crc32c(s.substr(0, n))) << n << (c.hardware() ? " hardware" : " software");
    }
    for (size_t cut : {size_t{3}, size_t{8}, size_t{13}, size_t{501}}) {
      Crc32c c(path);
      c.update(s.data(), cut);
      c.update(s.data() + cut, s.size() - cut);
      EXPECT_EQ(c.value(), naive_crc32c(s)) << cut;
    }
  }
  EXPECT_FALSE(Crc32c(Crc32c::Path::kSoftware).hardware());
}

}  // namespace
}  // namespace zerorl
