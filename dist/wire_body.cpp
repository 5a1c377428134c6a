// dist/wire_body.cpp: each message's CBOR map (fields, raw little-endian blocks) and the checks that make a
// decoded message safe to use (lengths agree, slices inside their bucket). Not here: framing (wire.cpp).
#include "dist/wire_body.h"

#include <cstring>
#include <limits>

namespace zerorl::dist::wire::body {

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t get_le(const uint8_t* bytes, int count) {
  uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return value;
}

namespace {

using json = nlohmann::json;
// Raw little-endian block of 4-byte elements (int32 tokens, float32 log-probs).
template <typename T>
json to_block(const std::vector<T>& values) {
  static_assert(sizeof(T) == 4, "blocks hold 4-byte elements");
  std::vector<uint8_t> bytes;
  bytes.reserve(values.size() * 4);
  for (const T& v : values) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, 4);
    put_le(bytes, bits, 4);
  }
  return json::binary(std::move(bytes));
}

// Reads fields of one CBOR map, remembering the first error (field name and what was wrong).
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) fail("", "is not a map");
  }
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }

  const json* find(const char* key) {
    if (!ok()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
      fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  void u64(const char* key, uint64_t& out) {
    const json* v = find(key);
    if (!v) return;
    if (v->is_number_unsigned()) {
      out = v->get<uint64_t>();
    } else {
      fail(key, "is not an unsigned integer");
    }
  }
  template <typename T>
  void uint(const char* key, T& out) {
    uint64_t v = 0;
    u64(key, v);
    if (ok() && v > std::numeric_limits<T>::max()) fail(key, "is out of range");
    if (ok()) out = static_cast<T>(v);
  }
  void i64(const char* key, int64_t& out) {
    const json* v = find(key);
    if (!v) return;
    if (v->is_number_integer() && !v->is_number_unsigned()) {
      out = v->get<int64_t>();
    } else if (v->is_number_unsigned() && v->get<uint64_t>() <= uint64_t(INT64_MAX)) {
      out = static_cast<int64_t>(v->get<uint64_t>());
    } else {
      fail(key, "is not a 64-bit integer");
    }
  }
  void f64(const char* key, double& out) {
    const json* v = find(key);
    if (!v) return;
    if (v->is_number()) {
      out = v->get<double>();
    } else {
      fail(key, "is not a number");
    }
  }
  void str(const char* key, std::string& out) {
    const json* v = find(key);
    if (!v) return;
    if (v->is_string()) {
      out = v->get<std::string>();
    } else {
      fail(key, "is not a string");
    }
  }
  const json* array(const char* key) {
    const json* v = find(key);
    if (v && !v->is_array()) fail(key, "is not an array");
    return ok() ? v : nullptr;
  }
  template <typename T>
  void block(const char* key, std::vector<T>& out) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_binary()) return fail(key, "is not a byte string");
    const auto& bytes = v->get_binary();
    if (bytes.size() % 4 != 0) return fail(key, "has a length that is not a multiple of 4");
    out.resize(bytes.size() / 4);
    for (size_t i = 0; i < out.size(); ++i) {
      uint32_t bits = static_cast<uint32_t>(get_le(bytes.data() + 4 * i, 4));
      std::memcpy(&out[i], &bits, 4);
    }
  }
  void fail(const std::string& key, const std::string& what) {
    if (ok()) error_ = where_ + (key.empty() ? "" : "." + key) + " " + what;
  }

 private:
  const json& object_;
  std::string where_;
  std::string error_;
};

// ---- bodies: one to_body / from_body pair per message type ----

json to_body(const Hello& m) {
  return {{"token", m.auth_token}, {"worker", m.worker_id}, {"version", m.version}, {"cuda_ipc", m.cuda_ipc}};
}
json to_body(const Welcome& m) {
  return {
      {"worker_index", m.worker_index}, {"weight_version", m.weight_version}, {"heartbeat_s", m.heartbeat_s}};
}
json to_body(const Heartbeat& m) { return {{"sequence", m.sequence}}; }
json to_body(const Bye& m) { return {{"reason", m.reason}}; }

json to_body(const Weights& m) { return weights_table(m); }

json to_body(const Work& m) {
  json prompts = json::array();
  for (const auto& p : m.prompts) prompts.push_back(to_block(p));
  json sampler = {{"temperature", m.sampler.temperature},
                  {"top_k", m.sampler.top_k},
                  {"top_p", m.sampler.top_p},
                  {"min_p", m.sampler.min_p}};
  return {{"group_id", m.group_id},
          {"step", m.step},
          {"seed", m.seed},
          {"weight_version", m.weight_version},
          {"group_size", m.group_size},
          {"max_new_tokens", m.max_new_tokens},
          {"sampler", std::move(sampler)},
          {"prompt_keys", m.prompt_keys},
          {"prompts", std::move(prompts)}};
}

