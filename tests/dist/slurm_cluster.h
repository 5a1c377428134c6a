// tests/dist/slurm_cluster.h: a private one-host Slurm for tests: munged, slurmctld and slurmd(s) started in
// the foreground in a temp dir with their own key, socket, ports on 127.0.0.1 and state, stopped (only those
// pids) and removed when it goes. Not here: what the tests submit (test_slurm.cpp).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace zerorl::testing {

class SlurmCluster {
 public:
  // Why this machine cannot run the cluster (missing binaries, not root), or "" when it can.
  static std::string unavailable_reason();

  // Starts the daemons for `cpus` CPUs on node "localhost"; throws with the daemons' logs when the node is
  // not idle within 60 s. With nodes > 1: nodes "n0", "n1", ... of `cpus` CPUs each, every one a slurmd of
  // its own on this host (127.0.0.1, a port each): a heterogeneous job needs a node per component to start.
  explicit SlurmCluster(int cpus, int nodes = 1);
  ~SlurmCluster();  // cancels this cluster's jobs, stops its daemons, removes the temp dir
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& conf() const { return conf_; }  // for SLURM_CONF
  // Runs a Slurm client command line (sbatch, sinfo, ...) against this cluster; returns its exit code, and
  // its stdout + stderr in `out`.
  int client(const std::string& cmd, std::string* out) const;
  std::string logs() const;  // the daemons' log tails, for failure messages

 private:
  void write_conf(int cpus, int nodes);
  bool wait_idle(double seconds) const;
  void stop();

  std::string dir_, conf_;
  pid_t munged_ = -1, slurmctld_ = -1;
  std::vector<pid_t> slurmds_;
  int nodes_ = 1;
};

}  // namespace zerorl::testing
