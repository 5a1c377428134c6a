// tests/dist/test_rollout_faults.cpp: rollout workers under faults, with processes this test starts on
// loopback: a hung (SIGSTOPped) worker is dropped for missing heartbeats and its groups re-queued; a trainer
// killed with SIGKILL loses the workers that cannot wait, the others reconnect to the trainer resumed with
// --resume auto, and the run equals an uninterrupted one bit for bit. Not here: a killed worker, bit-identity
// to colocated (test_rollout_workers.cpp), heartbeats at the socket level (test_control.cpp).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/dist/rollout_workers_helpers.h"

namespace fs = std::filesystem;

namespace zerorl {
namespace {

using testing::Children;
using testing::coordinator_address;
using testing::fresh_run;
using testing::kThreeSteps;
using testing::plus;
using testing::poll_until;
using testing::spawn_logged;
using testing::steps_logged;
using testing::text_of;
using testing::wait_exit;
using testing::zerorl_tiny;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A loopback port free a moment ago (bound to port 0, read back, closed): the trainer and its resumed self
// both listen there, and the workers reconnect to it.
uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (fd >= 0) close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

// A worker frozen with SIGSTOP (not killed: its socket stays open) sends no heartbeats; the coordinator drops
// it after 3.5 periods and the step completes on the other worker (a step ends only when every group's slot
// is filled once: trainer/remote_rollout.cpp).
TEST(RolloutFaults, AStoppedWorkerIsDroppedForMissingHeartbeats) {
  const std::string b = fresh_run("hung");
  const std::string token = b + "_token";
  write_file_atomic(token, "hung secret\n");
  const std::vector<std::string> remote{"--set", "rollout.auth_token_file=" + token};
  Children children;
  const pid_t trainer = children.start(
      zerorl_tiny("train", plus(plus(kThreeSteps, remote),
                                {"--set", "run.output_dir=" + b, "--set", "rollout.mode=workers", "--set",
                                 "rollout.workers=2", "--set", "rollout.worker_wait_s=120", "--set",
                                 "rollout.heartbeat_s=1"})),
      b + ".log");
  const std::string address = coordinator_address(b + ".log");
  ASSERT_FALSE(address.empty()) << text_of(b + ".log");
  const pid_t w1 = children.worker(remote, address, b + "_w1.log");
  const pid_t w2 = children.worker(remote, address, b + "_w2.log");
  // Frozen after step 1: the next step (well within the 3.5 s timeout) sends it groups it never answers.
  ASSERT_TRUE(poll_until([&] { return steps_logged(b) >= 1; }, 120.0)) << text_of(b + ".log");
  kill(w1, SIGSTOP);
  ASSERT_EQ(children.wait(trainer), 0) << text_of(b + ".log");
  EXPECT_EQ(children.wait(w2), 0) << text_of(b + "_w2.log");
  kill(w1, SIGKILL);  // a stopped process dies of SIGKILL too; then it is reaped: nothing is left behind
  EXPECT_EQ(children.wait(w1), 128 + SIGKILL);

  const std::string log = text_of(b + ".log");
  EXPECT_NE(log.find("no heartbeat for"), std::string::npos) << log;
  const auto rows = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(rows.size(), 3u);
  int64_t requeued = 0;
  for (const auto& row : rows) {
    requeued += row["rollout/requeued_groups"].get<int64_t>();
  }
  EXPECT_GE(requeued, 1) << "the stopped worker held groups of a step";
  EXPECT_EQ(rows.back()["rollout/workers"], 1) << rows.back().dump();
}

// kill -9 of the trainer after step 2's checkpoint is sealed. A worker without --reconnect-s exits 1 within
// seconds saying it lost the trainer; two with --reconnect-s wait, register with the trainer restarted by
// `--resume auto` on the same port, get its weights first and finish the run. Metrics, samples and final
// weights equal an uninterrupted colocated run bit for bit (synchronous, algo.old_logprobs=recompute), so no
// prompt was skipped or repeated (the data order would shift every later step's prompts).
TEST(RolloutFaults, TrainerKilledThenResumedAutoWithReconnectingWorkers) {
  const std::vector<std::string> four{"--set", "trainer.steps=4", "--set", "trainer.save_every=1"};
  const std::string a = fresh_run("resume_colocated"), b = fresh_run("resume_workers");
  ASSERT_EQ(
      wait_exit(spawn_logged(
          zerorl_tiny("train", plus(plus(kThreeSteps, four), {"--set", "run.output_dir=" + a})), a + ".log")),
      0)
      << text_of(a + ".log");

  const std::string token = b + "_token";
  write_file_atomic(token, "resume secret\n");
  const std::vector<std::string> remote{"--set", "rollout.auth_token_file=" + token};
  const uint16_t port = free_port();
  ASSERT_NE(port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> run =
      plus(plus(plus(kThreeSteps, four), remote),
           {"--set", "run.output_dir=" + b, "--set", "rollout.mode=workers", "--set",
            "rollout.listen=" + address, "--set", "rollout.worker_wait_s=60"});
  Children children;
  const pid_t trainer =
      children.start(zerorl_tiny("train", plus(run, {"--set", "rollout.workers=3"})), b + ".log");
  ASSERT_EQ(coordinator_address(b + ".log"), address) << text_of(b + ".log");
  const std::vector<std::string> patient = plus(remote, {"--reconnect-s", "60"});
  const pid_t w1 = children.worker(patient, address, b + "_w1.log");
  const pid_t w2 = children.worker(patient, address, b + "_w2.log");
  const pid_t w3 = children.worker(remote, address, b + "_w3.log");
  ASSERT_TRUE(poll_until([&] { return fs::exists(b + "/checkpoints/step_2"); }, 120.0))
      << text_of(b + ".log");
  kill(trainer, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(children.wait(trainer), 128 + SIGKILL)
      << "the run ended before the kill: " << text_of(b + ".log");
  EXPECT_EQ(children.wait(w3), 1) << text_of(b + "_w3.log");
  EXPECT_LT(seconds_since(killed), 15.0) << "a worker must notice a dead trainer within seconds";
  EXPECT_NE(text_of(b + "_w3.log").find("lost the trainer"), std::string::npos) << text_of(b + "_w3.log");
  const size_t logged_before = steps_logged(b);

  const pid_t resumed =
      children.start(zerorl_tiny("train", plus(run, {"--set", "rollout.workers=2", "--resume", "auto"})),
                     b + "_resumed.log");
  ASSERT_EQ(children.wait(resumed), 0) << text_of(b + "_resumed.log");
  for (pid_t w : {w1, w2}) EXPECT_EQ(children.wait(w), 0);
  for (const std::string& w : {b + "_w1.log", b + "_w2.log"}) {
    const std::string log = text_of(w);
    EXPECT_EQ(count_of(log, "registered with " + address), 2u) << log;
    EXPECT_NE(log.find("reconnecting"), std::string::npos) << log;
    EXPECT_NE(log.find("done after"), std::string::npos) << log;
  }

  const auto ra = read_jsonl(a + "/metrics.jsonl"), rb = read_jsonl(b + "/metrics.jsonl");
  ASSERT_EQ(ra.size(), 4u);
  ASSERT_EQ(rb.size(), 4u) << "steps logged before the kill: " << logged_before;
  for (size_t i = 0; i < rb.size(); ++i) {
    EXPECT_EQ(rb[i]["step"], i + 1);
    for (const char* k : {"reward_mean", "accuracy", "format_rate", "response_len_mean", "groups_sampled",
                          "entropy", "pg_loss", "grad_norm"}) {
      EXPECT_EQ(ra[i][k], rb[i][k]) << "step " << i + 1 << " " << k;
    }
  }
  const auto sa = read_jsonl(a + "/samples.jsonl"), sb = read_jsonl(b + "/samples.jsonl");
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i]["step"], sb[i]["step"]) << i;
    EXPECT_EQ(sa[i]["prompt"], sb[i]["prompt"]) << i;
    EXPECT_EQ(sa[i]["response"], sb[i]["response"]) << i;
  }
  const std::string wa = read_file(a + "/checkpoints/step_4/model.safetensors");
  EXPECT_FALSE(wa.empty());
  EXPECT_TRUE(wa == read_file(b + "/checkpoints/step_4/model.safetensors")) << "step-4 weights differ";
}

}  // namespace
}  // namespace zerorl