json to_body(const Result& m) {
  json samples = json::array();
  for (const Trajectory& t : m.samples) {
    samples.push_back({{"prompt", t.prompt_index},
                       {"sample", t.sample_index},
                       {"tokens", to_block(t.tokens)},
                       {"logprobs", to_block(t.logprobs)},
                       {"logprobs_policy", to_block(t.logprobs_policy)},
                       {"finish", t.finish},
                       {"text", t.text}});
  }
  return {{"group_id", m.group_id},
          {"weight_version", m.weight_version},
          {"generate_s", m.generate_s},
          {"new_tokens", m.new_tokens},
          {"samples", std::move(samples)}};
}

std::string from_body(const json& j, Hello& m) {
  Fields f(j, "hello");
  f.str("token", m.auth_token);
  f.str("worker", m.worker_id);
  f.uint("version", m.version);
  f.str("cuda_ipc", m.cuda_ipc);
  return f.error();
}

std::string from_body(const json& j, Welcome& m) {
  Fields f(j, "welcome");
  f.u64("worker_index", m.worker_index);
  f.u64("weight_version", m.weight_version);
  f.f64("heartbeat_s", m.heartbeat_s);
  if (f.ok() && !(m.heartbeat_s >= 0 && m.heartbeat_s < 1e6)) return "welcome.heartbeat_s is out of range";
  return f.error();
}

std::string from_body(const json& j, Heartbeat& m) {
  Fields f(j, "heartbeat");
  f.u64("sequence", m.sequence);
  return f.error();
}

std::string from_body(const json& j, Bye& m) {
  Fields f(j, "bye");
  f.str("reason", m.reason);
  return f.error();
}

constexpr size_t kIpcHandleBytes = 64;  // sizeof(cudaIpcMemHandle_t); this layer does not include CUDA

std::string to_hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) out += digits[c >> 4], out += digits[c & 15];
  return out;
}

bool from_hex(const std::string& hex, std::string& out) {
  out.clear();
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

uint64_t dtype_bytes(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "bfloat16" || dtype == "float16") return 2;
  return 0;
}

// A tensor's slice must lie inside the bucket and match its shape and dtype (no overflow on any input).
std::string check_slice(const TensorSlice& t, uint64_t data_bytes) {
  const uint64_t elem = dtype_bytes(t.dtype);
  if (elem == 0) return "weights tensor '" + t.name + "': unknown dtype '" + t.dtype + "'";
  uint64_t numel = 1;
  for (int64_t d : t.shape) {
    if (d < 0 || (d > 0 && numel > (uint64_t(1) << 48) / uint64_t(d))) {
      return "weights tensor '" + t.name + "': bad shape";
    }
    numel *= uint64_t(d);
  }
  const uint64_t total = numel * elem;
  if (t.start % elem != 0 || t.nbytes % elem != 0 || t.start > total || t.nbytes > total - t.start ||
      (t.nbytes == 0 && total > 0)) {
    return "weights tensor '" + t.name + "': slice [start, start + nbytes) does not fit its shape";
  }
  if (t.offset > data_bytes || t.nbytes > data_bytes - t.offset) {
    return "weights tensor '" + t.name + "': slice outside the bucket";
  }
  return "";
}

std::string from_body(const json& j, Work& m) {
  Fields f(j, "work");
  f.u64("group_id", m.group_id);
  f.u64("step", m.step);
  f.u64("seed", m.seed);
  f.u64("weight_version", m.weight_version);
  f.i64("group_size", m.group_size);
  f.i64("max_new_tokens", m.max_new_tokens);
  const json* sampler = f.find("sampler");
  const json* keys = f.array("prompt_keys");
  const json* prompts = f.array("prompts");
  if (!f.ok()) return f.error();
  Fields sf(*sampler, "work.sampler");
  sf.f64("temperature", m.sampler.temperature);
  sf.i64("top_k", m.sampler.top_k);
  sf.f64("top_p", m.sampler.top_p);
  sf.f64("min_p", m.sampler.min_p);
  if (!sf.ok()) return sf.error();
  for (const json& k : *keys) {
    if (!k.is_number_unsigned()) return "work.prompt_keys holds a value that is not an unsigned integer";
    m.prompt_keys.push_back(k.get<uint64_t>());
  }
  for (const json& p : *prompts) {
    json holder = {{"p", p}};
    Fields pf(holder, "work.prompts[]");
    m.prompts.emplace_back();
    pf.block("p", m.prompts.back());
    if (!pf.ok()) return pf.error();
    if (m.prompts.back().empty()) return "work.prompts holds an empty prompt";
  }
  if (m.group_size < 1) return "work.group_size is below 1";
  if (m.max_new_tokens < 0) return "work.max_new_tokens is negative";
  if (m.prompt_keys.size() != m.prompts.size()) return "work.prompt_keys and work.prompts differ in length";
  return "";
}

