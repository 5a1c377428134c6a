// trainer/tb_writer.cpp: TFRecord framing and the Event/Summary protobuf wire encoding (see the header for
// why hand-written). Field numbers from tensorflow/core/util/event.proto and summary.proto:
// Event{1: double wall_time, 2: int64 step, 3: string file_version, 5: Summary summary};
// Summary{1: repeated Value value}; Value{1: string tag, 2: float simple_value}.
// Not here: any other summary type.
#include "trainer/tb_writer.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/crc32c.h"
#include "core/error.h"

namespace zerorl::trainer {

namespace {
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
template <class T>
void put_fixed(std::string& out, T v) {  // little-endian, as protobuf and TFRecord require
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(reinterpret_cast<const char*>(b), sizeof(T));
}
void put_bytes_field(std::string& out, uint32_t field, const std::string& bytes) {
  put_varint(out, (field << 3) | 2U);
  put_varint(out, bytes.size());
  out += bytes;
}
double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = zerorl::crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8U;
}

std::string tb_event_file_version(double wall_time) {
  std::string e;
  put_varint(e, (1U << 3) | 1U);
  put_fixed(e, wall_time);
  put_bytes_field(e, 3, "brain.Event:2");
  return e;
}

std::string tb_event_scalar(double wall_time, int64_t step, const std::string& tag, float value) {
  std::string val;
  put_bytes_field(val, 1, tag);
  put_varint(val, (2U << 3) | 5U);
  put_fixed(val, value);
  std::string summary;
  put_bytes_field(summary, 1, val);
  std::string e;
  put_varint(e, (1U << 3) | 1U);
  put_fixed(e, wall_time);
  put_varint(e, (2U << 3) | 0U);
  put_varint(e, static_cast<uint64_t>(step));
  put_bytes_field(e, 5, summary);
  return e;
}

TbWriter::TbWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "host";
  gethostname(host, sizeof(host) - 1);
  const double t = now_s();
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(t)) + "." + host + "." +
          std::to_string(getpid());
  file_ = std::fopen(path_.c_str(), "ab");
  ZRL_CHECK(file_ != nullptr, "cannot open TensorBoard event file '{}' for writing", path_);
  write_record(tb_event_file_version(t));
}

TbWriter::~TbWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TbWriter::write_record(const std::string& payload) {
  std::string rec;
  const uint64_t len = payload.size();
  put_fixed(rec, len);
  put_fixed(rec, masked_crc32c(rec.data(), 8));
  rec += payload;
  put_fixed(rec, masked_crc32c(payload.data(), payload.size()));
  ZRL_CHECK(std::fwrite(rec.data(), 1, rec.size(), file_) == rec.size(), "write to '{}' failed", path_);
}

void TbWriter::add_scalar(const std::string& tag, int64_t step, double value, double wall_time) {
  write_record(tb_event_scalar(wall_time < 0 ? now_s() : wall_time, step, tag, static_cast<float>(value)));
}

void TbWriter::flush() { std::fflush(file_); }

}  // namespace zerorl::trainer
