// dist/wire.cpp: frame header, CBOR bodies (nlohmann-json) and raw little-endian blocks for the rollout wire.
// Not here: sockets and timeouts (dist/control_server.cpp, dist/control_client.cpp).
#include "dist/wire.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dist/wire_body.h"

namespace zerorl::dist::wire {
namespace {

using json = nlohmann::json;

using body::get_le;
using body::put_le;

// SAX handler that builds the DOM (nlohmann's own) but stops past kMaxDepth levels of nesting.
class DepthLimitedSax {
 public:
  explicit DepthLimitedSax(json& out) : dom_(out, false) {}
  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const std::string& s) { return dom_.number_float(v, s); }
  bool string(std::string& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return enter() && dom_.start_object(n); }
  bool key(std::string& v) { return dom_.key(v); }
  bool end_object() { return --depth_, dom_.end_object(); }
  bool start_array(std::size_t n) { return enter() && dom_.start_array(n); }
  bool end_array() { return --depth_, dom_.end_array(); }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) {
    error_ = e.what();
    return false;
  }
  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }

 private:
  bool enter() {
    if (++depth_ > kMaxDepth) too_deep_ = true;
    return !too_deep_;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0;
  bool too_deep_ = false;
  std::string error_;
};

Decoded<json> parse_cbor(const uint8_t* bytes, size_t size) {
  Decoded<json> out;
  DepthLimitedSax sax(out.value);
  bool ok = false;
  try {
    ok = json::sax_parse(bytes, bytes + size, &sax, nlohmann::detail::input_format_t::cbor, true);
  } catch (const std::exception& e) {  // the DOM builder throws on a count beyond max_size()
    out.error = std::string("malformed CBOR body: ") + e.what();
    return out;
  }
  if (sax.too_deep()) {
    out.error = "CBOR body nested deeper than " + std::to_string(kMaxDepth) + " levels";
  } else if (!ok) {
    out.error = "malformed CBOR body: " + (sax.error().empty() ? std::string("parse failed") : sax.error());
  }
  return out;
}

void put_header(std::vector<uint8_t>& frame, Type type, uint64_t body_bytes) {
  put_le(frame, kMagic, 4);
  put_le(frame, kVersion, 2);
  put_le(frame, static_cast<uint16_t>(type), 2);
  put_le(frame, body_bytes, 4);
}

// The table length is checked against the body before the table is parsed or anything allocated.
Decoded<Message> decode_weights(const uint8_t* bytes, size_t size) {
  Decoded<Message> out;
  if (size < 4) {
    out.error = "weights: body of " + std::to_string(size) + " bytes has no 4-byte table length";
    return out;
  }
  const uint64_t table = get_le(bytes, 4);
  if (table > size - 4) {
    out.error = "weights: table of " + std::to_string(table) + " bytes runs past the body of " +
                std::to_string(size) + " bytes";
    return out;
  }
  Decoded<json> parsed = parse_cbor(bytes + 4, table);
  if (!parsed.ok()) {
    out.error = "weights: " + parsed.error;
    return out;
  }
  try {  // as in decode_body: every field is checked before use
    Weights w;
    out.error = body::decode_weights(parsed.value, bytes + 4 + table, size - 4 - table, w);
    if (out.ok()) out.value = std::move(w);
  } catch (const std::exception& e) {
    out.error = std::string("weights: ") + e.what();
  }
  return out;
}
}  // namespace

const char* type_name(Type type) {
  switch (type) {
    case Type::kHello:
      return "hello";
    case Type::kWelcome:
      return "welcome";
    case Type::kWeights:
      return "weights";
    case Type::kWork:
      return "work";
    case Type::kResult:
      return "result";
    case Type::kBye:
      return "bye";
    case Type::kHeartbeat:
      return "heartbeat";
  }
  return "unknown";
}

static_assert(std::variant_size_v<Message> == kLastType, "one Message alternative per Type, in order");
Type type_of(const Message& message) { return static_cast<Type>(message.index() + 1); }

uint32_t max_body_for_bucket(uint64_t bucket_bytes) {
  const uint64_t want = bucket_bytes + (1u << 20) + bucket_bytes / 64;  // table of names and shapes
  ZRL_CHECK(want < (uint64_t(1) << 32), "weight bucket of {} bytes does not fit one frame (< 4 GiB)",
            bucket_bytes);
  return static_cast<uint32_t>(std::max<uint64_t>(want, kDefaultMaxBody));
}

