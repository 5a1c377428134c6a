// tools/report.cpp: zerorl_report RUN_DIR [LAST_STEP]: (re)writes a run's summary.json and curves.png from
// its metrics.jsonl and eval/step_<N>.json files, and prints the before/after table: for a run made on a
// machine without gnuplot (the GPU recipe's), or one stopped before its end. LAST_STEP defaults to the
// newest eval. Not here: computing anything (trainer/report.h reads what the run wrote).
#include "trainer/report.h"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RUN_DIR [LAST_STEP]\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[1];
    const zerorl::Json s = zerorl::trainer::write_run_report(dir, argc > 2 ? std::stoll(argv[2]) : -1);
    std::printf("%s", zerorl::trainer::summary_table(s).c_str());
    std::printf("summary: %s/summary.json\ncurves:  %s\n", dir.c_str(),
                s["curves"].get<std::string>().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zerorl_report: error: %s\n", e.what());
    return 1;
  }
}
