// tests/rollout/weight_channel_test.cpp: the frame weight channel: a model's parameters packed into buckets
// (through the wire encoding) arrive bit-exact in another replica, version by version; mismatches are named.
// Not here: the sockets that carry the frames (tests/dist/test_control.cpp).
#include "rollout/weight_channel.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

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
  for (const auto& f : frames) {
    EXPECT_EQ(f.buckets, frames.size());
    EXPECT_TRUE(f.data.size() <= 4096 || f.tensors.size() == 1) << "a bucket over the limit holds one tensor";
  }
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
