// verifiers/verifier.cpp: out-of-line anchor for the Verifier interface (so the library is never empty).
// Not here: any checker.
#include "verifiers/verifier.h"
