// verifiers/sandbox/cgroup.cpp: per-slot pids+memory cgroups (v2 unified or v1 split hierarchies).
// Not here: deciding limits (sandbox.cpp passes them) or joining (the sandboxed child writes cgroup.procs).
#include "verifiers/sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace zerorl::verifiers::sandbox {
namespace {

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  if (!f) return false;
  f << text;
  f.flush();
  return static_cast<bool>(f);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The calling process's path in hierarchy `key` ("" = v2 unified, else a v1 controller name).
std::string own_path(const std::string& key) {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (key.empty() ? ctrls.empty() : ("," + ctrls + ",").find("," + key + ",") != std::string::npos) {
      return path == "/" ? "" : path;
    }
  }
  return "-";
}

uint64_t field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

std::vector<pid_t> read_pids(const std::string& file) {
  std::ifstream f(file);
  std::vector<pid_t> pids;
  long p = 0;
  while (f >> p) pids.push_back(static_cast<pid_t>(p));
  return pids;
}

std::atomic<int> g_counter{0};

// Removes zerorl-sandbox-<pid>-<n> groups under `parent` left by processes that died without cleanup
// (rmdir only succeeds on empty cgroups, so a live group is never disturbed).
void sweep_stale(const std::string& parent) {
  DIR* d = ::opendir(parent.c_str());
  if (d == nullptr) return;
  const std::string prefix = "zerorl-sandbox-";
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::strtol(name.c_str() + prefix.size(), nullptr, 10));
    if (owner <= 0 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;  // owner alive (or unknown)
    std::string group = parent + "/" + name;
    if (DIR* g = ::opendir(group.c_str())) {
      while (dirent* s = ::readdir(g)) {
        if (std::string(s->d_name).rfind("slot", 0) == 0) ::rmdir((group + "/" + s->d_name).c_str());
      }
      ::closedir(g);
    }
    ::rmdir(group.c_str());
  }
  ::closedir(d);
}

}  // namespace

std::unique_ptr<CgroupSlots> CgroupSlots::create(int slots, uint64_t memory_bytes, int max_pids,
                                                 const std::string& root, std::string* why) {
  std::unique_ptr<CgroupSlots> cg(new CgroupSlots());
  std::string tag = "/zerorl-sandbox-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++);
  std::string v2root = root;
  if (is_dir(root + "/unified")) v2root = root + "/unified";
  std::string v2ctrl = read_text(v2root + "/cgroup.controllers");
  bool v2 = v2ctrl.find("pids") != std::string::npos && v2ctrl.find("memory") != std::string::npos;
  std::vector<std::pair<std::string, std::string>> hier;  // (mount, controller key)
  if (v2) {
    hier.push_back({v2root, ""});
  } else if (is_dir(root + "/pids") && is_dir(root + "/memory")) {
    hier.push_back({root + "/pids", "pids"});
    hier.push_back({root + "/memory", "memory"});
  } else {
    *why = "no cgroup v2 with pids+memory and no v1 pids/memory hierarchies under " + root;
    return nullptr;
  }
  cg->v2_ = v2;
  cg->dirs_.resize(slots);
  cg->procs_.resize(slots);
  cg->memory_dir_.resize(slots);
  for (auto& [mount, key] : hier) {
    std::string own = own_path(key);
    if (own == "-") own = "";
    sweep_stale(mount + own);
    std::string group = mount + own + tag;
    if (::mkdir(group.c_str(), 0700) != 0) {
      *why = "cannot create " + group;
      return nullptr;
    }
    cg->groups_.push_back(group);
    if (v2 && !write_text(group + "/cgroup.subtree_control", "+pids +memory")) {
      *why = "cannot enable pids+memory in " + group;
      return nullptr;
    }
    for (int i = 0; i < slots; ++i) {
      std::string dir = group + "/slot" + std::to_string(i);
      if (::mkdir(dir.c_str(), 0700) != 0) {
        *why = "cannot create " + dir;
        return nullptr;
      }
      cg->dirs_[i].push_back(dir);
      cg->procs_[i].push_back(dir + "/cgroup.procs");
      bool ok = true;
      if (v2) {
        ok = write_text(dir + "/pids.max", std::to_string(max_pids)) &&
             write_text(dir + "/memory.max", std::to_string(memory_bytes)) &&
             write_text(dir + "/memory.swap.max", "0");
        cg->memory_dir_[i] = dir;
      } else if (key == "pids") {
        ok = write_text(dir + "/pids.max", std::to_string(max_pids));
      } else {
        ok = write_text(dir + "/memory.limit_in_bytes", std::to_string(memory_bytes));
        write_text(dir + "/memory.memsw.limit_in_bytes",
                   std::to_string(memory_bytes));  // absent w/o swap accounting
        cg->memory_dir_[i] = dir;
      }
      if (!ok) {
        *why = "cannot set limits in " + dir;
        return nullptr;
      }
    }
  }
  return cg;
}

CgroupSlots::~CgroupSlots() {
  for (size_t i = 0; i < dirs_.size(); ++i) {
    kill_all(static_cast<int>(i));
    for (auto& d : dirs_[i]) ::rmdir(d.c_str());
  }
  for (auto& g : groups_) ::rmdir(g.c_str());
}

void CgroupSlots::reset_peak(int slot) const {
  // v1: writing 0 resets max_usage_in_bytes; v2 memory.peak is reset by any write on kernels >= 6.12.
  const std::string& d = memory_dir_[slot];
  write_text(d + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"), "0");
}

uint64_t CgroupSlots::peak_bytes(int slot) const {
  const std::string& d = memory_dir_[slot];
  std::string t = read_text(d + (v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  return t.empty() ? 0 : std::stoull(t);
}

uint64_t CgroupSlots::oom_kills(int slot) const {
  const std::string& d = memory_dir_[slot];
  return field(read_text(d + (v2_ ? "/memory.events" : "/memory.oom_control")), "oom_kill");
}

int CgroupSlots::processes(int slot) const {
  size_t n = 0;
  for (auto& p : procs_[slot]) n = std::max(n, read_pids(p).size());
  return static_cast<int>(n);
}

bool CgroupSlots::kill_all(int slot) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (true) {
    bool any = false;
    for (auto& p : procs_[slot]) {
      for (pid_t pid : read_pids(p)) {
        if (pid > 1) {  // never 0/-1/1: only real members of our slot
          ::kill(pid, SIGKILL);
          any = true;
        }
      }
    }
    if (!any) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace zerorl::verifiers::sandbox
