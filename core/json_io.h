// core/json_io.h: JSON and JSONL files (nlohmann::json): read all lines, append-and-flush writer,
// whole-file read/write, transparent .gz reading. Not here: schema checks (callers name their keys).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace zerorl {

using Json = nlohmann::json;

// Reads a whole file (plain or gzip, by the .gz suffix). Throws naming the path when unreadable.
std::string read_file(const std::string& path);
// Writes atomically: to path.tmp, then rename. Throws naming the path.
void write_file_atomic(const std::string& path, const std::string& content);

Json read_json(const std::string& path);
// Every non-empty line parsed; a bad line throws naming path:line and the parse error.
std::vector<Json> read_jsonl(const std::string& path);

// Appends one compact JSON object per line and flushes after each, so a crash loses at most one line.
class JsonlWriter {
 public:
  explicit JsonlWriter(const std::string& path, bool append = true);
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;
  void write(const Json& row);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace zerorl
