// tests/verifiers/external/test_helpers.cpp: temp dirs and /proc scans for user-verifier tests.
// Not here: assertions.
#include "tests/verifiers/external/test_helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/files.h"

namespace zerorl::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/zerorl_ext_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  try {
    zerorl::remove_tree(path_);
  } catch (...) {  // a destructor: best effort
  }
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const std::string p = path_ + "/" + name;
  std::ofstream(p) << text;
  return p;
}

namespace {
// /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
// Plain open/read: a process reaped between open and read makes read() fail with ESRCH, which std::ifstream
// turns into an exception (basic_filebuf::underflow); here it just means the process is gone.
bool read_stat(const std::string& pid, char& state, pid_t& ppid) {
  const int fd = ::open(("/proc/" + pid + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  if (n <= 0) return false;
  const std::string text(buf, static_cast<size_t>(n));
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  return static_cast<bool>(rest >> state >> ppid);
}
}  // namespace

std::vector<ChildProc> children_of_self() {
  std::vector<ChildProc> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  const pid_t self = getpid();
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    char state = '?';
    pid_t ppid = 0;
    if (read_stat(name, state, ppid) && ppid == self) out.push_back({std::stoi(name), state});
  }
  closedir(d);
  return out;
}

bool process_exists(pid_t pid) {
  char state = '?';
  pid_t ppid = 0;
  return read_stat(std::to_string(pid), state, ppid) && state != 'Z';
}

bool gone_within(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (process_exists(pid)) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace zerorl::testing

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace zerorl::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  fd_ = p[0];
  if (rc != 0) throw std::runtime_error("posix_spawn failed for " + argv[0]);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0) close(fd_);
}

std::string ChildProcess::read_line() {
  std::string line;
  char c = 0;
  while (read(fd_, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

}  // namespace zerorl::testing
