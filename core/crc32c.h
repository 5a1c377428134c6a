// core/crc32c.h: CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected 0x82F63B78, init and final xor
// 0xFFFFFFFF; RFC 3720 section B.4), one-shot and streaming, through Boost.CRC (libboost-dev, already a
// dependency; Debian 12 packages no C/C++ CRC-32C library of its own). Check value: "123456789" ->
// 0xE3069283. Not here: TFRecord's masked CRC (trainer/tb_writer.h), what is checksummed
// (trainer/checkpoint.h).
#pragma once

#include <boost/crc.hpp>
#include <cstddef>
#include <cstdint>

namespace zerorl {

// Streaming: update() any number of times, value() is the CRC of everything so far.
class Crc32c {
 public:
  void update(const void* data, size_t size) { crc_.process_bytes(data, size); }
  uint32_t value() const { return crc_.checksum(); }

 private:
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc_;
};

inline uint32_t crc32c(const void* data, size_t size) {
  Crc32c c;
  c.update(data, size);
  return c.value();
}

}  // namespace zerorl
