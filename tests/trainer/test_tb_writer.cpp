// tests/trainer/test_tb_writer.cpp: TensorBoard event files decoded by an independent reader (bitwise CRC32C,
// a generic protobuf wire parser), checked against what was written. Not here: TensorBoard itself.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/files.h"
#include "core/json_io.h"
#include "trainer/tb_writer.h"

namespace zerorl::trainer {
namespace {

// Bit-at-a-time CRC-32C: the independent reader's own checksum (core/crc32c.h has its own test).
uint32_t naive_crc32c(const std::string& s) {
  uint32_t crc = 0xFFFFFFFFU;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1U) ? (crc >> 1) ^ 0x82F63B78U : crc >> 1;
  }
  return ~crc;
}
uint32_t naive_mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8U; }

struct Field {
  uint32_t number, wire;
  uint64_t varint = 0;
  std::string bytes;  // length-delimited payload, or the raw 4/8 fixed bytes
};
uint64_t read_varint(const std::string& s, size_t& i) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = static_cast<unsigned char>(s.at(i++));
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return v;
  }
}
std::vector<Field> parse_message(const std::string& s) {
  std::vector<Field> out;
  for (size_t i = 0; i < s.size();) {
    const uint64_t key = read_varint(s, i);
    Field f{static_cast<uint32_t>(key >> 3), static_cast<uint32_t>(key & 7), 0, ""};
    if (f.wire == 0) f.varint = read_varint(s, i);
    if (f.wire == 1) f.bytes = s.substr(i, 8), i += 8;
    if (f.wire == 5) f.bytes = s.substr(i, 4), i += 4;
    if (f.wire == 2) {
      const uint64_t n = read_varint(s, i);
      f.bytes = s.substr(i, n), i += n;
    }
    out.push_back(f);
  }
  return out;
}

TEST(TbWriter, RecordsDecodeToTheWrittenScalars) {
  const std::string dir = (std::filesystem::temp_directory_path() / "zrl_tb_test").string();
  zerorl::remove_tree(dir);
  std::string path;
  {
    TbWriter w(dir);
    w.add_scalar("reward_mean", 1, 0.25, 100.0);
    w.add_scalar("time/rollout", 2, -3.5, 101.0);
    path = w.path();
  }
  EXPECT_NE(std::filesystem::path(path).filename().string().find("events.out.tfevents."), std::string::npos);
  const std::string data = read_file(path);
  std::vector<std::string> records;
  for (size_t i = 0; i < data.size();) {
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, data.data() + i, 8);
    std::memcpy(&len_crc, data.data() + i + 8, 4);
    EXPECT_EQ(len_crc, naive_mask(naive_crc32c(data.substr(i, 8))));
    const std::string payload = data.substr(i + 12, len);
    std::memcpy(&data_crc, data.data() + i + 12 + len, 4);
    EXPECT_EQ(data_crc, naive_mask(naive_crc32c(payload)));
    records.push_back(payload);
    i += 12 + len + 4;
  }
  ASSERT_EQ(records.size(), 3u);
  auto first = parse_message(records[0]);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].number, 3u);
  EXPECT_EQ(first[1].bytes, "brain.Event:2");
  const std::pair<std::string, float> want[] = {{"reward_mean", 0.25f}, {"time/rollout", -3.5f}};
  for (int k = 0; k < 2; ++k) {
    auto ev = parse_message(records[static_cast<size_t>(k) + 1]);
    ASSERT_EQ(ev.size(), 3u);
    double wall;
    std::memcpy(&wall, ev[0].bytes.data(), 8);
    EXPECT_EQ(wall, 100.0 + k);
    EXPECT_EQ(ev[1].number, 2u);
    EXPECT_EQ(ev[1].varint, static_cast<uint64_t>(k + 1));
    EXPECT_EQ(ev[2].number, 5u);
    auto value = parse_message(parse_message(ev[2].bytes).at(0).bytes);
    EXPECT_EQ(value.at(0).bytes, want[k].first);
    float v;
    std::memcpy(&v, value.at(1).bytes.data(), 4);
    EXPECT_EQ(v, want[k].second);
  }
}

}  // namespace
}  // namespace zerorl::trainer
