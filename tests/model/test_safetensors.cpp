// tests/model/test_safetensors.cpp: safetensors reader/writer against the spec: fixtures, round trips,
// sharding, a table of malformed files, and a seeded randomized fuzz over mutated headers and bytes.
// Torch-free. Not here: torch conversion and model loading (test_model.cpp).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "core/json_io.h"
#include "model/safetensors.h"
#include "tests/test_paths.h"

namespace zerorl::model {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes make_file(const std::string& header, const Bytes& buffer) {
  Bytes out(8 + header.size() + buffer.size());
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] = static_cast<uint8_t>((header.size() >> (8 * i)) & 0xff);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(buffer.begin(), buffer.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

// A valid image: a [2,3] F32, a [4] BF16, a scalar F16 and an empty [0,5] F32 tensor, plus metadata.
Json valid_header() {
  return Json::parse(R"({"__metadata__": {"format": "pt"},
    "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
    "c": {"dtype": "F16", "shape": [], "data_offsets": [32, 34]},
    "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [34, 34]}})");
}
Bytes valid_buffer() {
  Bytes b(34);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7 + 1);
  return b;
}

SafetensorsFile parse(const Bytes& bytes) {
  return SafetensorsFile::from_bytes(std::make_shared<const Bytes>(bytes), "mem");
}

// Parses `bytes`; any outcome but success or zerorl::Error (a crash, another exception) fails the test.
// On success the views must tile the buffer inside the image.
void expect_safe(const Bytes& bytes, const std::string& what) {
  auto owned = std::make_shared<const Bytes>(bytes);
  try {
    auto f = SafetensorsFile::from_bytes(owned, "fuzz");
    size_t total = 0;
    for (const auto& n : f.names()) {
      const auto& v = f.get(n);
      ASSERT_GE(v.data, owned->data()) << what;
      ASSERT_LE(v.data + v.nbytes, owned->data() + owned->size()) << what;
      total += v.nbytes;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<size_t>(i)];
    ASSERT_EQ(total, bytes.size() - 8 - n) << what;
  } catch (const zerorl::Error&) {
  } catch (const std::exception& e) {
    FAIL() << what << ": non-zerorl exception: " << e.what();
  }
}

TEST(Safetensors, ParsesFixturesWithHfNames) {
  for (const char* name : {"tiny-qwen2", "tiny-llama", "tiny-qwen3"}) {
    SafetensorsCheckpoint ckpt(testing::fixture_dir() + "/models/" + name);
    EXPECT_TRUE(ckpt.contains("model.embed_tokens.weight")) << name;
    EXPECT_TRUE(ckpt.contains("model.layers.1.self_attn.q_proj.weight")) << name;
    const auto& v = ckpt.get("model.embed_tokens.weight");
    EXPECT_EQ(v.dtype, DType::kF32);
    EXPECT_EQ(v.shape, (std::vector<int64_t>{512, 64}));
    EXPECT_EQ(v.nbytes, 512u * 64 * 4);
  }
}

TEST(Safetensors, ValidImageParses) {
  auto f = parse(make_file(valid_header().dump(), valid_buffer()));
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.get("b").dtype, DType::kBF16);
  EXPECT_EQ(f.get("c").shape.size(), 0u);
  EXPECT_EQ(f.get("a").data[0], 1);
  EXPECT_EQ(f.get("b").data[0], static_cast<uint8_t>(24 * 7 + 1));
}

TEST(Safetensors, WriteReadRoundTripSingleAndSharded) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("zrl_st_" + std::to_string(::getpid()));
  zerorl::remove_tree(dir);
  std::vector<float> a(60), b(7);
  std::vector<uint16_t> h(5);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = -static_cast<float>(i);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(0x3f80 + i);
  std::vector<TensorBytes> ts = {{"x.weight", DType::kF32, {6, 10}, a.data(), 240},
                                 {"y.bias", DType::kF32, {7}, b.data(), 28},
                                 {"z", DType::kBF16, {5}, h.data(), 10}};
  for (size_t shard : {size_t(1) << 20, size_t(100)}) {
    auto files = write_safetensors_checkpoint(dir.string(), ts, shard);
    EXPECT_EQ(files.size(), shard > 1000 ? 1u : 3u);  // {x.weight} {y.bias, z} + index
    SafetensorsCheckpoint ck(dir.string());
    EXPECT_EQ(ck.num_files(), shard > 1000 ? 1u : 2u);
    for (const auto& t : ts) {
      const auto& v = ck.get(t.name);
      EXPECT_EQ(v.shape, t.shape);
      ASSERT_EQ(v.nbytes, t.nbytes);
      EXPECT_EQ(std::memcmp(v.data, t.data, t.nbytes), 0) << t.name;
    }
    // The header is padded to a multiple of 8 bytes (aligned data).
    std::ifstream in((dir / files[0]).string(), std::ios::binary);
    uint64_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 8);
    EXPECT_EQ(n % 8, 0u);
  }
  zerorl::remove_tree(dir);
}

TEST(Safetensors, ShardIndexErrorsNameTheProblem) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("zrl_idx_" + std::to_string(::getpid()));
  zerorl::remove_tree(dir);
  std::vector<float> a(4, 1.0f);
  std::vector<TensorBytes> ts = {{"p", DType::kF32, {4}, a.data(), 16},
                                 {"q", DType::kF32, {4}, a.data(), 16}};
  write_safetensors_checkpoint(dir.string(), ts, 20);
  const std::string index = (dir / "model.safetensors.index.json").string();
  Json j = read_json(index);
  j["weight_map"]["p"] = "../evil.safetensors";
  write_file_atomic(index, j.dump());
  EXPECT_THROW(SafetensorsCheckpoint{dir.string()}, zerorl::Error);
  j["weight_map"]["p"] = j["weight_map"]["q"];  // p is not in q's shard
  write_file_atomic(index, j.dump());
  try {
    SafetensorsCheckpoint ck(dir.string());
    FAIL() << "expected an error";
  } catch (const zerorl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'p'"), std::string::npos) << e.what();
  }
  zerorl::remove_tree(dir);
}

