// tests/dist/test_context.cpp: dist::discover on hand-made launcher environments (mpirun, srun, torchrun,
// none, malformed). Not here: a real launch (test_mpirun.cpp, label dist).
#include <gtest/gtest.h>

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

TEST(DistContext, MalformedValuesNameTheVariable) {
  FakeEnv env;
  const auto get = [&](const char* k) { return env(k); };
  for (const auto& [vars, name] : std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"RANK", "x"}, {"WORLD_SIZE", "2"}}, "RANK"},
           {{{"RANK", "3"}, {"WORLD_SIZE", "2"}}, "RANK"},
           {{{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "-1"}}, "SLURM_NTASKS"},
           {{{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2x"}}, "OMPI_COMM_WORLD_SIZE"}}) {
    env.vars = vars;
    try {
      discover(get);
      ADD_FAILURE() << "no error for " << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace zerorl::dist
