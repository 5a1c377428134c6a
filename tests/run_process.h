// tests/run_process.h: tests that run build/zerorl as a separate process: fork/exec with the output in a log
// file (long runs, kill -9, a working directory), and popen with the output captured (short CLI calls).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/test_paths.h"

namespace zerorl::testing {

// Starts args[0] with args, stdout and stderr going to `log` (appended, or truncated first), in `cwd` unless
// it is empty. Returns the child's pid (exit code 126: no such cwd, 127: exec failed).
inline pid_t spawn_logged(std::vector<std::string> args, const std::string& log, const std::string& cwd = "",
                          bool append = true) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    FILE* f = std::fopen(log.c_str(), append ? "a" : "w");
    if (f != nullptr) dup2(fileno(f), 1), dup2(fileno(f), 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid`: its exit code, or 128 + the signal that ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct CliResult {
  int code;         // exit code, -1 when it did not exit normally
  std::string out;  // stdout, and stderr when asked for
};

// Runs build/zerorl with `args` (shell syntax, quoted by the caller) and captures its output.
inline CliResult run_zerorl(const std::string& args, bool with_stderr = true) {
  const std::string cmd = binary_dir() + "/zerorl " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed: " + cmd};
  std::string out;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace zerorl::testing
