// dist/wire.h: the rollout control-plane wire format (torch-free): framed, versioned messages between the
// trainer's coordinator and rollout workers. Not here: sockets (dist/control_server.h), scheduling
// (trainer/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace zerorl::dist::wire {

// A frame is a 12-byte header, all little-endian, then the body:
//   u32 magic (kMagic) | u16 protocol version (kVersion) | u16 message type | u32 body length (bytes)
// The body is one CBOR map (nlohmann-json). Token and log-prob arrays inside it are CBOR byte strings
// holding raw little-endian blocks (i32 tokens, f32 log-probs), not CBOR arrays of numbers.
// A Weights body is instead  u32 table length T | T bytes: CBOR map {version, bucket, buckets, tensors,
// data_bytes} | data_bytes raw bytes (Weights::data), so the bucket is copied once each way, never through
// CBOR. Version 2 introduced that layout; a peer of another version is refused by decode_header.
constexpr uint32_t kMagic = 0x574C525Au;  // bytes "ZRLW"
// Version 2 also: Welcome carries heartbeat_s; the Heartbeat message. Version 3: TensorSlice.start (a tensor
// larger than a bucket is split over buckets).
constexpr uint16_t kVersion = 3;
constexpr size_t kHeaderBytes = 12;
// Default bound on a body; the decoder rejects a larger length before allocating anything. Weight buckets
// must fit one frame, so the coordinator raises it to the bucket size plus slack (max_frame_for_bucket).
constexpr uint32_t kDefaultMaxBody = 64u << 20;
// CBOR nesting deeper than this is rejected (the CBOR reader recurses per level; a body of nested arrays
// would otherwise overflow the stack).
constexpr int kMaxDepth = 32;

enum class Type : uint16_t {
  kHello = 1,
  kWelcome = 2,
  kWeights = 3,
  kWork = 4,
  kResult = 5,
  kBye = 6,
  kHeartbeat = 7,
};
constexpr uint16_t kLastType = 7;
const char* type_name(Type type);

// Worker -> coordinator, first frame of a connection.
struct Hello {
  std::string auth_token;  // the shared secret of rollout.auth_token_file
  std::string worker_id;   // free text (host:pid), for logs
  uint32_t version = kVersion;
  // Non-empty when the worker's model is on a CUDA device and it can open CUDA IPC handles: its host's
  // identity (rollout/weight_channel.h: cuda_ipc_host()). A trainer on the same host then shares weights
  // through device memory instead of frames.
  std::string cuda_ipc;
};

// Coordinator -> worker after a good Hello.
struct Welcome {
  uint64_t worker_index = 0;    // the coordinator's id for this worker
  uint64_t weight_version = 0;  // version the worker will be sent before any work
  double heartbeat_s = 0;  // send a Heartbeat at least this often (seconds; 0 = the coordinator wants none)
};

// A tensor's bytes [start, start + nbytes) (row-major, `shape` is the whole tensor's) at `offset` of
// Weights::data. A tensor larger than a bucket travels as several slices in consecutive buckets, so no frame
// exceeds the bucket size (Qwen2.5-1.5B's embedding is 467 MB); others travel whole (start 0).
struct TensorSlice {
  std::string name;
  std::string dtype;  // "float32" | "bfloat16" | "float16"
  std::vector<int64_t> shape;
  uint64_t offset = 0;
  uint64_t nbytes = 0;
  uint64_t start = 0;  // byte offset of the slice inside the tensor (a multiple of the element size)
};

// Coordinator -> worker: bucket `bucket` of `buckets` of weight version `version`. A worker applies a
// version only when all its buckets have arrived. Versions start at 1 (0 = no weights yet).
// CUDA IPC variant (ipc_handle non-empty): the bytes are not in the frame but in a device buffer of the
// trainer's process, `ipc_bytes` long, that the handle (a cudaIpcMemHandle_t, 64 raw bytes) opens; the
// slices' offsets point into it and `data` is empty.
struct Weights {
  uint64_t version = 0;
  uint32_t bucket = 0;
  uint32_t buckets = 1;
  std::vector<TensorSlice> tensors;
  std::vector<uint8_t> data;
  std::string ipc_handle;
  uint64_t ipc_bytes = 0;
  // Not on the wire: keeps the trainer's device buffer of a CUDA IPC message alive as long as the message.
  std::shared_ptr<const void> owner;
};