bool secrets_equal(const std::string& expected, const std::string& given) {
  unsigned char diff = expected.size() == given.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(expected[i]) ^ g;
  }
  return diff == 0;
}

}  // namespace zerorl::dist::wire

namespace zerorl::dist::wire {

// Weights body: u32 table length | CBOR table | raw data. The data goes into the frame with one copy.
std::vector<uint8_t> encode(const Weights& w, uint32_t max_body) {
  const std::vector<uint8_t> table = json::to_cbor(body::weights_table(w));
  const uint64_t body_bytes = 4 + uint64_t(table.size()) + w.data.size();
  ZRL_CHECK(body_bytes <= max_body, "weights message of {} bytes exceeds the frame limit of {} bytes",
            body_bytes, max_body);
  std::vector<uint8_t> frame;
  frame.reserve(kHeaderBytes + body_bytes);
  put_header(frame, Type::kWeights, body_bytes);
  put_le(frame, table.size(), 4);
  frame.insert(frame.end(), table.begin(), table.end());
  frame.insert(frame.end(), w.data.begin(), w.data.end());
  return frame;
}

std::vector<uint8_t> encode(const Message& message, uint32_t max_body) {
  if (const auto* weights = std::get_if<Weights>(&message)) return encode(*weights, max_body);
  std::vector<uint8_t> cbor = json::to_cbor(body::encode(message));
  ZRL_CHECK(cbor.size() <= max_body, "{} message of {} bytes exceeds the frame limit of {} bytes",
            type_name(type_of(message)), cbor.size(), max_body);
  std::vector<uint8_t> frame;
  frame.reserve(kHeaderBytes + cbor.size());
  put_header(frame, type_of(message), cbor.size());
  frame.insert(frame.end(), cbor.begin(), cbor.end());
  return frame;
}

Decoded<Header> decode_header(const uint8_t* bytes, size_t size, uint32_t max_body) {
  Decoded<Header> out;
  if (size < kHeaderBytes) {
    out.error = "truncated frame header (" + std::to_string(size) + " of 12 bytes)";
    return out;
  }
  const uint64_t magic = get_le(bytes, 4), version = get_le(bytes + 4, 2), type = get_le(bytes + 6, 2);
  const uint64_t length = get_le(bytes + 8, 4);
  if (magic != kMagic) {
    out.error = "bad magic (not a zerorl rollout frame)";
  } else if (version != kVersion) {
    out.error = "protocol version " + std::to_string(version) + ", expected " + std::to_string(kVersion);
  } else if (type < 1 || type > kLastType) {
    out.error = "unknown message type " + std::to_string(type);
  } else if (length > max_body) {
    out.error =
        "frame body of " + std::to_string(length) + " bytes exceeds the limit of " + std::to_string(max_body);
  } else {
    out.value = {static_cast<Type>(type), static_cast<uint32_t>(length)};
  }
  return out;
}

Decoded<Message> decode_body(const Header& header, const uint8_t* bytes, size_t size) {
  Decoded<Message> out;
  if (size != header.body_bytes) {
    out.error =
        "body of " + std::to_string(size) + " bytes, header says " + std::to_string(header.body_bytes);
    return out;
  }
  if (header.type == Type::kWeights) return decode_weights(bytes, size);
  Decoded<json> parsed = parse_cbor(bytes, size);
  if (!parsed.ok()) {
    out.error = std::string(type_name(header.type)) + ": " + parsed.error;
    return out;
  }
  try {  // every field is checked before use; this only guards against a bug turning into a crash
    out.error = body::decode(header.type, parsed.value, out.value);
  } catch (const std::exception& e) {
    out.error = std::string(type_name(header.type)) + ": " + e.what();
  }
  return out;
}

Decoded<Message> decode(const uint8_t* bytes, size_t size, uint32_t max_body) {
  Decoded<Message> out;
  Decoded<Header> header = decode_header(bytes, size, max_body);
  if (!header.ok()) {
    out.error = header.error;
    return out;
  }
  return decode_body(header.value, bytes + kHeaderBytes, size - kHeaderBytes);
}

}  // namespace zerorl::dist::wire
