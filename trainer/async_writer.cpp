// trainer/async_writer.cpp: the writer thread: run, time, catch; join and hand the error over. Not here: the
// jobs themselves (checkpoint_saver.cpp).
#include "trainer/async_writer.h"

#include <exception>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"

namespace zerorl::trainer {

AsyncWriter::~AsyncWriter() {
  if (!thread_.joinable()) return;
  thread_.join();
  if (!error_.empty()) ZRL_WARN("{} failed in the background: {}", what_, error_);
}

void AsyncWriter::wait() {
  if (!thread_.joinable()) return;
  thread_.join();  // the job's writes to error_ and seconds_ happen-before this returns
  if (error_.empty()) return;
  const std::string error = error_;
  error_.clear();
  ZRL_FAIL("{} failed in the background: {}", what_, error);
}

void AsyncWriter::submit(const std::string& what, std::function<void()> job) {
  wait();
  what_ = what;
  thread_ = std::thread([this, job = std::move(job)] {
    Stopwatch w;
    try {
      job();
    } catch (const std::exception& e) {
      error_ = e.what();
    } catch (...) {
      error_ = "an exception that is not a std::exception";
    }
    seconds_ = w.seconds();
  });
}

}  // namespace zerorl::trainer