struct Sampler {
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
};

// Coordinator -> worker: generate G answers for each prompt of a group, keyed like the colocated engine
// (rollout::GenerateConfig: seed, step, prompt_keys), with weights of `weight_version`.
struct Work {
  uint64_t group_id = 0;
  uint64_t step = 0;
  uint64_t seed = 0;
  uint64_t weight_version = 0;
  int64_t group_size = 1;
  int64_t max_new_tokens = 0;
  Sampler sampler;
  std::vector<uint64_t> prompt_keys;          // one per prompt
  std::vector<std::vector<int32_t>> prompts;  // token ids per prompt
};

// One finished answer (rollout::Trajectory without the text, which the trainer re-derives).
struct Trajectory {
  int64_t prompt_index = 0;  // index into Work::prompts
  int64_t sample_index = 0;
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;         // under the sampling distribution (the behaviour log-probs)
  std::vector<float> logprobs_policy;  // policy at T = 1
  uint8_t finish = 0;                  // rollout::FinishReason as an integer
  std::string text;
};

// Worker -> coordinator: the answers to one Work.
struct Result {
  uint64_t group_id = 0;
  uint64_t weight_version = 0;
  double generate_s = 0.0;  // wall seconds of the worker's generate() call
  int64_t new_tokens = 0;
  std::vector<Trajectory> samples;  // prompt-major, G per prompt
};

// Either side, before closing.
struct Bye {
  std::string reason;
};

// Worker -> coordinator every Welcome::heartbeat_s, from a thread of its own: the worker is alive even while
// generation blocks its loop. Any frame counts as a sign of life; this one carries nothing else.
struct Heartbeat {
  uint64_t sequence = 0;  // 1, 2, ... per connection (for logs and tests)
};

// The variant's order is the Type order (type_of = index + 1).
using Message = std::variant<Hello, Welcome, Weights, Work, Result, Bye, Heartbeat>;
Type type_of(const Message& message);

// A decoded header (no body yet).
struct Header {
  Type type = Type::kBye;
  uint32_t body_bytes = 0;
};

// Outcome of decoding: ok, or an error naming what was wrong (never an exception).
template <typename T>
struct Decoded {
  T value{};
  std::string error;  // empty = ok
  bool ok() const { return error.empty(); }
};

// Whole frame (header + body). Throws zerorl::Error only for a body over max_body: a bug of the sender,
// never of the peer.
std::vector<uint8_t> encode(const Message& message, uint32_t max_body = kDefaultMaxBody);
// The same for a Weights bucket, without first copying it into a Message.
std::vector<uint8_t> encode(const Weights& weights, uint32_t max_body = kDefaultMaxBody);

// Checks the 12 header bytes: magic, version, known type, body length <= max_body.
Decoded<Header> decode_header(const uint8_t* bytes, size_t size, uint32_t max_body = kDefaultMaxBody);
// Decodes a body of `header.type`. Checks every field's presence, type and range.
Decoded<Message> decode_body(const Header& header, const uint8_t* bytes, size_t size);
// Header + body in one buffer that must hold exactly one frame.
Decoded<Message> decode(const uint8_t* bytes, size_t size, uint32_t max_body = kDefaultMaxBody);

// Largest frame body a weights bucket of `bucket_bytes` needs (the bucket plus room for its tensor table).
uint32_t max_body_for_bucket(uint64_t bucket_bytes);

// Equal-time comparison of two secrets: the time depends on the expected length only.
bool secrets_equal(const std::string& expected, const std::string& given);

}  // namespace zerorl::dist::wire
