// verifiers/sandbox/cgroup.h: one pids+memory cgroup per sandbox slot (cgroup v2, or v1 pids and memory
// hierarchies), nested under the calling process's own cgroups. Not here: namespaces, rlimits, seccomp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zerorl::verifiers::sandbox {

class CgroupSlots {
 public:
  // Creates <own cgroup>/zerorl-sandbox-<pid>-<n>/slot<i> in each controller, under the cgroup mount
  // `root` (normally /sys/fs/cgroup). Returns null and sets *why when the machine offers no writable pids
  // and memory controllers.
  static std::unique_ptr<CgroupSlots> create(int slots, uint64_t memory_bytes, int max_pids,
                                             const std::string& root, std::string* why);
  ~CgroupSlots();  // kills what is left in the slots and removes the directories
  CgroupSlots(const CgroupSlots&) = delete;
  CgroupSlots& operator=(const CgroupSlots&) = delete;

  // cgroup.procs files a child writes "0" into to join the slot (before dropping root).
  const std::vector<std::string>& procs_files(int slot) const { return procs_[slot]; }
  void reset_peak(int slot) const;
  uint64_t peak_bytes(int slot) const;  // memory high-water mark since reset_peak (0 when unknown)
  uint64_t oom_kills(int slot) const;   // cumulative OOM kills in the slot
  // SIGKILLs every process in the slot (only processes that joined it: sandboxed ones) until it is
  // empty; returns false if something survives ~2 s.
  bool kill_all(int slot) const;
  int processes(int slot) const;  // processes currently in the slot

 private:
  CgroupSlots() = default;
  bool v2_ = false;
  std::vector<std::string> groups_;             // group dirs (one per controller hierarchy)
  std::vector<std::vector<std::string>> dirs_;  // [slot] -> slot dir per hierarchy
  std::vector<std::vector<std::string>> procs_;
  std::vector<std::string> memory_dir_;  // [slot] -> dir holding the memory controller files
};

}  // namespace zerorl::verifiers::sandbox
