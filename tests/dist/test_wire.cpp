// tests/dist/test_wire.cpp: the rollout wire format: round trips of every message, the byte layout against
// hand-written bytes, and a fuzz test (random, truncated, bit-flipped, oversized, deeply nested frames).
// Not here: sockets (test_control.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "dist/wire.h"

namespace zerorl::dist::wire {
namespace {

Work sample_work() {
  Work w;
  w.group_id = 42;
  w.step = 3;
  w.seed = 0xDEADBEEFCAFEull;  // above 32 bits: keys and seeds are full u64
  w.weight_version = 7;
  w.group_size = 4;
  w.max_new_tokens = 96;
  w.sampler = {0.7, 20, 0.95, 0.05};
  w.prompt_keys = {5, (1ull << 63) + 9};
  w.prompts = {{1, 2, 3}, {151643, 0x01020304, -1}};
  return w;
}

Result sample_result() {
  Result r;
  r.group_id = 42;
  r.weight_version = 7;
  r.generate_s = 1.25;
  r.new_tokens = 5;
  Trajectory t;
  t.prompt_index = 1;
  t.sample_index = 3;
  t.tokens = {9, 8, 151643};
  t.logprobs = {-0.5f, -1e-30f, -std::numeric_limits<float>::infinity()};
  t.logprobs_policy = {-0.25f, 0.0f, -7.0f};
  t.finish = 1;
  t.text = "<answer>4</answer>";
  r.samples = {t, Trajectory{0, 0, {3, 4}, {-1.f, -2.f}, {-1.5f, -2.5f}, 3, ""}};
  return r;
}

Weights sample_weights() {
  Weights w;
  w.version = 2;
  w.bucket = 1;
  w.buckets = 3;
  w.data.resize(4 * 6 + 2 * 4);
  for (size_t i = 0; i < w.data.size(); ++i) w.data[i] = static_cast<uint8_t>(i * 7);
  w.tensors = {{"model.embed_tokens.weight", "float32", {2, 3}, 0, 24},
               {"lm_head.weight", "bfloat16", {4}, 24, 8}};
  return w;
}

std::vector<Message> all_messages() {
  return {Hello{"s3cret", "host:123", kVersion, "gpu-host/boot-id"},
          Welcome{3, 9, 2.5},
          sample_weights(),
          sample_work(),
          sample_result(),
          Bye{"trainer finished"},
          Heartbeat{41}};
}

Message round_trip(const Message& m) {
  std::vector<uint8_t> frame = encode(m);
  Decoded<Message> d = decode(frame.data(), frame.size());
  EXPECT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(d.value.index(), m.index());
  return d.value;
}

TEST(Wire, RoundTripsEveryField) {
  auto hello = std::get<Hello>(round_trip(Hello{"s3cret", "host:123", kVersion, "gpu-host/boot-id"}));
  EXPECT_EQ(hello.auth_token, "s3cret");
  EXPECT_EQ(hello.worker_id, "host:123");
  EXPECT_EQ(hello.version, kVersion);
  auto welcome = std::get<Welcome>(round_trip(Welcome{3, 9, 2.5}));
  EXPECT_EQ(welcome.worker_index, 3u);
  EXPECT_EQ(welcome.weight_version, 9u);
  EXPECT_EQ(welcome.heartbeat_s, 2.5);
  EXPECT_EQ(std::get<Heartbeat>(round_trip(Heartbeat{0xFFFFFFFFFFull})).sequence, 0xFFFFFFFFFFull);
  EXPECT_EQ(std::get<Bye>(round_trip(Bye{"done"})).reason, "done");

  Work w = sample_work(), w2 = std::get<Work>(round_trip(w));
  EXPECT_EQ(w2.group_id, w.group_id);
  EXPECT_EQ(w2.step, w.step);
  EXPECT_EQ(w2.seed, w.seed);
  EXPECT_EQ(w2.weight_version, w.weight_version);
  EXPECT_EQ(w2.group_size, w.group_size);
  EXPECT_EQ(w2.max_new_tokens, w.max_new_tokens);
  EXPECT_EQ(w2.sampler.temperature, w.sampler.temperature);
  EXPECT_EQ(w2.sampler.top_k, w.sampler.top_k);
  EXPECT_EQ(w2.sampler.top_p, w.sampler.top_p);
  EXPECT_EQ(w2.sampler.min_p, w.sampler.min_p);
  EXPECT_EQ(w2.prompt_keys, w.prompt_keys);
  EXPECT_EQ(w2.prompts, w.prompts);

  Result r = sample_result(), r2 = std::get<Result>(round_trip(r));
  EXPECT_EQ(r2.group_id, r.group_id);
  EXPECT_EQ(r2.weight_version, r.weight_version);
  EXPECT_EQ(r2.generate_s, r.generate_s);
  EXPECT_EQ(r2.new_tokens, r.new_tokens);
  ASSERT_EQ(r2.samples.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Trajectory &a = r.samples[i], &b = r2.samples[i];
    EXPECT_EQ(b.prompt_index, a.prompt_index);
    EXPECT_EQ(b.sample_index, a.sample_index);
    EXPECT_EQ(b.tokens, a.tokens);
    EXPECT_EQ(b.logprobs, a.logprobs);  // bit patterns travel raw: -inf and denormals survive
    EXPECT_EQ(b.logprobs_policy, a.logprobs_policy);
    EXPECT_EQ(b.finish, a.finish);
    EXPECT_EQ(b.text, a.text);
  }

  Weights ws = sample_weights(), ws2 = std::get<Weights>(round_trip(ws));
  EXPECT_EQ(ws2.version, 2u);
  EXPECT_EQ(ws2.bucket, 1u);
  EXPECT_EQ(ws2.buckets, 3u);
  EXPECT_EQ(ws2.data, ws.data);
  ASSERT_EQ(ws2.tensors.size(), 2u);
  EXPECT_EQ(ws2.tensors[1].name, "lm_head.weight");
  EXPECT_EQ(ws2.tensors[1].dtype, "bfloat16");
  EXPECT_EQ(ws2.tensors[1].shape, std::vector<int64_t>{4});
  EXPECT_EQ(ws2.tensors[1].offset, 24u);
  EXPECT_EQ(ws2.tensors[1].nbytes, 8u);
}

// The layout written down in wire.h, checked byte by byte; the body parsed by nlohmann's own CBOR reader.
TEST(Wire, ByteLayoutIsLittleEndianAsDocumented) {
  Work w = sample_work();
  std::vector<uint8_t> frame = encode(w);
  const std::vector<uint8_t> head = {'Z', 'R', 'L', 'W', uint8_t(kVersion), 0, 4, 0};
  ASSERT_GE(frame.size(), kHeaderBytes);
  EXPECT_EQ(std::vector<uint8_t>(frame.begin(), frame.begin() + 8), head);
  const size_t body = frame.size() - kHeaderBytes;
  EXPECT_EQ(frame[8] | frame[9] << 8 | frame[10] << 16 | size_t(frame[11]) << 24, body);
  auto j = nlohmann::json::from_cbor(std::vector<uint8_t>(frame.begin() + kHeaderBytes, frame.end()));
  const auto& block = j.at("prompts").at(1).get_binary();
  // 151643 = 0x0002505B, 0x01020304, -1: each as 4 little-endian bytes.
  const std::vector<uint8_t> want = {0x5B, 0x50, 0x02, 0x00, 0x04, 0x03, 0x02, 0x01, 0xFF, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(std::vector<uint8_t>(block.begin(), block.end()), want);
  EXPECT_EQ(j.at("seed").get<uint64_t>(), 0xDEADBEEFCAFEull);
}

TEST(Wire, RejectsBadHeadersWithAReason) {
  std::vector<uint8_t> frame = encode(Bye{"x"});
  auto expect_error = [](std::vector<uint8_t> f, const std::string& what, uint32_t max = kDefaultMaxBody) {
    Decoded<Message> d = decode(f.data(), f.size(), max);
    EXPECT_FALSE(d.ok());
    EXPECT_NE(d.error.find(what), std::string::npos) << d.error;
  };
  auto bad = frame;
  bad[0] = 'X';
  expect_error(bad, "bad magic");
  bad = frame;
  bad[4] = 2;  // a version-2 peer (no slices of split tensors) is refused from the header alone
  expect_error(bad, "protocol version 2, expected 3");
  bad = frame;
  bad[6] = 8;
  expect_error(bad, "unknown message type 8");
  bad = frame;
  bad[8] = bad[9] = bad[10] = bad[11] = 0xFF;  // 4 GiB claimed: rejected from the header alone
  expect_error(bad, "exceeds the limit");
  expect_error(frame, "exceeds the limit", 2);
  expect_error({frame.begin(), frame.begin() + 5}, "truncated frame header");
  bad = frame;
  bad.pop_back();
  expect_error(bad, "header says");
  // A frame whose body is valid CBOR but the wrong shape names the field.
  bad = encode(Bye{"x"});
  bad[6] = 2;  // now claims to be a welcome
  expect_error(bad, "welcome.worker_index is missing");
}

TEST(Wire, RejectsInconsistentBodies) {
  Work w = sample_work();
  w.prompt_keys.pop_back();
  auto f = encode(w);
  EXPECT_NE(decode(f.data(), f.size()).error.find("prompt_keys and work.prompts differ"), std::string::npos);
  Weights ws = sample_weights();
  ws.tensors[1].offset = 30;  // 8 bytes at 30 run past the 32-byte bucket
  f = encode(ws);
  EXPECT_NE(decode(f.data(), f.size()).error.find("slice outside the bucket"), std::string::npos);
  ws = sample_weights();
  ws.tensors[0].shape = {int64_t(1) << 40, int64_t(1) << 40};  // product overflows 64 bits
  f = encode(ws);
  EXPECT_NE(decode(f.data(), f.size()).error.find("bad shape"), std::string::npos);
  for (uint64_t start : {uint64_t(1), uint64_t(6)}) {  // mid-element; past the 8-byte tensor's end
    ws = sample_weights();
    ws.tensors[1].shape = {4}, ws.tensors[1].nbytes = 4, ws.tensors[1].start = start;
    f = encode(ws);
    EXPECT_NE(decode(f.data(), f.size()).error.find("does not fit its shape"), std::string::npos) << start;
  }
  ws = sample_weights();
  ws.tensors[1].nbytes = 4, ws.tensors[1].start = 4;  // the second half of the bf16 tensor: a valid slice
  f = encode(ws);
  auto d = decode(f.data(), f.size());
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(std::get<Weights>(d.value).tensors[1].start, 4u);
  ws = sample_weights();  // a CUDA IPC message: a 64-byte handle, no data, slices inside ipc_bytes
  ws.ipc_handle = std::string(64, '\xab'), ws.ipc_bytes = 512, ws.data.clear();
  ws.tensors[1].offset = 256;
  f = encode(ws);
  d = decode(f.data(), f.size());
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(std::get<Weights>(d.value).ipc_handle, ws.ipc_handle);
  EXPECT_EQ(std::get<Weights>(d.value).ipc_bytes, 512u);
  ws.tensors[1].offset = 510;  // 8 bytes at 510 run past the 512-byte device buffer
  f = encode(ws);
  EXPECT_NE(decode(f.data(), f.size()).error.find("slice outside the bucket"), std::string::npos);
  ws.tensors[1].offset = 256, ws.ipc_handle = std::string(63, 'x');
  f = encode(ws);
  EXPECT_NE(decode(f.data(), f.size()).error.find("ipc_handle is not 64 bytes"), std::string::npos);
  Result r = sample_result();
  r.samples[0].logprobs.pop_back();
  f = encode(r);
  EXPECT_NE(decode(f.data(), f.size()).error.find("differ in length"), std::string::npos);
  f = encode(Welcome{1, 1, -1.0});  // a negative heartbeat period would make the worker spin
  EXPECT_NE(decode(f.data(), f.size()).error.find("heartbeat_s is out of range"), std::string::npos);
}

std::vector<uint8_t> with_header(Type type, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> f = {'Z', 'R', 'L', 'W', uint8_t(kVersion), 0, static_cast<uint8_t>(type), 0};
  for (int i = 0; i < 4; ++i) f.push_back(static_cast<uint8_t>(body.size() >> (8 * i)));
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

// Weights body, byte by byte: u32 table length, the CBOR table (no data in it), then the raw bucket.
TEST(Wire, WeightsBodyIsTableThenRawData) {
  Weights ws = sample_weights();
  std::vector<uint8_t> frame = encode(ws);
  ASSERT_GE(frame.size(), kHeaderBytes + 4);
  const uint8_t* body = frame.data() + kHeaderBytes;
  const size_t table = body[0] | body[1] << 8 | body[2] << 16 | size_t(body[3]) << 24;
  ASSERT_EQ(frame.size(), kHeaderBytes + 4 + table + ws.data.size());
  auto j = nlohmann::json::from_cbor(std::vector<uint8_t>(body + 4, body + 4 + table));
  EXPECT_EQ(j.at("data_bytes").get<uint64_t>(), ws.data.size());
  EXPECT_EQ(j.at("tensors").size(), 2u);
  EXPECT_FALSE(j.contains("data"));
  EXPECT_EQ(std::vector<uint8_t>(body + 4 + table, body + (frame.size() - kHeaderBytes)), ws.data);
  // An empty bucket (no tensors, no data) is a valid frame too.
  Weights empty;
  frame = encode(empty);
  Decoded<Message> d = decode(frame.data(), frame.size());
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_TRUE(std::get<Weights>(d.value).data.empty());
}

// A Weights body rebuilt from parts: table length field, table bytes, data bytes.
std::vector<uint8_t> weights_body(uint32_t table_length, const std::vector<uint8_t>& table,
                                  const std::vector<uint8_t>& data) {
  std::vector<uint8_t> body(4 + table.size() + data.size());
  for (int i = 0; i < 4; ++i) body[i] = static_cast<uint8_t>(table_length >> (8 * i));
  std::copy(table.begin(), table.end(), body.begin() + 4);
  std::copy(data.begin(), data.end(), body.begin() + 4 + table.size());
  return body;
}

TEST(Wire, RejectsBadWeightsBodies) {
  const Weights ws = sample_weights();
  const std::vector<uint8_t> frame = encode(ws);
  const std::vector<uint8_t> good(frame.begin() + kHeaderBytes, frame.end());
  const uint32_t table_length = good[0] | good[1] << 8 | good[2] << 16 | uint32_t(good[3]) << 24;
  const std::vector<uint8_t> table(good.begin() + 4, good.begin() + 4 + table_length);
  auto error_of = [](const std::vector<uint8_t>& body) {
    auto f = with_header(Type::kWeights, body);
    Decoded<Message> d = decode(f.data(), f.size());
    EXPECT_FALSE(d.ok());
    return d.error;
  };
  auto expect = [&](const std::vector<uint8_t>& body, const std::string& what) {
    const std::string e = error_of(body);
    EXPECT_NE(e.find(what), std::string::npos) << e;
  };
  // Every truncation of the body (with a header that agrees) is an error: inside the length, the table
  // or the data.
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(error_of({good.begin(), good.begin() + n}).empty());
  expect({good.begin(), good.begin() + 3}, "no 4-byte table length");
  expect({good.begin(), good.begin() + 4 + table_length / 2}, "runs past the body");
  // A table length past the body, up to the largest u32: refused before anything is allocated.
  expect(weights_body(0xFFFFFFFFu, table, ws.data), "table of 4294967295 bytes runs past the body");
  expect(weights_body(table_length + uint32_t(ws.data.size()) + 1, table, ws.data), "runs past the body");
  // A table length that cuts the table short, or runs into the data: the table is not one CBOR map.
  expect(weights_body(table_length - 1, table, ws.data), "malformed CBOR");
  expect(weights_body(table_length + 1, table, ws.data), "malformed CBOR");
  // Data one byte longer or shorter than the table's data_bytes.
  std::vector<uint8_t> data = ws.data;
  data.push_back(0);
  expect(weights_body(table_length, table, data), "weights.data_bytes is 32 but 33 bytes follow the table");
  data.resize(ws.data.size() - 1);
  expect(weights_body(table_length, table, data), "weights.data_bytes is 32 but 31 bytes follow the table");
  // A version-1 body (one CBOR map with the data as a byte string) under a version-2 header.
  nlohmann::json v1 = {{"version", 2},
                       {"bucket", 1},
                       {"buckets", 3},
                       {"tensors", nlohmann::json::array()},
                       {"data", nlohmann::json::binary(ws.data)}};
  EXPECT_FALSE(error_of(nlohmann::json::to_cbor(v1)).empty());
  // The table without data_bytes names the field.
  nlohmann::json no_length = nlohmann::json::from_cbor(table);
  no_length.erase("data_bytes");
  const std::vector<uint8_t> short_table = nlohmann::json::to_cbor(no_length);
  expect(weights_body(uint32_t(short_table.size()), short_table, ws.data), "weights.data_bytes is missing");
}

// The CBOR reader recurses per nesting level: a megabyte of "array of one" must not overflow the stack.
TEST(Wire, DeepNestingAndHugeCountsAreRejected) {
  std::vector<uint8_t> deep(1 << 20, 0x81);
  deep.push_back(0x00);
  auto f = with_header(Type::kWork, deep);
  Decoded<Message> d = decode(f.data(), f.size());
  EXPECT_NE(d.error.find("nested deeper"), std::string::npos) << d.error;
  // An array, a byte string and a map that claim 2^64-1 entries in a 9-byte body: no allocation, an error.
  for (uint8_t major : {0x9B, 0x5B, 0xBB}) {
    std::vector<uint8_t> body = {major, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    f = with_header(Type::kResult, body);
    d = decode(f.data(), f.size());
    EXPECT_FALSE(d.ok()) << int(major);
  }
}

// Random mutations of valid frames and random bytes: the decoder returns (ok or an error), never crashes,
// and decoding stays bounded in time. Also meaningful under ASan/UBSan (build-asan/).
TEST(Wire, FuzzNeverCrashes) {
  std::mt19937_64 rng(1234);
  std::vector<std::vector<uint8_t>> valid;
  for (const Message& m : all_messages()) valid.push_back(encode(m));
  const auto start = std::chrono::steady_clock::now();
  int64_t decoded_ok = 0, rejected = 0;
  auto feed = [&](const std::vector<uint8_t>& f) {
    Decoded<Message> d = decode(f.data(), f.size());
    (d.ok() ? decoded_ok : rejected)++;
    EXPECT_TRUE(d.ok() || !d.error.empty());
  };
  for (const auto& f : valid) {
    for (size_t n = 0; n < f.size(); ++n) feed({f.begin(), f.begin() + n});  // every truncation
    for (size_t bit = 0; bit < f.size() * 8; ++bit) {                        // every single bit flip
      auto g = f;
      g[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      feed(g);
    }
  }
  // Weights: every truncation of the body under a header that agrees with it (reaches the table-length,
  // table and data checks rather than stopping at the header's length).
  const std::vector<uint8_t> weights_frame = encode(sample_weights());
  for (size_t n = kHeaderBytes; n < weights_frame.size(); ++n) {
    feed(with_header(Type::kWeights, {weights_frame.begin() + kHeaderBytes, weights_frame.begin() + n}));
  }
  for (int i = 0; i < 20000; ++i) {
    auto g = valid[rng() % valid.size()];
    const int flips = 1 + int(rng() % 16);
    for (int k = 0; k < flips; ++k) g[kHeaderBytes + rng() % (g.size() - kHeaderBytes)] = uint8_t(rng());
    feed(g);
    std::vector<uint8_t> noise(rng() % 256);
    for (auto& b : noise) b = uint8_t(rng());
    feed(noise);
    feed(with_header(static_cast<Type>(1 + rng() % kLastType), noise));
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(decoded_ok, int64_t(valid.size()));  // the unmutated prefixes' full frames, and harmless flips
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 120.0);  // generous bound for ASan on a loaded 2-core machine; typically well under 5 s
}

TEST(Wire, SecretsCompareExactly) {
  EXPECT_TRUE(secrets_equal("abc", "abc"));
  EXPECT_FALSE(secrets_equal("abc", "abd"));
  EXPECT_FALSE(secrets_equal("abc", "ab"));
  EXPECT_FALSE(secrets_equal("abc", "abcd"));
  EXPECT_FALSE(secrets_equal("abc", ""));
  EXPECT_FALSE(secrets_equal("", "x"));
}

}  // namespace
}  // namespace zerorl::dist::wire
