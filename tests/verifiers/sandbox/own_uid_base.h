// tests/verifiers/sandbox/own_uid_base.h: sandbox uids of this test process's own. ctest runs each test of a
// binary in a process of its own, several at once (gtest_discover_tests, -j); a test that counts, waits for
// or signals the processes of its sandbox's uids must never see (or kill) another test's.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

namespace zerorl::testing {

// first + stride x (the index, in its suite, of the first test this process runs): distinct per test under
// ctest, and `first` when a whole suite runs in one process (its tests run one after another). Call it inside
// a test or a suite's SetUpTestSuite.
inline uid_t own_uid_base(uid_t first, uid_t stride) {
  const auto* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
  if (suite == nullptr) return first;
  for (int i = 0; i < suite->total_test_count(); ++i)
    if (suite->GetTestInfo(i)->should_run()) return first + stride * static_cast<uid_t>(i);
  return first;
}

}  // namespace zerorl::testing