struct BadCase {
  const char* name;
  std::string header;  // empty: use `raw` as the whole file
  size_t buffer_bytes;
  Bytes raw;
};

TEST(Safetensors, MalformedFilesAreErrors) {
  const std::vector<BadCase> cases = {
      {"empty file", "", 0, {}},
      {"short length", "", 0, {1, 0, 0}},
      {"length past end", "", 0, {0xff, 0, 0, 0, 0, 0, 0, 0, '{', '}'}},
      {"length over 100MB", "", 0, {0, 0, 0, 0x10, 0, 0, 0, 0}},
      {"not json", "{\"a\": ", 0, {}},
      {"json array", "[1, 2]", 0, {}},
      {"entry not object", R"({"a": 3})", 0, {}},
      {"missing dtype", R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4, {}},
      {"extra field", R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}})", 4, {}},
      {"unknown dtype", R"({"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}})", 4, {}},
      {"negative dim", R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4, {}},
      {"float dim", R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4, {}},
      {"size mismatch", R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4, {}},
      {"shape overflow",
       R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})",
       0,
       {}},
      {"end before begin", R"({"a": {"dtype": "U8", "shape": [0], "data_offsets": [4, 0]}})", 4, {}},
      {"past buffer", R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", 4, {}},
      {"overlap",
       R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                      "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}})",
       6,
       {}},
      {"hole", R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8, {}},
      {"trailing bytes", R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 9, {}},
      {"offsets not pair", R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4, {}},
      {"huge offset",
       R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [18446744073709551615, 0]}})",
       4,
       {}},
      {"metadata not strings", R"({"__metadata__": {"k": 1}})", 0, {}},
  };
  for (const auto& c : cases) {
    Bytes bytes = c.header.empty() ? c.raw : make_file(c.header, Bytes(c.buffer_bytes, 0));
    EXPECT_THROW(parse(bytes), zerorl::Error) << c.name;
    expect_safe(bytes, c.name);
  }
}

// Random JSON values that stress the validators.
Json random_value(std::mt19937_64& rng) {
  static const std::vector<Json> pool = {Json(-1),
                                         Json(0),
                                         Json(1),
                                         Json(3),
                                         Json(7),
                                         Json(24),
                                         Json(34),
                                         Json(1e30),
                                         Json(2.5),
                                         Json("F32"),
                                         Json("BF16"),
                                         Json("I64"),
                                         Json("x"),
                                         Json::array(),
                                         Json::object(),
                                         Json(nullptr),
                                         Json(true),
                                         Json(UINT64_MAX),
                                         Json(INT64_MAX),
                                         Json::array({0, 34}),
                                         Json::array({UINT64_MAX, 1}),
                                         Json::array({-1})};
  return pool[rng() % pool.size()];
}

// One structured mutation of the valid header: replace/delete a field or entry, or change an offset.
std::string mutate_header(std::mt19937_64& rng) {
  Json h = valid_header();
  const int rounds = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < rounds; ++r) {
    const std::vector<std::string> keys = {"a", "b", "c", "e", "__metadata__"};
    const std::string key = keys[rng() % keys.size()];
    if (!h.contains(key) || !h[key].is_object()) continue;
    const std::vector<std::string> fields = {"dtype", "shape", "data_offsets", "extra"};
    const std::string field = fields[rng() % fields.size()];
    switch (rng() % 5) {
      case 0:
        h[key][field] = random_value(rng);
        break;
      case 1:
        h[key].erase(field);
        break;
      case 2:
        h[key] = random_value(rng);
        break;
      case 3:
        if (h[key].contains("data_offsets") && h[key]["data_offsets"].is_array() &&
            !h[key]["data_offsets"].empty())
          h[key]["data_offsets"][rng() % h[key]["data_offsets"].size()] = static_cast<int64_t>(rng() % 40);
        break;
      default:
        if (h[key].contains("shape") && h[key]["shape"].is_array()) h[key]["shape"].push_back(rng() % 4);
    }
  }
  return h.dump();
}

TEST(Safetensors, FuzzMutatedHeadersAndBytesNeverCrash) {
  std::mt19937_64 rng(20261128);
  const std::string header = valid_header().dump();
  const Bytes good = make_file(header, valid_buffer());
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes bytes;
    switch (iter % 4) {
      case 0:  // structured JSON mutation
        bytes = make_file(mutate_header(rng), Bytes(rng() % 2 ? 34 : rng() % 48, 0));
        break;
      case 1: {  // random byte flips anywhere
        bytes = good;
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
        break;
      }
      case 2:  // truncation
        bytes = Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(rng() % good.size()));
        break;
      default: {  // wrong header length field
        bytes = good;
        const uint64_t n = rng() % 3 == 0 ? rng() : header.size() + (rng() % 17) - 8;
        for (int i = 0; i < 8; ++i)
          bytes[static_cast<size_t>(i)] = static_cast<uint8_t>((n >> (8 * i)) & 0xff);
      }
    }
    expect_safe(bytes, "fuzz iteration " + std::to_string(iter));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace zerorl::model
