// tests/dist/slurm_cluster.cpp: starts and stops the private one-host Slurm of slurm_cluster.h. Not here:
// jobs and their checks (test_slurm.cpp).
#include "tests/dist/slurm_cluster.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/dist/free_port.h"

namespace fs = std::filesystem;

namespace zerorl::testing {
namespace {

// The daemons (sbin) and the clients this test uses, looked up on PATH and in the sbin folders.
std::string find_binary(const std::string& name) {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin";
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find(':', start), path.size());
    const std::string candidate = path.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// Starts a daemon in the foreground, output to `log`. PR_SET_PDEATHSIG: it gets SIGTERM if this test process
// dies first (a crash or a ctest timeout), so no daemon outlives the test.
pid_t spawn_daemon(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    FILE* f = std::fopen(log.c_str(), "w");
    if (f != nullptr) dup2(fileno(f), 1), dup2(fileno(f), 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// SIGTERM, then SIGKILL after `seconds`; reaps it. Only pids this class started come here.
void stop_pid(pid_t& pid, double seconds) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pid = -1;
}

std::string tail(const std::string& path, size_t n) {
  std::ifstream f(path);
  const std::string s((std::istreambuf_iterator<char>(f)), {});
  return s.size() > n ? s.substr(s.size() - n) : s;
}

}  // namespace

std::string SlurmCluster::unavailable_reason() {
  for (const char* b : {"munged", "slurmctld", "slurmd", "sbatch", "sinfo", "scancel", "squeue"})
    if (find_binary(b).empty())
      return std::string(b) +
             " not found: install Debian's slurmctld slurmd slurm-client munge (scripts/setup.sh)";
  // slurmd starts job steps as the submitting user and our conf names root as SlurmUser; non-root has not
  // been tried.
  if (geteuid() != 0) return "the private Slurm runs as root only (CI runs tests as root)";
  return "";
}

SlurmCluster::SlurmCluster(int cpus, int nodes) : nodes_(nodes) {
  std::string tmpl = (fs::temp_directory_path() / "zerorl_slurm_XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("SlurmCluster: mkdtemp failed");
  dir_ = tmpl;
  chmod(dir_.c_str(), 0755);  // munged wants its socket's folders searchable by all
  for (const char* d : {"munge", "state", "spool", "tmp", "log"}) fs::create_directory(dir_ + "/" + d);
  chmod((dir_ + "/munge").c_str(), 0755);
  const std::string key = dir_ + "/munge/munge.key";
  {
    std::random_device rd;
    std::ofstream k(key, std::ios::binary);
    for (int i = 0; i < 1024; ++i) k.put(static_cast<char>(rd() & 0xff));
  }
  chmod(key.c_str(), 0400);  // munged refuses a key others can read
  write_conf(cpus, nodes);
  munged_ = spawn_daemon({find_binary("munged"), "-F", "-f", "--key-file=" + key,
                          "--socket=" + dir_ + "/munge/socket", "--pid-file=" + dir_ + "/munge/pid",
                          "--seed-file=" + dir_ + "/munge/seed", "--log-file=" + dir_ + "/log/munged.log"},
                         dir_ + "/log/munged.out");
  for (int i = 0; i < 100 && !fs::exists(dir_ + "/munge/socket"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  slurmctld_ = spawn_daemon({find_binary("slurmctld"), "-D", "-i", "-f", conf_}, dir_ + "/log/slurmctld.out");
  for (int i = 0; i < nodes; ++i) {
    const std::string name = nodes == 1 ? "localhost" : "n" + std::to_string(i);
    slurmds_.push_back(spawn_daemon({find_binary("slurmd"), "-D", "-N", name, "-f", conf_},
                                    dir_ + "/log/slurmd_" + name + ".out"));
  }
  if (!wait_idle(60)) {
    const std::string why = "SlurmCluster: node not idle within 60 s\n" + logs();
    stop();
    throw std::runtime_error(why);
  }
}

SlurmCluster::~SlurmCluster() { stop(); }

void SlurmCluster::write_conf(int cpus, int nodes) {
  conf_ = dir_ + "/slurm.conf";
  std::ofstream c(conf_);
  // Plugins that need nothing from the host: no cgroups (proctrack/linuxproc, task/none), no accounting.
  c << "ClusterName=zerorltest\n"
    << "SlurmctldHost=localhost(127.0.0.1)\n"
    << "SlurmctldPort=" << free_port() << "\n"
    << "AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" << dir_ << "/munge/socket\n"
    << "SlurmUser=root\nSlurmdUser=root\nMailProg=/bin/true\n"
    << "StateSaveLocation=" << dir_ << "/state\nSlurmdSpoolDir=" << dir_ << "/spool/%n\n"
    << "TmpFS=" << dir_ << "/tmp\n"  // the PMIx plugin's per-step folders go under TmpFS
    << "SlurmctldPidFile=" << dir_ << "/slurmctld.pid\nSlurmdPidFile=" << dir_ << "/slurmd_%n.pid\n"
    << "SlurmctldLogFile=" << dir_ << "/log/slurmctld.log\nSlurmdLogFile=" << dir_ << "/log/slurmd_%n.log\n"
    << "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSwitchType=switch/none\nMpiDefault=none\n"
    << "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
    // Heterogeneous jobs are scheduled by sched/backfill only; every second here, not every 30 s.
    << "SchedulerType=sched/backfill\nSchedulerParameters=bf_interval=1\n"
    << "ReturnToService=2\nSlurmdParameters=config_overrides\n"  // CPUs below, whatever the host has
    << "JobCompType=jobcomp/none\nAccountingStorageType=accounting_storage/none\n"
    << "JobAcctGatherType=jobacct_gather/none\n";
  std::string names;
  for (int i = 0; i < nodes; ++i) {
    const std::string name = nodes == 1 ? "localhost" : "n" + std::to_string(i);
    names += (i == 0 ? "" : ",") + name;
    c << "NodeName=" << name << " NodeHostname=localhost NodeAddr=127.0.0.1 Port=" << free_port()
      << " CPUs=" << cpus << " State=UNKNOWN\n";
  }
  c << "PartitionName=debug Nodes=" << names << " Default=YES MaxTime=INFINITE State=UP\n";
}

int SlurmCluster::client(const std::string& cmd, std::string* out) const {
  const std::string line = "export SLURM_CONF='" + conf_ + "'; " + cmd + " 2>&1";
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) text.append(buf.data(), n);
  const int status = pclose(pipe);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool SlurmCluster::wait_idle(double seconds) const {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::string out;
    // One line per node: every one idle.
    if (client("timeout 10 sinfo -h -N -o %t", &out) == 0) {
      size_t idle = 0, at = 0;
      while ((at = out.find("idle", at)) != std::string::npos) ++idle, at += 4;
      if (idle == static_cast<size_t>(nodes_) && out.size() == idle * 5) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

std::string SlurmCluster::logs() const {
  std::string s;
  for (const auto& e : fs::directory_iterator(dir_ + "/log"))
    s += "--- " + e.path().filename().string() + "\n" + tail(e.path().string(), 3000) + "\n";
  return s;
}

void SlurmCluster::stop() {
  if (slurmctld_ > 0 && !slurmds_.empty()) {
    // Cancel what is still queued or running on this cluster (its conf: no other cluster is asked), and give
    // the job steps time to end before their slurmd goes.
    client("timeout 10 scancel --quiet --user=root", nullptr);
    for (int i = 0; i < 80; ++i) {
      std::string out;
      if (client("timeout 10 squeue -h", &out) != 0 || out.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  for (pid_t& pid : slurmds_) stop_pid(pid, 15);
  slurmds_.clear();
  stop_pid(slurmctld_, 15);
  stop_pid(munged_, 10);
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace zerorl::testing
