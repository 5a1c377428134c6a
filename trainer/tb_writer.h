// trainer/tb_writer.h: TensorBoard event files (TFRecord framing + Event/Summary protobuf with
// simple_value), written by hand: no Debian package ships a C++ TensorBoard writer, and the format is
// three fixed framing fields plus four protobuf fields.
// Not here: images, histograms, or reading event files (tests decode them independently).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace zerorl::trainer {

// TFRecord's masked CRC of the CRC-32C (core/crc32c.h): ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

// Writes <dir>/events.out.tfevents.<unix seconds>.<host>.<pid>; a resumed run starts a new file in the
// same folder and TensorBoard merges them. Each record is flushed so a crash loses at most one scalar.
class TbWriter {
 public:
  explicit TbWriter(const std::string& dir);
  ~TbWriter();
  TbWriter(const TbWriter&) = delete;
  TbWriter& operator=(const TbWriter&) = delete;
  void add_scalar(const std::string& tag, int64_t step, double value, double wall_time = -1);
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& payload);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Protobuf encodings used above (exposed for tests).
std::string tb_event_file_version(double wall_time);  // Event{wall_time, file_version}
std::string tb_event_scalar(double wall_time, int64_t step, const std::string& tag, float value);

}  // namespace zerorl::trainer
