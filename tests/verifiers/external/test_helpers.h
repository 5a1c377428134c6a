// tests/verifiers/external/test_helpers.h: temp dirs, script files and /proc child scans for the
// user-verifier tests. Not here: any assertion.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace zerorl::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its files by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const;  // returns the full path

 private:
  std::string path_;
};

// Direct children of this process, read from /proc (state 'Z' = zombie).
struct ChildProc {
  pid_t pid;
  char state;
};
std::vector<ChildProc> children_of_self();
bool process_exists(pid_t pid);  // alive and not a zombie
// Whether pid stops existing (process_exists) within `seconds`: a SIGKILL sent to a process that is not our
// child (a worker's own child, killed with its process group) lands after kill() returns, and on a loaded
// machine it may still be running for a moment.
bool gone_within(pid_t pid, double seconds);

inline const char* kPython = "/usr/bin/python3";

}  // namespace zerorl::testing

namespace zerorl::testing {

// A child process started by the test (posix_spawn), whose stdout the test reads line by line. The
// destructor kills that one pid with SIGKILL and reaps it.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  std::string read_line();  // "" at EOF
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace zerorl::testing
