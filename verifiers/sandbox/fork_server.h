// verifiers/sandbox/fork_server.h: the Sandbox's record of one slot's fork server (a long-lived trusted
// process that forks a child per request; py/fork_server.py has the protocol), and the pipe helpers its
// runs share with normal runs. Not here: starting, talking to and stopping it (fork_server.cpp), what
// its children run (assert_tests.cpp).
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "verifiers/sandbox/sandbox.h"

namespace zerorl::verifiers::sandbox {

struct ForkServer {
  std::string program;  // what it was started with: a request with another program restarts it
  std::vector<std::string> argv;
  int sock = -1;    // our end of the SOCK_SEQPACKET pair; the server's fd 3
  int stop_w = -1;  // closing it stops the server (the write end of its run's abort_fd)
  // Runs the server as one long run_in_cell of the slot's second cell (so supervision, the whole-tree
  // kill and the death signals are a normal run's); set when that run has returned.
  std::thread thread;
  std::atomic<bool> ended{false};
  RunResult end;  // how the server's run ended (valid once `ended`)
};

// Pipe helpers shared by a run's supervision (sandbox_run.cpp, where they are defined) and a served run's.
void set_nonblock(int fd);
// Reads what is available; false at EOF or error. Keeps at most `cap` bytes, counts all in *total.
bool drain(int fd, std::string* into, uint64_t cap, uint64_t* total);
// A Python MemoryError or ENOMEM message in a run's stderr.
bool contains_memory_error(const std::string& err);

}  // namespace zerorl::verifiers::sandbox
