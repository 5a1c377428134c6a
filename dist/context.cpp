// dist/context.cpp: launcher environment -> Context. Not here: any communication.
#include "dist/context.h"

#include <cstdlib>

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
}  // namespace

Context discover(const std::function<const char*(const char*)>& getenv_fn) {
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
    return c;
  }
  return Context{};
}

}  // namespace zerorl::dist
