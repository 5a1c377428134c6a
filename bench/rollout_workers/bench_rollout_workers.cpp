// bench/rollout_workers/bench_rollout_workers.cpp: the weight-sync path trainer process -> rollout worker
// process (this binary again, --role worker) over a loopback dist::ControlServer: pack / transfer / unpack
// seconds and a bit-for-bit check of the worker's weights; prints one JSON. Not here: the channel
// (rollout/weight_channel.h).
#include <spawn.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "bench/common/model_shape.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "core/malloc_tuning.h"
#include "core/timer.h"
#include "dist/control_client.h"
#include "dist/control_server.h"
#include "model/config.h"
#include "model/decoder.h"
#include "rollout/weight_channel.h"

extern char** environ;

namespace {

namespace model = zerorl::model;
namespace dist = zerorl::dist;
namespace wire = zerorl::dist::wire;
using zerorl::Json;
using zerorl::Stopwatch;

// The worker reads the shared secret from here (set by the trainer for its child; never on a command line).
constexpr const char* kTokenEnv = "ZERORL_BENCH_WORKER_TOKEN";

struct Options {
  std::string role = "trainer";  // trainer | worker (the worker is started by the trainer)
  std::string trainer;           // worker: host:port of the trainer's ControlServer
  std::string size = "0.5b";
  std::string dtype = "bfloat16";
  std::string device = "cpu";
  double bucket_mb = 256.0;  // rollout.weight_bucket_mb's default
  int64_t reps = 3;
  int64_t warmup = 1;
  bool corrupt_worker = false;  // test hook: the worker flips one bit after each sync
  std::string transport =
      "frames";  // frames | cuda_ipc (what the coordinator picks for a worker on its host)
};

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float32") return torch::kFloat32;
  ZRL_FAIL("--dtype must be bfloat16 or float32, got '{}'", name);
}

int64_t bucket_bytes(const Options& o) { return static_cast<int64_t>(o.bucket_mb * 1048576.0); }

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// CRC-32C of each parameter's bytes (named_parameters order), read on the host: equal lists = equal bits.
std::vector<uint32_t> tensor_crcs(model::CausalLM& lm) {
  std::vector<uint32_t> out;
  for (const auto& item : lm->named_parameters(/*recurse=*/true)) {
    const torch::Tensor host = item.value().detach().to(torch::kCPU).contiguous();
    out.push_back(zerorl::crc32c(host.data_ptr(), static_cast<size_t>(host.numel() * host.element_size())));
  }
  return out;
}

void print_line(const Json& j) {
  std::cout << j.dump() << std::endl;  // one line, flushed: the trainer reads it through a pipe
}

// ---- worker process ----------------------------------------------------------------------------------

// After each complete version: an ack line {"version", "unpack_s"} at once (the trainer's clock stops on
// it), then {"version", "crc32c"} (not timed). Exits 0 on the trainer's Bye.
int run_worker_role(const Options& o) {
  const char* token = std::getenv(kTokenEnv);
  ZRL_CHECK(token != nullptr && !o.trainer.empty(),
            "--role worker is started by the bench itself (it needs --trainer and the token in ${})",
            kTokenEnv);
  const torch::Device device(o.device);
  model::CausalLM lm(zerorl::bench::model_shape(o.size), parse_dtype(o.dtype), device);
  {
    torch::NoGradGuard no_grad;  // a value no random init produces for every tensor: all differ before
    for (auto& p : lm->parameters()) p.fill_(0.125);
  }
  print_line({{"version", 0}, {"crc32c", tensor_crcs(lm)}});
  dist::ControlClient client(o.trainer, token, "bench-worker:" + std::to_string(getpid()),
                             wire::max_body_for_bucket(static_cast<uint64_t>(bucket_bytes(o))));
  auto channel = zerorl::rollout::make_frame_weight_channel(bucket_bytes(o));
  double unpack_s = 0.0;
  while (true) {
    wire::Decoded<wire::Message> msg = client.receive();
    ZRL_CHECK(msg.ok(), "bench worker: {}", msg.error);
    if (std::holds_alternative<wire::Bye>(msg.value)) return 0;
    auto* w = std::get_if<wire::Weights>(&msg.value);
    ZRL_CHECK(w != nullptr, "bench worker: expected weights, got {}",
              wire::type_name(wire::type_of(msg.value)));
    Stopwatch t;
    const uint64_t version = w->version;
    const bool applied = channel->receive(std::move(*w), lm);
    if (applied) sync(device);
    unpack_s += t.seconds();
    if (!applied) continue;
    print_line({{"version", version}, {"unpack_s", unpack_s}});
    unpack_s = 0.0;
    if (o.corrupt_worker) {
      torch::NoGradGuard no_grad;
      torch::Tensor p = lm->parameters().front();
      torch::Tensor host = p.detach().to(torch::kCPU).contiguous();
      static_cast<uint8_t*>(host.data_ptr())[0] ^= 1;
      p.copy_(host);
    }
    print_line({{"version", w->version}, {"crc32c", tensor_crcs(lm)}});
  }
}

