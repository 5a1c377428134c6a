// tests/verifiers/external/test_process_pool.cpp: ExternalVerifier against real python3 workers:
// rewards and order over a pool, workers that exit, crash, hang or print garbage, max_restarts, zombies.
// Not here: plugins, remote servers, bridges (their own tests).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "tests/verifiers/external/test_helpers.h"
#include "verifiers/external/process_pool.h"

namespace zerorl::verifiers::external {
namespace {
using zerorl::testing::kPython;
using zerorl::testing::TempDir;

// One script, behaviour chosen by argv[1]:
//   plain:      reward 1 when response == gold (after strip), info.pid = the worker's pid
//   exit3:      like plain, but exits right after its third reply
//   crash3:     exits without replying to its third request
//   boom:       exits without replying when response == "boom"
//   hang:       on response == "hang" starts a `sleep 300` child (pid written to argv[2]) and waits
//   garbage:    replies with a non-JSON line when response == "garbage"
//   allgarbage: every reply is garbage
const char* kWorker = R"PY(
import json, os, subprocess, sys
mode = sys.argv[1]
n = 0
for line in sys.stdin:
    req = json.loads(line)
    n += 1
    resp = req["response"]
    if mode == "crash3" and n == 3: sys.exit(3)
    if mode == "boom" and resp == "boom": os._exit(7)
    if mode == "hang" and resp == "hang":
        child = subprocess.Popen(["sleep", "300"])
        with open(sys.argv[2], "a") as f: f.write("%d\n" % child.pid)
        child.wait()
    if mode == "allgarbage" or (mode == "garbage" and resp == "garbage"):
        print("this is not json", flush=True)
        continue
    ok = resp.strip() == req["gold"].strip()
    print(json.dumps({"id": req["id"], "reward": 1.0 if ok else 0.0, "correct": ok,
                      "info": {"pid": os.getpid(), "n": n}}), flush=True)
    if mode == "exit3" and n == 3: sys.exit(0)
)PY";

struct Fixture : ::testing::Test {
  TempDir dir;
  std::string script = dir.write("worker.py", kWorker);

