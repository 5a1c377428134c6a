// tests/dist/test_context.cpp: dist::discover on hand-made launcher environments (mpirun, MPMD mpirun, srun,
// torchrun, none, malformed). Not here: a real launch (test_mpirun.cpp, label dist).
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>

#include "core/error.h"
#include "dist/context.h"

namespace zerorl::dist {
namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  const char* operator()(const char* k) const {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  }
};

TEST(DistContext, DiscoversLaunchersFromEnvironment) {
  FakeEnv env;
  const auto get = [&](const char* k) { return env(k); };
  Context c = discover(get);
  EXPECT_EQ(c.launcher, "none");
  EXPECT_EQ(c.world_size, 1);
  EXPECT_TRUE(c.is_main());
  env.vars = {
      {"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "0"}};
  c = discover(get);
  EXPECT_EQ(c.launcher, "mpirun");
  EXPECT_EQ(c.rank, 2);
  EXPECT_EQ(c.world_size, 4);
  EXPECT_EQ(c.local_rank, 0);
  EXPECT_FALSE(c.is_main());
  env.vars = {{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}};
  c = discover(get);
  EXPECT_EQ(c.launcher, "srun");
  EXPECT_EQ(c.rank, 5);
  EXPECT_EQ(c.world_size, 8);
  EXPECT_EQ(c.local_rank, 1);
  env.vars = {{"RANK", "1"}, {"WORLD_SIZE", "2"}};
  c = discover(get);
  EXPECT_EQ(c.launcher, "torchrun");
  EXPECT_EQ(c.local_rank, 1);  // no LOCAL_RANK: the global rank
  // mpirun wins over a torchrun-looking environment (an MPI job that also exports RANK)
  env.vars = {
      {"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"}, {"RANK", "1"}, {"WORLD_SIZE", "3"}};
  EXPECT_EQ(discover(get).world_size, 2);
}

// `mpirun -np 1 A : -np 2 B` as OpenMPI 4.1 (Debian 12) sets it (recorded with `mpirun -np 1 env : -np 2
// env`): every process sees the world of 3; each program's Context is its own app context.
TEST(DistContext, MpmdLaunchIsNarrowedToTheAppContext) {
  FakeEnv env;
  const auto get = [&](const char* k) { return env(k); };
  const auto mpmd = [](int world_rank, int app, const char* local_size) {
    return std::map<std::string, std::string>{{"OMPI_COMM_WORLD_RANK", std::to_string(world_rank)},
                                              {"OMPI_COMM_WORLD_SIZE", "3"},
                                              {"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(world_rank)},
                                              {"OMPI_COMM_WORLD_LOCAL_SIZE", local_size},
                                              {"OMPI_NUM_APP_CTX", "2"},
                                              {"OMPI_APP_CTX_NUM_PROCS", "1 2"},
                                              {"OMPI_MCA_orte_app_num", std::to_string(app)}};
  };
  // {world rank, app} -> {rank, world size, local rank}; one node (LOCAL_SIZE 3 == SIZE).
  for (const auto& [in, want] : std::vector<std::pair<std::pair<int, int>, std::array<int, 3>>>{
           {{0, 0}, {0, 1, 0}}, {{1, 1}, {0, 2, 0}}, {{2, 1}, {1, 2, 1}}}) {
    env.vars = mpmd(in.first, in.second, "3");
    const Context c = discover(get, true);
    EXPECT_EQ(c.launcher, "mpirun");
    EXPECT_TRUE(c.mpmd());
    EXPECT_EQ(c.apps, 2);
    EXPECT_EQ(c.app, in.second);
    EXPECT_EQ((std::array<int, 3>{c.rank, c.world_size, c.local_rank}), want) << "world rank " << in.first;
    EXPECT_EQ(c.app_first(), in.second == 0 ? 0 : 1);
    EXPECT_EQ(c.app_sizes, (std::vector<int>{1, 2}));
    EXPECT_FALSE(c.mpmd_joins_mpi()) << "one trainer process: nobody calls MPI_Init";
  }
  // Two data-parallel ranks first, two workers after: every process joins MPI; the ranks' app is 0..1.
  for (int world_rank : {0, 1, 2, 3}) {
    env.vars = mpmd(world_rank, world_rank < 2 ? 0 : 1, "4");
    env.vars["OMPI_COMM_WORLD_SIZE"] = "4";
    env.vars["OMPI_APP_CTX_NUM_PROCS"] = "2 2";
    const Context c = discover(get, true);
    EXPECT_TRUE(c.mpmd_joins_mpi()) << world_rank;
    EXPECT_EQ(c.rank, world_rank % 2);
    EXPECT_EQ(c.app_first(), world_rank < 2 ? 0 : 2);
  }
  // Several nodes: the local rank stays mpirun's (the app's own is unknown).
  env.vars = mpmd(2, 1, "2");
  env.vars["OMPI_COMM_WORLD_LOCAL_RANK"] = "0";
  EXPECT_EQ(discover(get, true).local_rank, 0);
  // Without mpmd_apps (a data-parallel trainer) the launch is one world of 3.
  env.vars = mpmd(2, 1, "3");
  const Context whole = discover(get);
  EXPECT_FALSE(whole.mpmd());
  EXPECT_EQ(whole.rank, 2);
  EXPECT_EQ(whole.world_size, 3);
  // A plain mpirun has one app context: nothing changes.
  env.vars = {{"OMPI_COMM_WORLD_RANK", "1"},
              {"OMPI_COMM_WORLD_SIZE", "2"},
              {"OMPI_NUM_APP_CTX", "1"},
              {"OMPI_APP_CTX_NUM_PROCS", "2"},
              {"OMPI_MCA_orte_app_num", "0"}};
  const Context plain = discover(get, true);
  EXPECT_FALSE(plain.mpmd());
  EXPECT_EQ(plain.rank, 1);
  EXPECT_EQ(plain.world_size, 2);
}

TEST(DistContext, MalformedValuesNameTheVariable) {
  FakeEnv env;
  const auto get = [&](const char* k) { return env(k); };
  for (const auto& [vars, name] : std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK"},
           {{{"RANK", "3"}, {"WORLD_SIZE", "2"}}, "RANK"},
           {{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "-1"}}, "SLURM_NTASKS"},
           {{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2x"}}, "OMPI_COMM_WORLD_SIZE"},
           {{{"OMPI_COMM_WORLD_RANK", "1"},
             {"OMPI_COMM_WORLD_SIZE", "3"},
             {"OMPI_NUM_APP_CTX", "2"},
             {"OMPI_APP_CTX_NUM_PROCS", "1 x"}},
            "OMPI_APP_CTX_NUM_PROCS"},
           {{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "3"}, {"OMPI_NUM_APP_CTX", "2"}},
            "OMPI_APP_CTX_NUM_PROCS"},
           {{{"OMPI_COMM_WORLD_RANK", "1"},
             {"OMPI_COMM_WORLD_SIZE", "3"},
             {"OMPI_NUM_APP_CTX", "2"},
             {"OMPI_APP_CTX_NUM_PROCS", "1 1"},
             {"OMPI_MCA_orte_app_num", "1"}},
            "OMPI_APP_CTX_NUM_PROCS='1 1'"}}) {
    env.vars = vars;
    try {
      discover(get, true);
      ADD_FAILURE() << "no error for " << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace zerorl::dist