// ---- trainer process ---------------------------------------------------------------------------------

// The worker child: its stdout is a pipe of JSON lines; stderr is shared (its log shows beside ours).
class WorkerProcess {
 public:
  WorkerProcess(const Options& o, const std::string& address, const std::string& token) {
    int fds[2];
    ZRL_CHECK(pipe(fds) == 0, "bench: pipe() failed");
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> args = {self,
                                     "--role",
                                     "worker",
                                     "--trainer",
                                     address,
                                     "--model-size",
                                     o.size,
                                     "--dtype",
                                     o.dtype,
                                     "--device",
                                     o.device,
                                     "--bucket-mb",
                                     fmt::format("{}", o.bucket_mb)};
    if (o.corrupt_worker) args.push_back("--corrupt-worker");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = {std::string(kTokenEnv) + "=" + token};
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, kTokenEnv, std::strlen(kTokenEnv)) != 0) env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    const int rc = posix_spawn(&pid_, self.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    ZRL_CHECK(rc == 0, "bench: cannot start the worker process {}: {}", self, std::strerror(rc));
    out_ = fdopen(fds[0], "r");
  }
  ~WorkerProcess() {
    if (out_ != nullptr) std::fclose(out_);
    for (int i = 0; i < 300 && !reaped_; ++i) {  // it exits on Bye or when the connection closes
      if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
      if (!reaped_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!reaped_) kill(pid_, SIGKILL), waitpid(pid_, &status_, 0);  // our own child, by its pid
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() {
    if (!reaped_ && waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
    return reaped_;
  }
  // The next JSON line of the worker; throws when it ended instead.
  Json read_line() {
    char* line = nullptr;
    size_t cap = 0;
    const ssize_t n = getline(&line, &cap, out_);
    const std::string text = n > 0 ? std::string(line, static_cast<size_t>(n)) : std::string();
    std::free(line);
    ZRL_CHECK(n > 0, "bench: the worker process {} ended (its log is on stderr above)", pid_);
    return zerorl::parse_json(text, "the worker's stdout");
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int status_ = 0;
  bool reaped_ = false;
};

std::string random_token() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 32; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

// Waits for the worker's registration; fails early when the worker process dies first.
uint64_t wait_for_join(dist::ControlServer& server, WorkerProcess& worker) {
  for (int waited = 0; waited < 1800; ++waited) {
    if (auto e = server.next_event(1.0)) {
      if (e->kind == dist::ControlEvent::Kind::kJoined) return e->worker;
      ZRL_CHECK(e->kind != dist::ControlEvent::Kind::kLeft, "bench: the worker left: {}", e->reason);
    }
    ZRL_CHECK(!worker.exited(), "bench: the worker process {} exited before registering", worker.pid());
  }
  ZRL_FAIL("bench: the worker did not register within 30 minutes");
}

size_t count_differing(const std::vector<uint32_t>& a, const Json& b) {
  const auto other = b.get<std::vector<uint32_t>>();
  ZRL_CHECK(other.size() == a.size(), "bench: the worker reports {} tensors, the trainer has {}",
            other.size(), a.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != other[i];
  return n;
}

struct SyncContext {
  dist::ControlServer& server;
  uint64_t worker_id;
  WorkerProcess& worker;
  zerorl::rollout::WeightChannel& channel;
  model::CausalLM& lm;
  bool cuda_ipc;  // one message with the IPC handle of a device buffer instead of frames
};

// One sync of version `version` (fresh random weights, seed = version). total_s runs from the start of pack
// to the worker's ack; transfer_s = total_s - pack_s - unpack_s (encode, queue, socket, decode; send_s is
// the encode + queue part on the trainer's thread).
Json sync_once(SyncContext& c, uint64_t version) {
  model::init_random_(c.lm, version);
  sync(c.lm->device());
  const Stopwatch total;
  Stopwatch t;
  std::vector<wire::Weights> frames;
  if (c.cuda_ipc)
    frames.push_back(zerorl::rollout::pack_cuda_ipc(c.lm, version));
  else
    frames = c.channel.pack(c.lm, version);
  const double pack_s = t.seconds();
  t.reset();
  uint64_t bytes = 0;
  for (const auto& f : frames) {
    bytes += c.cuda_ipc ? f.ipc_bytes : f.data.size();
    ZRL_CHECK(c.server.send(c.worker_id, f), "bench: the worker left during the sync of version {}", version);
  }
  const double send_s = t.seconds();
  const Json ack = c.worker.read_line();
  const double total_s = total.seconds();
  ZRL_CHECK(ack.value("version", uint64_t{0}) == version, "bench: ack for version {}, expected {}",
            ack.dump(), version);
  const double unpack_s = ack.at("unpack_s").get<double>();
  const Json crcs = c.worker.read_line();
  const size_t differing = count_differing(tensor_crcs(c.lm), crcs.at("crc32c"));
  return {{"version", version},
          {"bytes", bytes},
          {"buckets", frames.size()},
          {"pack_s", pack_s},
          {"send_s", send_s},
          {"transfer_s", total_s - pack_s - unpack_s},
          {"unpack_s", unpack_s},
          {"total_s", total_s},
          {"gbps", static_cast<double>(bytes) / total_s / 1e9},
          {"tensors_differing", differing},
          {"weights_equal", differing == 0}};
}

// Where transfer_s goes, in this process without a socket: wire::encode and wire::decode of the largest
// bucket of one more pack, beside a plain copy of its bytes (fresh memory) for scale.
Json codec_breakdown(SyncContext& c, uint64_t version, uint32_t max_body) {
  std::vector<wire::Weights> frames = c.channel.pack(c.lm, version);
  const auto largest = std::max_element(frames.begin(), frames.end(), [](const auto& a, const auto& b) {
    return a.data.size() < b.data.size();
  });
  Stopwatch t;
  const std::vector<uint8_t> copy(largest->data);
  const double copy_s = t.seconds();
  t.reset();
  const std::vector<uint8_t> frame = wire::encode(*largest, max_body);
  const double encode_s = t.seconds();
  t.reset();
  const wire::Decoded<wire::Message> back = wire::decode(frame.data(), frame.size(), max_body);
  const double decode_s = t.seconds();
  const auto* w = std::get_if<wire::Weights>(&back.value);
  ZRL_CHECK(back.ok() && w != nullptr && w->data == copy, "bench: a bucket does not survive encode + decode");
  return {{"bucket_bytes", largest->data.size()},
          {"encode_s", encode_s},
          {"decode_s", decode_s},
          {"plain_copy_s", copy_s}};
}

double median_of(const Json& runs, const char* key) {
  std::vector<double> v;
  for (const Json& r : runs) v.push_back(r.at(key).get<double>());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Json summary(const Options& o, int64_t params, const Json& runs, const Json& warmups, size_t differ_before,
             const Json& codec, pid_t worker_pid) {
  bool all_equal = true;
  for (const Json* set : {&runs, &warmups})
    for (const Json& r : *set) all_equal = all_equal && r.at("weights_equal").get<bool>();
  const auto bytes = runs.front().at("bytes").get<uint64_t>();
  Json median = Json::object();
  for (const char* k : {"pack_s", "send_s", "transfer_s", "unpack_s", "total_s"})
    median[k] = median_of(runs, k);
  median["gbps"] = static_cast<double>(bytes) / median["total_s"].get<double>() / 1e9;
  return {
      {"bench", "rollout_workers"},
      {"model", "qwen2.5-" + o.size + " shapes, random weights"},
      {"dtype", o.dtype},
      {"device", o.device},
      {"params", params},
      {"bytes", bytes},
      {"bucket_mb", o.bucket_mb},
      {"buckets", runs.front().at("buckets")},
      {"worker", "separate process (pid " + std::to_string(worker_pid) + "), loopback TCP"},
      {"transport", o.transport},
      {"path", o.transport == "cuda_ipc"
                   ? "CUDA IPC: pack copies the parameters into one cudaMalloc'ed device buffer (device to "
                     "device); one small message carries its IPC handle and table over the control "
                     "connection; the worker opens the handle and copies device to device"
                   : "host-staged: pack copies device -> host into model-dtype buckets; each bucket is one "
                     "CBOR frame (dist/wire.h) over the Boost.Asio control connection; receive copies host "
                     "-> device"},
      {"weights_equal", all_equal},
      {"tensors_differing_before_first_sync", differ_before},
      {"median", median},
      {"codec", codec},
      {"runs", runs},
      {"warmup", warmups},
      {"note",
       "median over runs (warmup syncs are verified but not timed in the median). pack_s: parameters -> "
       "host buckets; transfer_s = total_s - pack_s - unpack_s: encode (send_s, trainer thread), socket, "
       "decode; unpack_s: WeightChannel::receive on the worker (bucket copies + copy into the model, "
       "device-synchronized); gbps = bytes / total_s. weights_equal: CRC-32C of every tensor, worker vs "
       "trainer, after every sync. codec: wire::encode / wire::decode of the largest bucket in one process "
       "(no socket) and a plain copy of its bytes, after the syncs."},
      {"reference",
       "published, not measured here: verl on H20, 7B weights, 0.12 s tensor-by-tensor and 0.02 s bucketed "
       "(NCCL/CUDA IPC, no host staging): another model, path and machine, a point of comparison only"}};
}

int run_trainer_role(const Options& o) {
  ZRL_CHECK(o.reps >= 1 && o.warmup >= 0, "--reps must be >= 1 and --warmup >= 0");
  const std::string token = random_token();
  std::optional<WorkerProcess> worker;  // declared first: destroyed after the server closes the connection
  dist::ControlOptions co;
  co.auth_token = token;
  co.max_body = wire::max_body_for_bucket(static_cast<uint64_t>(bucket_bytes(o)));
  dist::ControlServer server(co);
  worker.emplace(o, server.address(), token);  // builds its model while we build ours
  const torch::Device device(o.device);
  model::CausalLM lm(zerorl::bench::model_shape(o.size), parse_dtype(o.dtype), device);
  int64_t params = 0;
  for (const auto& p : lm->parameters()) params += p.numel();
  const Json before = worker->read_line();
  const uint64_t id = wait_for_join(server, *worker);
  auto channel = zerorl::rollout::make_frame_weight_channel(bucket_bytes(o));
  SyncContext c{server, id, *worker, *channel, lm, o.transport == "cuda_ipc"};
  model::init_random_(lm, 1);
  const size_t differ_before = count_differing(tensor_crcs(lm), before.at("crc32c"));
  Json runs = Json::array(), warmups = Json::array();
  for (int64_t v = 1; v <= o.warmup + o.reps; ++v)
    (v <= o.warmup ? warmups : runs).push_back(sync_once(c, static_cast<uint64_t>(v)));
  server.send(id, wire::Bye{"bench done"});
  for (int i = 0; i < 60; ++i) {  // let the Bye reach the worker before the server closes the connection
    const auto e = server.next_event(1.0);
    if (e && e->kind == dist::ControlEvent::Kind::kLeft) break;
  }
  const Json codec = c.cuda_ipc
                         ? Json(nullptr)  // no frames to encode
                         : codec_breakdown(c, static_cast<uint64_t>(o.warmup + o.reps + 1), co.max_body);
  const Json out = summary(o, params, runs, warmups, differ_before, codec, worker->pid());
  std::cout << out.dump(1) << "\n";
  return out["weights_equal"].get<bool>() ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  zerorl::keep_freed_memory_for_reuse();  // host memory kept as the zerorl binary keeps it
  CLI::App app{"zerorl weight-sync benchmark: trainer process -> rollout worker process (random weights)"};
  Options o;
  app.add_option("--model-size", o.size, "0.5b | 1.5b | tiny (Qwen2.5 shapes)");
  app.add_option("--dtype", o.dtype, "bfloat16 | float32: the worker model's dtype, what travels");
  app.add_option("--device", o.device, "cpu | cuda | cuda:N: where both models live");
  app.add_option("--bucket-mb", o.bucket_mb, "bucket size in MiB (rollout.weight_bucket_mb)");
  app.add_option("--reps", o.reps, "timed syncs (the median is reported)");
  app.add_option("--warmup", o.warmup, "untimed syncs first (still verified)");
  app.add_option("--role", o.role, "trainer (default) | worker (started by the trainer)")
      ->check(CLI::IsMember({"trainer", "worker"}));
  app.add_option("--trainer", o.trainer, "worker role: host:port of the trainer");
  app.add_option("--transport", o.transport, "frames | cuda_ipc (the worker on this host and a CUDA device)")
      ->check(CLI::IsMember({"frames", "cuda_ipc"}));
  app.add_flag("--corrupt-worker", o.corrupt_worker,
               "test hook: the worker flips one bit after each sync (weights_equal must turn false)");
  CLI11_PARSE(app, argc, argv);
  zerorl::log::init(0, "info");  // logs on stderr: stdout is the JSON alone
  try {
    return o.role == "worker" ? run_worker_role(o) : run_trainer_role(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_rollout_workers (%s): %s\n", o.role.c_str(), e.what());
    return 1;
  }
}
