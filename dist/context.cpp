// dist/context.cpp: launcher environment -> Context. Not here: any communication.
#include "dist/context.h"

#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace zerorl::dist {

namespace {
int env_int(const std::function<const char*(const char*)>& get, const char* name, int fallback) {
  const char* v = get(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  ZRL_CHECK(end != nullptr && *end == '\0' && x >= 0,
            "environment variable {}='{}' is not a non-negative integer", name, v);
  return static_cast<int>(x);
}

// OMPI_APP_CTX_NUM_PROCS: one size per app context, separated by spaces ("1 2").
std::vector<int> app_sizes(const std::function<const char*(const char*)>& get, const char* name) {
  const char* v = get(name);
  ZRL_CHECK(v != nullptr, "mpirun set OMPI_NUM_APP_CTX but not {} (OpenMPI 4.1 sets both)", name);
  std::istringstream in(v);
  std::vector<int> sizes;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long x = std::strtol(word.c_str(), &end, 10);
    ZRL_CHECK(*end == '\0' && x >= 1, "environment variable {}='{}': '{}' is not a positive integer", name, v,
              word);
    sizes.push_back(static_cast<int>(x));
  }
  return sizes;
}

// An MPMD mpirun launch: `c` (the whole MPI world) becomes this process's app context.
void narrow_to_app(const std::function<const char*(const char*)>& get, Context& c) {
  c.apps = env_int(get, "OMPI_NUM_APP_CTX", 1);
  if (c.apps <= 1) return;
  const std::vector<int> sizes = app_sizes(get, "OMPI_APP_CTX_NUM_PROCS");
  c.app = env_int(get, "OMPI_MCA_orte_app_num", 0);
  int first = 0, total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (static_cast<int>(i) < c.app) first += sizes[i];
    total += sizes[i];
  }
  ZRL_CHECK(static_cast<int>(sizes.size()) == c.apps && c.app < c.apps && total == c.world_size,
            "mpirun's MPMD environment does not add up: OMPI_NUM_APP_CTX={}, OMPI_APP_CTX_NUM_PROCS='{}', "
            "OMPI_MCA_orte_app_num={}, OMPI_COMM_WORLD_SIZE={}",
            c.apps, get("OMPI_APP_CTX_NUM_PROCS"), c.app, c.world_size);
  const bool one_node = env_int(get, "OMPI_COMM_WORLD_LOCAL_SIZE", 0) == c.world_size;
  c.rank -= first;
  c.app_sizes = sizes;
  c.world_size = sizes[static_cast<size_t>(c.app)];
  ZRL_CHECK(c.rank >= 0 && c.rank < c.world_size, "mpirun: world rank {} is not in app context {} ({})",
            c.rank + first, c.app, get("OMPI_APP_CTX_NUM_PROCS"));
  if (one_node) c.local_rank = c.rank;
}
}  // namespace

Context discover(const std::function<const char*(const char*)>& getenv_fn, bool mpmd_apps) {
  const std::function<const char*(const char*)> get =
      getenv_fn ? getenv_fn : [](const char* n) -> const char* { return std::getenv(n); };
  struct Scheme {
    const char *launcher, *rank, *size, *local;
  };
  const Scheme schemes[] = {
      {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"}};
  for (const auto& s : schemes) {
    if (get(s.size) == nullptr) continue;
    Context c;
    c.launcher = s.launcher;
    c.world_size = env_int(get, s.size, 1);
    c.rank = env_int(get, s.rank, 0);
    c.local_rank = env_int(get, s.local, c.rank);
    ZRL_CHECK(c.world_size >= 1 && c.rank < c.world_size, "{}: rank {} outside world size {} ({}, {})",
              s.launcher, c.rank, c.world_size, s.rank, s.size);
    if (mpmd_apps && c.launcher == std::string("mpirun")) narrow_to_app(get, c);
    return c;
  }
  return Context{};
}

}  // namespace zerorl::dist
