// core/seed.h: deterministic seed derivation. Every random stream in zerorl is seeded from
// (run seed, step, prompt index, sample index) through mix_seed, so results never depend on batch layout.
// Not here: the generators themselves (torch::Generator in rollout/, std::mt19937_64 elsewhere).
#pragma once

#include <cstdint>
#include <initializer_list>

namespace zerorl {

// SplitMix64 finalizer (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// mix_seed({seed, step, prompt, sample}): order-sensitive combination of any number of keys.
constexpr uint64_t mix_seed(std::initializer_list<uint64_t> keys) {
  uint64_t h = 0x5a45524f524cULL;  // "ZERORL"
  for (uint64_t k : keys) h = splitmix64(h ^ splitmix64(k));
  return h;
}

}  // namespace zerorl
