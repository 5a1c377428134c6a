// verifiers/sandbox/sandbox.h: runs one untrusted program, or a trusted/untrusted pair joined by two pipes,
// in fresh, locked-down process trees (bubblewrap namespaces + seccomp + rlimits + cgroup, unprivileged
// uid); the trusted side of a pair may instead be a fork of the slot's long-lived fork server.
// Not here: tests, verdicts (code_verifier.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace zerorl::verifiers::sandbox {

class CgroupSlots;
struct ForkServer;
struct SpawnSpec;

// Per-run resource limits. Units are in the names.
struct SandboxLimits {
  double wall_s = 5.0;                           // wall-clock deadline; the whole tree is SIGKILLed at it
  double cpu_s = 0.0;                            // RLIMIT_CPU; 0 = ceil(wall_s) + 1
  uint64_t address_space_bytes = 1024ull << 20;  // RLIMIT_AS per process
  uint64_t memory_bytes = 512ull << 20;          // cgroup memory limit of the whole tree
  int max_processes = 32;                        // RLIMIT_NPROC for the run's uid + cgroup pids.max
  uint64_t file_size_bytes = 16ull << 20;        // RLIMIT_FSIZE
  int open_files = 64;                           // RLIMIT_NOFILE
  uint64_t tmpfs_bytes = 64ull << 20;            // size of the private /work and /tmp tmpfs each
  uint64_t stdout_bytes = 4ull << 20;            // capture cap; exceeding it kills the run (output_limit)
  uint64_t stderr_bytes = 64ull << 10;           // capture cap; the excess is dropped silently
};

// How a language runs. Every `{file}` in run_argv becomes /work/<file_name>. Compiled languages compile
// inside the sandbox (the compile counts against the limits), e.g. C: file_name "main.c", run_argv
// {"/bin/sh", "-c", "gcc -O2 -o /tmp/a {file} && exec /tmp/a"}.
struct LanguageSpec {
  std::string file_name = "main.py";
  std::vector<std::string> run_argv = {"/usr/bin/python3", "-I", "-B", "{file}"};
  // Host paths bound read-only at the same place (missing ones are skipped). Nothing else of the host is
  // visible: no /home, /root, /tmp, /etc, project checkout.
  std::vector<std::string> ro_binds = {"/usr"};
  // Symlinks created in the sandbox root (target, link): the usrmerge layout of Debian.
  std::vector<std::pair<std::string, std::string>> symlinks = {
      {"usr/bin", "/bin"}, {"usr/lib", "/lib"}, {"usr/lib64", "/lib64"}, {"usr/sbin", "/sbin"}};
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}, {"HOME", "/work"}, {"PYTHONHASHSEED", "0"}};
};

struct SandboxOptions {
  LanguageSpec language;
  SandboxLimits limits;
  int slots = 4;  // concurrent runs (or pairs); each slot has two cells, each with its own uid and cgroup
  // Each cell runs as its own uid/gid from [uid_base, uid_base + uid_count), claimed machine-wide with a
  // lock file in uid_lock_dir, so concurrent verifier processes never share a uid (RLIMIT_NPROC is per uid).
  // A slot's first cell runs run()'s program and run_pair()'s untrusted one; its second cell run_pair()'s
  // trusted one, so the two never share a uid, a cgroup, a PID/mount/IPC/network namespace or a /work.
  uid_t uid_base = 61000;
  int uid_count = 2000;
  std::string uid_lock_dir = "/run/lock/zerorl-sandbox";
  std::string bwrap = "/usr/bin/bwrap";
  // pids+memory cgroup (v2, or v1) per cell: the wall that bounds memory summed over processes. Joining it
  // costs a cgroup migration per run (an RCU grace period, ~5-15 ms of latency, little CPU). true: a
  // machine without writable pids+memory cgroups is missing a protection (refused unless insecure_allow);
  // false (benchmarks) leaves RLIMIT_NPROC (per cell uid) x RLIMIT_AS as the memory bound.
  bool use_cgroups = true;
  std::string cgroup_root = "/sys/fs/cgroup";  // where the cgroup hierarchies are mounted
  // Run even when a protection is unavailable (logged): without bubblewrap/namespaces/seccomp, programs run
  // directly as the cell's uid in a private host temp dir; without cgroups, with rlimits only.
  bool insecure_allow = false;
};

// One run's input. `files` are extra (name, content) files placed in /work next to the program.
struct RunRequest {
  std::string program;
  std::string stdin_data;
  std::vector<std::pair<std::string, std::string>> files;
  double wall_s = 0.0;  // 0 = limits.wall_s
  double cpu_s = 0.0;   // RLIMIT_CPU; 0 = limits.cpu_s (a fork server's own run sets its lifetime)
  // Command line instead of the language's run_argv ({file} expands the same way); empty = run_argv.
  std::vector<std::string> argv;
  // Descriptors the program receives as fds 3, 4, ...; run() closes them once the program has started
  // (or failed to start). run_pair() fills them with its pipes.
  std::vector<int> pass_fds;
  // When this fd becomes readable or hung up, the run is stopped (kAborted); -1 = never.
  int abort_fd = -1;
};

