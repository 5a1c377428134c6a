// trainer/rollout_share.cpp: trajectory bytes and the broadcast of rank 0's rollout to every rank (see
// rollout_share.h). Not here: the coordinator (remote_rollout.cpp), the collectives (dist/).
#include "trainer/rollout_share.h"

#include <cstring>
#include <exception>
#include <string>

#include "core/error.h"

namespace zerorl::trainer {

namespace {

template <typename T>
void put(std::vector<uint8_t>& out, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

template <typename T>
void put_array(std::vector<uint8_t>& out, const T* data, size_t n) {
  put(out, static_cast<uint64_t>(n));
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + n * sizeof(T));
}

struct Reader {
  const uint8_t* bytes;
  size_t size, at = 0;
  // Fails unless `count` items of `item` bytes remain (no overflow for any count).
  void need(uint64_t count, size_t item = 1) const {
    ZRL_CHECK(count <= (size - at) / item,
              "rollout share: {} bytes of trajectories end at byte {}, {} x {} more bytes expected", size, at,
              count, item);
  }
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  template <typename T>
  void get_array(std::vector<T>& out) {
    const auto n = get<uint64_t>();
    need(n, sizeof(T));
    out.resize(static_cast<size_t>(n));
    if (n > 0) std::memcpy(out.data(), bytes + at, static_cast<size_t>(n) * sizeof(T));
    at += static_cast<size_t>(n) * sizeof(T);
  }
};

}  // namespace

std::vector<uint8_t> pack_trajectories(const std::vector<rollout::Trajectory>& samples) {
  std::vector<uint8_t> out;
  put(out, static_cast<uint64_t>(samples.size()));
  for (const auto& s : samples) {
    put(out, s.prompt_index);
    put(out, s.sample_index);
    put(out, static_cast<int32_t>(s.finish));
    put_array(out, s.tokens.data(), s.tokens.size());
    put_array(out, s.logprobs.data(), s.logprobs.size());
    put_array(out, s.logprobs_policy.data(), s.logprobs_policy.size());
    put_array(out, s.text.data(), s.text.size());
  }
  return out;
}

std::vector<rollout::Trajectory> unpack_trajectories(const uint8_t* bytes, size_t size) {
  Reader r{bytes, size};
  const auto n = r.get<uint64_t>();
  r.need(n, 8);  // every trajectory takes more than 8 bytes: a corrupt count fails before allocating
  std::vector<rollout::Trajectory> out(static_cast<size_t>(n));
  for (auto& s : out) {
    s.prompt_index = r.get<int64_t>();
    s.sample_index = r.get<int64_t>();
    s.finish = static_cast<rollout::FinishReason>(r.get<int32_t>());
    r.get_array(s.tokens);
    r.get_array(s.logprobs);
    r.get_array(s.logprobs_policy);
    std::vector<char> text;
    r.get_array(text);
    s.text.assign(text.begin(), text.end());
  }
  ZRL_CHECK(r.at == size, "rollout share: {} bytes of trajectories hold {} trailing bytes after {} samples",
            size, size - r.at, n);
  return out;
}

std::vector<rollout::Trajectory> shard_samples(std::vector<rollout::Trajectory> samples, PromptShard shard) {
  std::vector<rollout::Trajectory> out;
  for (auto& s : samples) {
    if (s.prompt_index < shard.begin || s.prompt_index >= shard.begin + shard.count) continue;
    out.push_back(std::move(s));
    out.back().prompt_index -= shard.begin;
  }
  return out;
}

rollout::RolloutResult share_rollout(dist::Communicator& comm,
                                     const std::function<rollout::RolloutResult()>& collect,
                                     PromptShard shard) {
  std::vector<uint8_t> bytes;
  std::exception_ptr failed;
  if (comm.rank() == 0) {
    try {
      bytes = pack_trajectories(collect().samples);
    } catch (const std::exception& e) {
      failed = std::current_exception();
      const std::string what = e.what();
      bytes.assign(what.begin(), what.end());
    }
  }
  // Header first (status, payload bytes): the other ranks size their buffer from it.
  auto head =
      torch::tensor({failed ? int64_t{1} : int64_t{0}, static_cast<int64_t>(bytes.size())}, torch::kInt64)
          .to(comm.device());
  comm.broadcast(head, 0);
  head = head.cpu();
  const bool error = head[0].item<int64_t>() != 0;
  const int64_t n = head[1].item<int64_t>();
  auto payload = torch::empty({n}, torch::kUInt8);
  if (comm.rank() == 0 && n > 0) std::memcpy(payload.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  payload = payload.to(comm.device());
  if (n > 0) comm.broadcast(payload, 0);
  payload = payload.cpu().contiguous();
  const auto* data = payload.data_ptr<uint8_t>();
  if (failed) std::rethrow_exception(failed);
  if (error) {
    ZRL_FAIL("rank 0's rollout coordinator failed, so this rank stops too: {}",
             std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(n)));
  }
  rollout::RolloutResult res;
  res.samples = shard_samples(unpack_trajectories(data, static_cast<size_t>(n)), shard);
  for (const auto& s : res.samples) res.new_tokens += static_cast<int64_t>(s.tokens.size());
  return res;
}

}  // namespace zerorl::trainer
