// verifiers/pool.cpp: the deadline-enforcing verifier thread pool. Workers are detached threads that
// share state through a shared_ptr, so a worker stuck in a runaway verification can outlive the batch
// (and the pool) safely. Not here: verification logic.
#include "verifiers/pool.h"

#include <mpfr.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace zerorl::verifiers {

using Clock = std::chrono::steady_clock;

namespace {
enum class TaskState { Queued, Running, Done, Abandoned };
struct Task {
  std::shared_ptr<const Verifier> verifier;
  Sample sample;
  Verdict result;
  TaskState state = TaskState::Queued;
  Clock::time_point started;
};
}  // namespace

struct PoolShared {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::deque<std::shared_ptr<Task>> queue;
  bool stop = false;
  int live = 0;    // threads alive
  int stuck = 0;   // threads still running an abandoned (timed-out) item
  int wanted = 0;  // threads that should be serving (base + replacements for stuck ones)
  int cap = 0;
};

namespace {

Verdict run_one(const Task& t) {
  try {
    return t.verifier->verify(t.sample);
  } catch (const std::exception& e) {
    Verdict v;
    v.status = "error";
    v.reason = std::string("verifier threw: ") + e.what();
    return v;
  } catch (...) {
    Verdict v;
    v.status = "error";
    v.reason = "verifier threw a non-standard exception";
    return v;
  }
}

void worker(std::shared_ptr<PoolShared> sh) {
  std::unique_lock<std::mutex> lock(sh->mu);
  for (;;) {
    sh->work_cv.wait(lock, [&] { return sh->stop || !sh->queue.empty() || sh->live > sh->wanted; });
    if (sh->stop || sh->live > sh->wanted) break;
    std::shared_ptr<Task> t = sh->queue.front();
    sh->queue.pop_front();
    t->state = TaskState::Running;
    t->started = Clock::now();
    lock.unlock();
    Verdict v = run_one(*t);
    lock.lock();
    if (t->state == TaskState::Running) {
      t->result = std::move(v);
      t->state = TaskState::Done;
    } else {
      --sh->wanted;  // this worker was replaced when its item timed out; now it retires
      --sh->stuck;
    }
    sh->done_cv.notify_all();
  }
  --sh->live;
  sh->done_cv.notify_all();
  lock.unlock();
  mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);  // the math checker's per-thread constant caches
}

void spawn(const std::shared_ptr<PoolShared>& sh) {  // caller holds sh->mu
  ++sh->live;
  std::thread(worker, sh).detach();
}

}  // namespace

VerifierPool::VerifierPool(int threads, double deadline_s, int max_spare_threads)
    : shared_(std::make_shared<PoolShared>()), deadline_s_(deadline_s) {
  ZRL_CHECK(threads >= 1, "verifier pool needs at least 1 thread, got {}", threads);
  ZRL_CHECK(deadline_s > 0, "verifier deadline must be > 0 s, got {}", deadline_s);
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->wanted = threads;
  shared_->cap = threads + max_spare_threads;
  for (int i = 0; i < threads; ++i) spawn(shared_);
}

VerifierPool::~VerifierPool() {
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->stop = true;
  shared_->queue.clear();
  shared_->work_cv.notify_all();
  // Idle workers exit at once; stuck ones keep the shared state alive and exit when they return.
  shared_->done_cv.wait_for(lock, std::chrono::milliseconds(500),
                            [&] { return shared_->live <= shared_->stuck; });
}

int VerifierPool::live_threads() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->live;
}

std::vector<Verdict> VerifierPool::run(const std::vector<std::shared_ptr<const Verifier>>& verifiers,
                                       const std::vector<Sample>& samples) {
  ZRL_CHECK(verifiers.size() == 1 || verifiers.size() == samples.size(),
            "pool.run: {} verifiers for {} samples (give 1 or one per sample)", verifiers.size(),
            samples.size());
  std::vector<std::shared_ptr<Task>> tasks;
  auto& sh = *shared_;
  std::unique_lock<std::mutex> lock(sh.mu);
  for (size_t i = 0; i < samples.size(); ++i) {
    auto t = std::make_shared<Task>();
    t->verifier = verifiers.size() == 1 ? verifiers[0] : verifiers[i];
    ZRL_CHECK(t->verifier != nullptr, "pool.run: null verifier for sample {}", i);
    t->sample = samples[i];
    tasks.push_back(t);
    sh.queue.push_back(t);
  }
  sh.work_cv.notify_all();
  const auto deadline =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(deadline_s_));
  const auto batch_start = Clock::now();
  for (;;) {
    bool pending = false;
    auto now = Clock::now();
    auto wake = now + std::chrono::milliseconds(20);
    for (auto& t : tasks) {
      if (t->state == TaskState::Running) {
        if (now - t->started >= deadline) {
          t->state = TaskState::Abandoned;
          ++sh.stuck;
          t->result = Verdict{};
          t->result.status = "timeout";
          t->result.reason = "verification exceeded its deadline of " + std::to_string(deadline_s_) + " s";
          if (sh.live < sh.cap) {  // replace the stuck worker
            ++sh.wanted;
            spawn(shared_);
          }
        } else {
          pending = true;
          wake = std::min(wake, t->started + deadline);
        }
      } else if (t->state == TaskState::Queued) {
        // Every worker stuck and no spare left: a queued item cannot start; give up after a while.
        if (sh.live >= sh.cap && now - batch_start >= 4 * deadline) {
          t->state = TaskState::Abandoned;
          t->result = Verdict{};
          t->result.status = "timeout";
          t->result.reason = "no free verifier worker (all stuck past their deadline)";
        } else {
          pending = true;
        }
      }
    }
    if (!pending) break;
    sh.done_cv.wait_until(lock, wake);
  }
  // Drop abandoned queued items from the queue.
  for (auto it = sh.queue.begin(); it != sh.queue.end();)
    it = (*it)->state == TaskState::Abandoned ? sh.queue.erase(it) : it + 1;
  std::vector<Verdict> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) out.push_back(t->result);
  return out;
}

}  // namespace zerorl::verifiers