std::string from_body(const json& j, Result& m) {
  Fields f(j, "result");
  f.u64("group_id", m.group_id);
  f.u64("weight_version", m.weight_version);
  f.f64("generate_s", m.generate_s);
  f.i64("new_tokens", m.new_tokens);
  const json* samples = f.array("samples");
  if (!f.ok()) return f.error();
  for (const json& sj : *samples) {
    Trajectory t;
    Fields sf(sj, "result.samples[]");
    sf.i64("prompt", t.prompt_index);
    sf.i64("sample", t.sample_index);
    sf.block("tokens", t.tokens);
    sf.block("logprobs", t.logprobs);
    sf.block("logprobs_policy", t.logprobs_policy);
    sf.uint("finish", t.finish);
    sf.str("text", t.text);
    if (!sf.ok()) return sf.error();
    if (t.logprobs.size() != t.tokens.size() || t.logprobs_policy.size() != t.tokens.size()) {
      return "result.samples[]: logprobs and tokens differ in length";
    }
    if (t.finish > 3) return "result.samples[].finish is not a finish reason (0..3)";
    m.samples.push_back(std::move(t));
  }
  return "";
}

template <typename T>
Decoded<Message> decode_as(const json& body) {
  Decoded<Message> out;
  T value;
  out.error = from_body(body, value);
  if (out.ok()) out.value = std::move(value);
  return out;
}
}  // namespace

json weights_table(const Weights& m) {
  json tensors = json::array();
  for (const TensorSlice& t : m.tensors) {
    tensors.push_back({{"name", t.name},
                       {"dtype", t.dtype},
                       {"shape", t.shape},
                       {"offset", t.offset},
                       {"nbytes", t.nbytes},
                       {"start", t.start}});
  }
  return {{"version", m.version},
          {"bucket", m.bucket},
          {"buckets", m.buckets},
          {"tensors", std::move(tensors)},
          {"data_bytes", uint64_t(m.data.size())},
          {"ipc_handle", to_hex(m.ipc_handle)},
          {"ipc_bytes", m.ipc_bytes}};
}

std::string decode_weights(const json& j, const uint8_t* data, size_t data_bytes, Weights& m) {
  Fields f(j, "weights");
  uint64_t declared = 0;
  f.u64("version", m.version);
  f.uint("bucket", m.bucket);
  f.uint("buckets", m.buckets);
  f.u64("data_bytes", declared);
  std::string handle_hex;
  f.str("ipc_handle", handle_hex);
  f.u64("ipc_bytes", m.ipc_bytes);
  const json* tensors = f.array("tensors");
  if (!f.ok()) return f.error();
  if (m.bucket >= m.buckets) return "weights.bucket is not below weights.buckets";
  if (!from_hex(handle_hex, m.ipc_handle) ||
      (!m.ipc_handle.empty() && m.ipc_handle.size() != kIpcHandleBytes)) {
    return "weights.ipc_handle is not " + std::to_string(kIpcHandleBytes) + " bytes of hex";
  }
  if (!m.ipc_handle.empty() && data_bytes != 0) return "weights over CUDA IPC carry no data bytes";
  const uint64_t slice_bytes = m.ipc_handle.empty() ? data_bytes : m.ipc_bytes;
  if (declared != data_bytes) {
    return "weights.data_bytes is " + std::to_string(declared) + " but " + std::to_string(data_bytes) +
           " bytes follow the table";
  }
  for (const json& tj : *tensors) {
    TensorSlice t;
    Fields tf(tj, "weights.tensors[]");
    tf.str("name", t.name);
    tf.str("dtype", t.dtype);
    tf.u64("offset", t.offset);
    tf.u64("nbytes", t.nbytes);
    tf.u64("start", t.start);
    const json* shape = tf.array("shape");
    if (!tf.ok()) return tf.error();
    for (const json& d : *shape) {
      if (!d.is_number_integer()) return "weights tensor '" + t.name + "': shape holds a non-integer";
      t.shape.push_back(d.is_number_unsigned() && d.get<uint64_t>() > uint64_t(INT64_MAX) ? -1
                                                                                          : d.get<int64_t>());
    }
    std::string bad = check_slice(t, slice_bytes);
    if (!bad.empty()) return bad;
    m.tensors.push_back(std::move(t));
  }
  m.data.assign(data, data + data_bytes);  // the one copy out of the frame
  return "";
}

nlohmann::json encode(const Message& message) {
  return std::visit([](const auto& m) { return to_body(m); }, message);
}

std::string decode(Type type, const nlohmann::json& body, Message& out) {
  Decoded<Message> d;
  switch (type) {
    case Type::kHello:
      d = decode_as<Hello>(body);
      break;
    case Type::kWelcome:
      d = decode_as<Welcome>(body);
      break;
    case Type::kWeights:
      return "weights: the body is a table and raw data, not one CBOR map (use decode_weights)";
    case Type::kWork:
      d = decode_as<Work>(body);
      break;
    case Type::kResult:
      d = decode_as<Result>(body);
      break;
    case Type::kBye:
      d = decode_as<Bye>(body);
      break;
    case Type::kHeartbeat:
      d = decode_as<Heartbeat>(body);
      break;
    default:
      return "unknown message type";
  }
  if (d.ok()) out = std::move(d.value);
  return d.error;
}

}  // namespace zerorl::dist::wire::body
