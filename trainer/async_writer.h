// trainer/async_writer.h: one background job at a time (a checkpoint write) on its own thread, its error
// handed to the main thread. Not here: what a job does (checkpoint_saver.h), any torch state.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace zerorl::trainer {

// At most one job in flight. No exception crosses the thread boundary: a job's exception is caught on its
// thread, kept as text, and thrown (zerorl::Error naming the job) by the next wait() or submit() on the
// calling thread.
class AsyncWriter {
 public:
  AsyncWriter() = default;
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;
  // Waits for the job in flight; an error it left is logged (ZRL_WARN), not thrown.
  ~AsyncWriter();

  // Waits for the previous job (throwing its error), then starts `job` on a new thread. `what` names the
  // job in errors and logs ("checkpoint step_6").
  void submit(const std::string& what, std::function<void()> job);
  // Waits for the job in flight, if any; throws its error. Seconds the last job ran: last_seconds().
  void wait();
  bool busy() const { return thread_.joinable(); }
  double last_seconds() const { return seconds_; }

 private:
  std::thread thread_;
  std::string what_, error_;  // written by the job thread, read after join()
  double seconds_ = 0;
};

}  // namespace zerorl::trainer
