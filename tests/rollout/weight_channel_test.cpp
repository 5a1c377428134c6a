// tests/rollout/weight_channel_test.cpp: the frame weight channel: a model's parameters packed into buckets
// (through the wire encoding) arrive bit-exact in another replica, version by version; mismatches are named.
// Not here: the sockets that carry the frames (tests/dist/test_control.cpp).
#include "rollout/weight_channel.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "model/checkpoint.h"
#include "tests/test_paths.h"

namespace zerorl::rollout {
namespace {

namespace wire = dist::wire;

model::CausalLM load(const std::string& name) {
  return model::load_model(testing::fixture_dir() + "/models/" + name);
}

// Every frame through encode/decode, as on the connection.
wire::Weights over_the_wire(const wire::Weights& w) {
  const auto frame = wire::encode(w, wire::max_body_for_bucket(w.data.size()));
  auto d = wire::decode(frame.data(), frame.size(), wire::max_body_for_bucket(w.data.size()));
  EXPECT_TRUE(d.ok()) << d.error;
  return std::get<wire::Weights>(d.value);
}

TEST(WeightChannel, ReplicaGetsTheTrainersWeightsBitExact) {
  model::CausalLM trainer = load("tiny-qwen2"), worker = load("tiny-qwen2");
  {
    torch::NoGradGuard ng;
    for (auto& p : worker->parameters()) p.normal_();  // the replica starts elsewhere
  }
  auto sender = make_frame_weight_channel(4096), receiver = make_frame_weight_channel(4096);
  std::vector<wire::Weights> frames = sender->pack(trainer, 1);
  ASSERT_GT(frames.size(), 2u) << "a 4 KiB bucket size must split the tiny model";
  std::map<std::string, int> pieces;  // slices per tensor
  for (const auto& f : frames) {
    EXPECT_EQ(f.buckets, frames.size());
    EXPECT_LE(f.data.size(), 4096u) << "no bucket exceeds the bucket size, whatever the tensor sizes";
    for (const auto& t : f.tensors) ++pieces[t.name];
  }
  const int64_t embed_bytes = trainer->named_parameters()["model.embed_tokens.weight"].nbytes();
  ASSERT_GT(embed_bytes, 4096) << "the fixture's embedding must exceed a bucket for this test";
  EXPECT_EQ(pieces["model.embed_tokens.weight"], (embed_bytes + 4095) / 4096)
      << "split into bucket-size slices";
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(receiver->receive(over_the_wire(frames[i]), worker), i + 1 == frames.size()) << i;
  }
  EXPECT_EQ(receiver->applied_version(), 1u);
  auto a = trainer->named_parameters(), b = worker->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), *b.find(item.key()))) << item.key();

  // Version 2 after an update; buckets out of order still assemble.
  {
    torch::NoGradGuard ng;
    for (auto& p : trainer->parameters()) p.add_(0.5);
  }
  frames = sender->pack(trainer, 2);
  std::reverse(frames.begin(), frames.end());
  for (const auto& f : frames) receiver->receive(over_the_wire(f), worker);
  EXPECT_EQ(receiver->applied_version(), 2u);
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), *b.find(item.key()))) << item.key();
}

// A trainer on CUDA packs one shared buffer (pack_shared, behind pack_cuda_ipc); a worker on another host
// gets frames cut from it at bucket edges. On the CPU the same buffer code runs without the handle.
TEST(WeightChannel, FramesCutFromASharedBufferRebuildTheWeights) {
  model::CausalLM trainer = load("tiny-qwen2"), worker = load("tiny-qwen2");
  {
    torch::NoGradGuard ng;
    for (auto& p : worker->parameters()) p.normal_();
  }
  const wire::Weights shared = pack_shared(trainer, 3);
  EXPECT_TRUE(shared.ipc_handle.empty() && shared.data.empty());
  int64_t param_bytes = 0;
  for (const auto& p : trainer->parameters()) param_bytes += p.nbytes();
  EXPECT_GE(shared.ipc_bytes, static_cast<uint64_t>(param_bytes));
  EXPECT_LT(shared.ipc_bytes, static_cast<uint64_t>(param_bytes) + 256 * shared.tensors.size()) << "padding";
  std::vector<wire::Weights> frames = frames_from_shared(shared, 1000);  // edges at 768-byte multiples
  ASSERT_GT(frames.size(), 2u);
  auto receiver = make_frame_weight_channel(1000);
  for (const auto& f : frames) {
    EXPECT_LE(f.data.size(), 768u);
    receiver->receive(over_the_wire(f), worker);
  }
  EXPECT_EQ(receiver->applied_version(), 3u);
  for (const auto& item : trainer->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), worker->named_parameters()[item.key()])) << item.key();
  }
}

// A slice missing from a split tensor (or out of order) is an error naming the tensor, never a partial copy.
TEST(WeightChannel, ASplitTensorMustArriveWhole) {
  model::CausalLM trainer = load("tiny-qwen2"), worker = load("tiny-qwen2");
  auto sender = make_frame_weight_channel(4096), receiver = make_frame_weight_channel(4096);
  std::vector<wire::Weights> frames = sender->pack(trainer, 1);
  auto split = std::find_if(frames.begin(), frames.end(), [](const wire::Weights& f) {
    return f.tensors.size() == 1 && f.tensors[0].start > 0;  // a middle or last slice of a large tensor
  });
  ASSERT_NE(split, frames.end());
  const std::string name = split->tensors[0].name;
  split->tensors[0].start += split->tensors[0].nbytes == 4096 ? 4096 : 2;  // a gap before this slice
  try {
    for (const auto& f : frames) receiver->receive(f, worker);
    FAIL() << "no error";
  } catch (const zerorl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor '" + name + "' slice starts at byte"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(receiver->applied_version(), 0u);
}

TEST(WeightChannel, AMismatchedModelIsNamed) {
  model::CausalLM trainer = load("tiny-qwen2"), worker = load("tiny-qwen2");
  auto channel = make_frame_weight_channel(1 << 20);
  std::vector<wire::Weights> frames = channel->pack(trainer, 1);
  ASSERT_EQ(frames.size(), 1u);
  frames[0].tensors[0].name = "no.such.weight";
  try {
    channel->receive(frames[0], worker);
    FAIL() << "no error";
  } catch (const zerorl::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'no.such.weight' is not a parameter"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace zerorl::rollout