// kAborted: stopped through abort_fd (run_pair: its trusted peer had finished).
enum class RunStatus { kExited, kSignaled, kTimeout, kOutputLimit, kMemory, kSandboxError, kAborted };
const char* to_string(RunStatus status);

struct RunResult {
  RunStatus status = RunStatus::kSandboxError;
  int exit_code = -1;  // program's exit code when kExited
  int signal = 0;      // terminating signal when kSignaled
  std::string out, err;
  bool err_truncated = false;
  double wall_s = 0.0;
  double cpu_s = 0.0;
  uint64_t peak_memory_bytes = 0;  // cgroup peak when available, else max RSS of the tree
  std::string error;               // kSandboxError: what failed
};

struct PairResult {
  RunResult trusted, untrusted;
};

// Thread-safe. run() blocks until a slot is free, then runs the program to completion or deadline.
// Construction probes the machine (bwrap, user namespaces, seccomp, cgroups); if a protection is
// missing and insecure_allow is false, every run returns kSandboxError naming it.
class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  RunResult run(const RunRequest& request);
  // Runs `trusted` and `untrusted` at once, in the two cells of one slot, joined by two pipes:
  //   trusted fd 3 (write) -> untrusted fd 3 (read);  untrusted fd 4 (write) -> trusted fd 4 (read).
  // Nothing else connects them. When the trusted program ends, the untrusted one is stopped (kAborted).
  // The requests' pass_fds must be empty (the pipes take fds 3 and 4).
  PairResult run_pair(RunRequest trusted, RunRequest untrusted);
  // run_pair, but the trusted side is a child forked by the slot's fork server: a long-lived process in
  // the slot's second cell, started from `trusted` (program, argv) on first use, restarted when it has
  // ended or a request brings another program. Each call's child gets trusted.stdin_data on fd 0 and is
  // held to trusted.wall_s; its stdout/stderr are captured as usual. trusted.files must be empty. The
  // program must be a fork server (py/fork_server.py: its protocol). A server that ended between calls
  // is restarted before the call; one that ends during a call makes that call's trusted result a
  // kSandboxError. run_pair (the second cell's other user) stops the slot's server first.
  PairResult run_pair_forked(RunRequest trusted, RunRequest untrusted);
  // Empty when fully protected; else which protections are missing (comma-separated).
  const std::string& missing_protections() const { return missing_; }
  bool has_cgroups() const { return cgroups_ != nullptr; }
  // Every cell's uid: slot i's first cell is uids()[i], its second uids()[slots + i].
  const std::vector<uid_t>& uids() const { return uids_; }
  const SandboxOptions& options() const { return options_; }

 private:
  int acquire_slot();
  void release_slot(int slot);
  // Runs in cell `cell` (uids_[cell], cgroup cell); closes request.pass_fds. run_guarded: exceptions
  // become a kSandboxError result.
  RunResult run_in_cell(const RunRequest& request, int cell);
  RunResult run_guarded(const RunRequest& request, int cell);
  PairResult pair(RunRequest trusted, RunRequest untrusted, bool forked);
  // The fork server of `slot` (fork_server.cpp): one served run; start (false + *error on failure); stop.
  // run_served_once takes `pass` (the child's fds 3, 4) once the server has them; *retry: the server had
  // ended before it got the request. stop_server returns how the server's run ended ("" if none ran).
  RunResult run_served(const RunRequest& request, int slot);
  RunResult run_served_once(const RunRequest& request, int slot, std::vector<int>* pass, bool* retry);
  bool start_server(const RunRequest& request, int slot, std::string* error);
  std::string stop_server(int slot);
  std::vector<std::string> bwrap_argv(const RunRequest& request, int cell) const;
  void supervise(const RunRequest& request, int cell, pid_t pid, double wall_s,
                 std::chrono::steady_clock::time_point start, int in_w, int out_r, int err_r, int info_r,
                 uint64_t oom_before, bool direct, RunResult* result);
  // insecure_allow fallback: argv/env/cwd for running the program directly (no namespaces) from `dir`.
  void direct_spec(const RunRequest& request, const std::string& dir, SpawnSpec* spec) const;
  void probe();
  void claim_uids();

  SandboxOptions options_;
  std::string missing_;
  bool direct_ = false;  // insecure_allow without bubblewrap/namespaces/seccomp: run programs directly
  std::vector<uint8_t> seccomp_bpf_;
  std::vector<uid_t> uids_;               // per cell: 2 * slots
  std::vector<int> uid_locks_;            // held flock fds, closed in the destructor
  std::unique_ptr<CgroupSlots> cgroups_;  // null when the machine offers no writable pids/memory cgroup
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<bool> busy_;
  std::vector<std::unique_ptr<ForkServer>> servers_;  // per slot; used only by the slot's holder
};

}  // namespace zerorl::verifiers::sandbox
