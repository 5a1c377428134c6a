// core/json_io.h: JSON and JSONL files (nlohmann::json): read all lines, append-and-flush writer,
// whole-file read/write, transparent .gz reading. Not here: schema checks (callers name their keys).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace zerorl {

using Json = nlohmann::json;

// Reads a whole file (plain or gzip, by the .gz suffix). Throws naming the path when unreadable.
std::string read_file(const std::string& path);
// Writes atomically: to path.tmp, then rename. Throws naming the path.
void write_file_atomic(const std::string& path, const std::string& content);

// Deepest nesting of arrays and objects accepted from a file or a peer. nlohmann-json copies, compares and
// dumps values recursively, so a line of 100000 '[' would overflow the stack as soon as an error message
// prints it; real data (datasets, tokenizer.json, manifests, verifier replies) nests under 10 deep.
inline constexpr int kMaxJsonDepth = 512;

// Json::parse with the nesting bounded by kMaxJsonDepth. Every JSON text from outside goes through one of
// these (or read_json / read_jsonl, which use them).
// Throws zerorl::Error "ORIGIN: invalid JSON: <parse error or depth>".
Json parse_json(std::string_view text, const std::string& origin);
// The same without exceptions: a discarded value (is_discarded()) when invalid or too deep.
Json parse_json_or_discarded(std::string_view text);
// v.dump() cut to at most max_chars (then ending in "..."), invalid UTF-8 replaced: values in error messages.
std::string dump_excerpt(const Json& v, size_t max_chars = 80);

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
