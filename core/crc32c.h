// core/crc32c.h: CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected 0x82F63B78, init and final xor
// 0xFFFFFFFF; RFC 3720 section B.4), one-shot and streaming: the SSE4.2 crc32 instruction where the CPU has
// it (x86-64, checked at run time), else Boost.CRC (libboost-dev, already a dependency; Debian 12 packages no
// C/C++ CRC-32C library of its own). Check value: "123456789" -> 0xE3069283. Not here: TFRecord's masked CRC
// (trainer/tb_writer.h), what is checksummed (trainer/checkpoint.h).
#pragma once

#include <boost/crc.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define ZERORL_CRC32C_SSE42 1
#endif

namespace zerorl {

namespace detail {
#ifdef ZERORL_CRC32C_SSE42
// Boost's table-driven CRC runs at ~0.15-0.5 GB/s, which made the checkpoint manifest (every byte read back)
// the largest part of a checkpoint; the crc32 instruction computes this very polynomial at several GB/s.
// `state` is the running register (init 0xFFFFFFFF, no final xor).
__attribute__((target("sse4.2"))) inline uint32_t crc32c_sse42(uint32_t state, const void* data,
                                                               size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = state;
  for (; size >= 8; p += 8, size -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; size > 0; ++p, --size) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}
inline bool crc32c_has_sse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#else
inline bool crc32c_has_sse42() { return false; }
#endif
}  // namespace detail

// Streaming: update() any number of times, value() is the CRC of everything so far.
class Crc32c {
 public:
  enum class Path { kFastest, kSoftware };  // kSoftware: Boost.CRC even where SSE4.2 exists (tests)
  explicit Crc32c(Path path = Path::kFastest)
      : hardware_(path == Path::kFastest && detail::crc32c_has_sse42()) {}
  void update(const void* data, size_t size) {
#ifdef ZERORL_CRC32C_SSE42
    if (hardware_) {
      state_ = detail::crc32c_sse42(state_, data, size);
      return;
    }
#endif
    crc_.process_bytes(data, size);
  }
  uint32_t value() const { return hardware_ ? ~state_ : crc_.checksum(); }
  bool hardware() const { return hardware_; }

 private:
  bool hardware_;
  uint32_t state_ = 0xFFFFFFFFU;
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc_;
};

inline uint32_t crc32c(const void* data, size_t size) {
  Crc32c c;
  c.update(data, size);
  return c.value();
}

}  // namespace zerorl
