// tools/report.cpp: zerorl_report RUN_DIR [LAST_STEP]: (re)writes a run's summary.json and curves.png from
// its metrics.jsonl and eval/step_<N>.json files, and prints the before/after table: for a run made on a
// machine without gnuplot (the GPU recipe's), or one stopped before its end. LAST_STEP defaults to the
// newest eval. Not here: computing anything (trainer/report.h reads what the run wrote).
#include "trainer/report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/error.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RUN_DIR [LAST_STEP]\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[1];
    int64_t last = -1;
    if (argc > 2) last = std::stoll(argv[2]);
    if (last < 0 && std::filesystem::exists(dir + "/eval")) {
      for (const auto& e : std::filesystem::directory_iterator(dir + "/eval")) {
        const std::string n = e.path().filename().string();
        if (n.rfind("step_", 0) == 0 && e.path().extension() == ".json")
          last = std::max<int64_t>(last, std::stoll(n.substr(5)));
      }
    }
    ZRL_CHECK(last >= 0, "{}: no eval/step_<N>.json and no LAST_STEP given", dir);
    const zerorl::Json s = zerorl::trainer::write_run_report(dir, last);
    std::printf("%s", zerorl::trainer::summary_table(s).c_str());
    std::printf("summary: %s/summary.json\ncurves:  %s\n", dir.c_str(),
                s["curves"].get<std::string>().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zerorl_report: error: %s\n", e.what());
    return 1;
  }
}