  ExternalOptions options(const std::string& mode, int workers, double timeout_s = 10.0) {
    ExternalOptions o;
    o.name = "test_" + mode;
    o.command = {kPython, script, mode, dir.path() + "/grandchildren.txt"};
    o.workers = workers;
    o.timeout_s = timeout_s;
    return o;
  }
  // Sample i: gold "i"; response "i" (correct) unless i % 3 == 0, or `special` at the given indices.
  static std::vector<Sample> samples(int n, const std::set<int>& special = {}, const std::string& word = "") {
    std::vector<Sample> out;
    for (int i = 0; i < n; ++i) {
      Sample s;
      s.gold = std::to_string(i);
      s.response = special.count(i) ? word : (i % 3 == 0 ? "wrong" : std::to_string(i));
      out.push_back(s);
    }
    return out;
  }
  // Reference: what a correct worker answers for samples().
  static void expect_plain(const std::vector<Verdict>& v, int i) {
    const bool ok = i % 3 != 0;
    EXPECT_EQ(v[i].correct, ok) << "sample " << i << ": " << v[i].status << " " << v[i].reason;
    EXPECT_DOUBLE_EQ(v[i].reward, ok ? 1.0 : 0.0) << "sample " << i;
    EXPECT_EQ(v[i].status, ok ? "ok" : "wrong") << "sample " << i;
  }
  // A worker that just exited is a zombie until the pool notices (milliseconds): poll, bounded.
  static void expect_no_zombies() {
    std::vector<pid_t> zombies;
    for (int tries = 0; tries < 100; ++tries) {
      zombies.clear();
      for (const auto& c : zerorl::testing::children_of_self())
        if (c.state == 'Z') zombies.push_back(c.pid);
      if (zombies.empty()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "zombie children after 1 s: " << zombies.size() << ", e.g. pid " << zombies.front();
  }
};

TEST_F(Fixture, RewardsAndOrderAcrossFourWorkers) {
  std::set<int> pids;
  {
    ExternalVerifier v(options("plain", 4));
    EXPECT_EQ(v.worker_pids().size(), 4u);
    const auto s = samples(200);
    const auto out = v.verify_batch(s);
    ASSERT_EQ(out.size(), s.size());
    for (int i = 0; i < 200; ++i) {
      expect_plain(out, i);
      pids.insert(out[i].info.at("pid").get<int>());
    }
    EXPECT_GT(pids.size(), 1u) << "work was not spread over the pool";
    // verify() and concurrent batches from several threads.
    EXPECT_TRUE(v.verify(s[1]).correct);
    std::vector<std::thread> threads;
    std::vector<std::vector<Verdict>> results(4);
    for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { results[t] = v.verify_batch(samples(30)); });
    for (auto& t : threads) t.join();
    for (auto& r : results)
      for (int i = 0; i < 30; ++i) expect_plain(r, i);
    EXPECT_EQ(v.stats().restarts, 0);
    expect_no_zombies();
  }
  EXPECT_TRUE(zerorl::testing::children_of_self().empty()) << "workers left after the verifier";
  for (int pid : pids) EXPECT_FALSE(zerorl::testing::process_exists(pid));
}

TEST_F(Fixture, WorkerExitingAfterEveryThirdReplyLosesNothing) {
  ExternalVerifier v(options("exit3", 2));
  const auto out = v.verify_batch(samples(30));
  for (int i = 0; i < 30; ++i) expect_plain(out, i);
  const auto st = v.stats();
  EXPECT_GE(st.recycled + st.restarts, 8);  // idle exits are recycled; one caught mid-request is a restart
  expect_no_zombies();
  EXPECT_EQ(v.worker_pids().size(), 2u);
}

TEST_F(Fixture, WorkerCrashingOnEveryThirdRequestIsRetriedElsewhere) {
  {  // One worker: the retry always lands on a fresh worker, so nothing is lost.
    ExternalVerifier v(options("crash3", 1));
    const auto out = v.verify_batch(samples(20));
    for (int i = 0; i < 20; ++i) expect_plain(out, i);
    EXPECT_EQ(v.stats().crashes, 9);  // requests 3, 5, 7, ...: every second one after the first crash
  }
  // Four workers: a retry may land on another worker at its third request; then the verdict says so.
  ExternalVerifier v(options("crash3", 4));
  const auto out = v.verify_batch(samples(40));
  for (int i = 0; i < 40; ++i) {
    if (out[i].status == "error") {
      EXPECT_NE(out[i].reason.find("exited with code 3"), std::string::npos) << out[i].reason;
    } else {
      expect_plain(out, i);
    }
  }
  EXPECT_GE(v.stats().crashes, 10);
  expect_no_zombies();
}

TEST_F(Fixture, SampleThatAlwaysCrashesItsWorkerGetsError) {
  ExternalVerifier v(options("boom", 3));
  const auto out = v.verify_batch(samples(20, {4, 11}, "boom"));
  for (int i = 0; i < 20; ++i) {
    if (i == 4 || i == 11) {
      EXPECT_EQ(out[i].status, "error");
      EXPECT_NE(out[i].reason.find("exited with code 7"), std::string::npos) << out[i].reason;
      EXPECT_FALSE(out[i].correct);
    } else {
      expect_plain(out, i);
    }
  }
  EXPECT_EQ(v.stats().crashes, 4);  // each bad sample: first try + retry
  expect_no_zombies();
}

// A worker's death leaves epoll events queued for its pipes; asio may hand their state to the replacement's
// pipe, whose idle watch then wakes with nothing to read. That wake once killed the healthy replacement as
// "exited" and counted a crash. Many deaths in a row, on a loaded machine, made it show.
TEST_F(Fixture, ManyCrashesNeverCostAHealthyWorker) {
  ExternalVerifier v(options("boom", 3));
  const int rounds = 24;  // 48 restarts, under max_restarts
  for (int round = 0; round < rounds; ++round) {
    // The crash comes last, so the replacement starts with nothing queued: it sits in the idle watch.
    const auto out = v.verify_batch(samples(4, {3}, "boom"));
    for (int i = 0; i < 3; ++i) expect_plain(out, i);
    EXPECT_EQ(out[3].status, "error") << out[3].reason;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let a false idle wake show, if any
  const auto st = v.stats();
  EXPECT_EQ(st.crashes, 2 * rounds);  // first try + retry
  EXPECT_EQ(st.restarts, st.crashes);
  expect_no_zombies();
}

TEST_F(Fixture, HangingWorkerTimesOutAndItsChildrenDie) {
  const double timeout = 0.5;
  ExternalVerifier v(options("hang", 2, timeout));
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = v.verify_batch(samples(12, {2, 7}, "hang"));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < 12; ++i) {
    if (i == 2 || i == 7) {
      EXPECT_EQ(out[i].status, "timeout");
      EXPECT_FALSE(out[i].correct);
    } else {
      expect_plain(out, i);
    }
  }
  EXPECT_LT(secs, 2 * timeout + 3.0);  // two timeouts may run in parallel; slack for python start-up
  EXPECT_EQ(v.stats().timeouts, 2);
  std::ifstream in(dir.path() + "/grandchildren.txt");
  int pid = 0, seen = 0;
  while (in >> pid) {
    ++seen;
    // Killed with the worker's process group; the kill lands asynchronously (see gone_within).
    EXPECT_TRUE(zerorl::testing::gone_within(pid, 5.0)) << "grandchild sleep " << pid << " survived";
  }
  EXPECT_EQ(seen, 2);
  expect_no_zombies();
}

TEST_F(Fixture, GarbageReplyIsAnErrorVerdictAndTheWorkerIsReplaced) {
  ExternalVerifier v(options("garbage", 4));
  const auto out = v.verify_batch(samples(30, {5, 6, 20}, "garbage"));
  for (int i = 0; i < 30; ++i) {
    if (i == 5 || i == 6 || i == 20) {
      EXPECT_EQ(out[i].status, "error");
      EXPECT_NE(out[i].reason.find("malformed reply"), std::string::npos) << out[i].reason;
    } else {
      expect_plain(out, i);
    }
  }
  EXPECT_EQ(v.stats().malformed, 3);
  EXPECT_EQ(v.stats().restarts, 3);
  expect_no_zombies();
}

TEST_F(Fixture, MaxRestartsSpentGivesEveryLaterSampleAnError) {
  auto o = options("allgarbage", 2);
  o.max_restarts = 3;
  ExternalVerifier v(o);
  const auto out = v.verify_batch(samples(10));
  ASSERT_EQ(out.size(), 10u);
  int malformed = 0, no_worker = 0;
  for (const auto& x : out) {
    EXPECT_EQ(x.status, "error");
    malformed += x.reason.find("malformed") != std::string::npos;
    no_worker += x.reason.find("max_restarts = 3 spent") != std::string::npos;
  }
  EXPECT_EQ(malformed, 5);  // 2 workers + 3 replacements, one reply each
  EXPECT_EQ(no_worker, 5);
  EXPECT_EQ(v.stats().live_workers, 0);
  EXPECT_EQ(v.verify_batch(samples(2))[1].status, "error");
  EXPECT_TRUE(zerorl::testing::children_of_self().empty());
}

TEST_F(Fixture, CommandThatCannotStartFailsAtConstruction) {
  ExternalOptions o;
  o.name = "nope";
  o.command = {dir.path() + "/no_such_program"};
  try {
    ExternalVerifier v(o);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_program"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("verifiers.external.nope.command"), std::string::npos) << e.what();
  }
  o.command.clear();
  EXPECT_THROW(ExternalVerifier{o}, std::exception);
}

}  // namespace
}  // namespace zerorl::verifiers::external
