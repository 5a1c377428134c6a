// tests/trainer/test_pipeline_runs.cpp: `zerorl pipeline` as a process on the toy stages of
// examples/pipeline/toy_distill.yaml (train -> sample -> sft -> eval): a full run; the same pipeline killed
// inside its sft stage and resumed; and one interrupted between stages (its later stage folders gone), both
// ending in the same state as the uninterrupted run; a finished pipeline skips every stage. Not here: the
// stages' own tests (test_runs.cpp, test_sample_runs.cpp, test_sft_runs.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "core/json_io.h"
#include "tests/run_process.h"

namespace fs = std::filesystem;

namespace zerorl::trainer {
namespace {

// examples/pipeline/toy_distill.yaml with output_dir = `out` and absolute config paths.
std::string write_pipeline(const std::string& out) {
  std::string text = read_file(testing::source_dir() + "/examples/pipeline/toy_distill.yaml");
  for (size_t p = text.find("config: configs/"); p != std::string::npos;
       p = text.find("config: configs/", p + 1))
    text.replace(p, 8, "config: " + testing::source_dir() + "/");
  const size_t o = text.find("output_dir: runs/toy_distill");
  text.replace(o, std::string("output_dir: runs/toy_distill").size(), "output_dir: " + out);
  const std::string path = out + ".yaml";
  std::ofstream(path) << text;
  return path;
}

pid_t spawn_pipeline(const std::string& out) {
  return testing::spawn_logged(
      {testing::binary_dir() + "/zerorl", "pipeline", "--config", write_pipeline(out)}, out + ".log");
}

std::string fresh(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / name).string();
  zerorl::remove_tree(d);
  fs::remove(d + ".log");
  return d;
}

// What must be equal between two runs: the student's weights, the samples, the final eval (timing removed).
struct EndState {
  std::string student, samples;
  Json eval;
};
EndState end_state(const std::string& out) {
  EndState s;
  s.student = read_file(out + "/student/checkpoints/step_40/model.safetensors");
  // Provenance names the teacher's folder, which is under `out`: compare without it.
  for (Json line : read_jsonl(out + "/samples/sample/sft.jsonl")) {
    line["provenance"].erase("model");
    s.samples += line.dump() + "\n";
  }
  s.eval = read_json(out + "/final/eval/eval.json");
  s.eval.erase("seconds");
  return s;
}
void expect_same(const EndState& a, const EndState& b, const std::string& what) {
  EXPECT_TRUE(a.student == b.student) << what << ": student weights differ";
  EXPECT_TRUE(a.samples == b.samples) << what << ": samples differ";
  EXPECT_EQ(a.eval, b.eval) << what;
}

TEST(PipelineRuns, ResumesInsideAndBetweenStagesToTheSameEndState) {
  const std::string a = fresh("zrl_pipe_a"), b = fresh("zrl_pipe_b");
  ASSERT_EQ(testing::wait_exit(spawn_pipeline(a)), 0) << read_file(a + ".log");
  const Json summary = read_json(a + "/pipeline_summary.json");
  ASSERT_EQ(summary["stages"].size(), 4u);
  EXPECT_EQ(summary["stages"][2]["kind"], "sft");
  EXPECT_TRUE(summary["stages"][3].contains("accuracy"));
  const EndState ref = end_state(a);
  EXPECT_FALSE(ref.samples.empty());

  // Inside a stage: killed after the student's step-2 checkpoint.
  const pid_t pid = spawn_pipeline(b);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (!fs::exists(b + "/student/checkpoints/step_2/manifest.json") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  EXPECT_EQ(testing::wait_exit(pid), 128 + SIGKILL);
  ASSERT_TRUE(fs::exists(b + "/samples/stage.json"));
  ASSERT_FALSE(fs::exists(b + "/student/stage.json")) << "the kill came too late to test anything";
  ASSERT_EQ(testing::wait_exit(spawn_pipeline(b)), 0) << read_file(b + ".log");
  expect_same(ref, end_state(b), "killed inside sft");

  // Between stages: the teacher and samples finished, nothing after them started.
  zerorl::remove_tree(b + "/student");
  zerorl::remove_tree(b + "/final");
  ASSERT_EQ(testing::wait_exit(spawn_pipeline(b)), 0) << read_file(b + ".log");
  expect_same(ref, end_state(b), "stopped between stages");

  // Finished: every stage is skipped, nothing is rewritten.
  const std::string teacher_done = read_file(a + "/teacher/stage.json");
  ASSERT_EQ(testing::wait_exit(spawn_pipeline(a)), 0) << read_file(a + ".log");
  EXPECT_EQ(read_file(a + "/teacher/stage.json"), teacher_done);
  EXPECT_NE(read_file(a + ".log").find("stage final (eval) is done: skipped"), std::string::npos);
}

}  // namespace
}  // namespace zerorl::trainer
