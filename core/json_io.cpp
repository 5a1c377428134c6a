// core/json_io.cpp: file IO for JSON/JSONL; gzip through zlib (packaged) rather than a hand-written inflater.
// Not here: config files (YAML, core/config.h).
#include "core/json_io.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace zerorl {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_gzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  ZRL_CHECK(gz != nullptr, "cannot open gzip file '{}'", path);
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(gz, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  int err = 0;
  const char* msg = gzerror(gz, &err);
  gzclose(gz);
  ZRL_CHECK(n == 0 && err == Z_OK, "corrupt gzip file '{}': {}", path, msg ? msg : "unknown error");
  return out;
}

struct TooDeep {};

// "" with `out` set, else why `text` is not acceptable JSON. nlohmann's parser itself is iterative; the
// callback sees every array/object start with the number of enclosing containers.
std::string try_parse(std::string_view text, Json& out) {
  const auto bound = [](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::array_start || event == Json::parse_event_t::object_start) &&
        depth >= kMaxJsonDepth)
      throw TooDeep{};
    return true;
  };
  try {
    out = Json::parse(text.begin(), text.end(), bound);
    return "";
  } catch (const Json::parse_error& e) {
    return e.what();
  } catch (const TooDeep&) {
    return fmt::format("arrays/objects nested deeper than {} levels", kMaxJsonDepth);
  }
}
}  // namespace

Json parse_json(std::string_view text, const std::string& origin) {
  Json out;
  const std::string err = try_parse(text, out);
  if (!err.empty()) ZRL_FAIL("{}: invalid JSON: {}", origin, err);
  return out;
}

Json parse_json_or_discarded(std::string_view text) {
  Json out;
  if (!try_parse(text, out).empty()) return Json(Json::value_t::discarded);
  return out;
}

std::string dump_excerpt(const Json& v, size_t max_chars) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() <= max_chars) return s;
  size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return s.substr(0, cut) + "...";
}

std::string read_file(const std::string& path) {
  if (ends_with(path, ".gz")) return read_gzip(path);
  std::ifstream in(path, std::ios::binary);
  ZRL_CHECK(in.good(), "cannot open file '{}'", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ZRL_CHECK(out.good(), "cannot write file '{}'", tmp);
    out << content;
    out.flush();
    ZRL_CHECK(out.good(), "write failed for '{}' (disk full?)", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  ZRL_CHECK(!ec, "cannot rename '{}' to '{}': {}", tmp, path, ec.message());
}

Json read_json(const std::string& path) {
  const std::string text = read_file(path);
  Json out;
  const std::string err = try_parse(text, out);
  if (!err.empty()) ZRL_FAIL("invalid JSON in '{}': {}", path, err);
  return out;
}

std::vector<Json> read_jsonl(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<Json> rows;
  std::istringstream in(text);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json row;
    const std::string err = try_parse(line, row);
    if (!err.empty()) ZRL_FAIL("invalid JSON on line {} of '{}': {}", line_no, path, err);
    rows.push_back(std::move(row));
  }
  return rows;
}

JsonlWriter::JsonlWriter(const std::string& path, bool append) : path_(path) {
  file_ = std::fopen(path.c_str(), append ? "ab" : "wb");
  ZRL_CHECK(file_ != nullptr, "cannot open '{}' for writing", path);
}

JsonlWriter::~JsonlWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void JsonlWriter::write(const Json& row) {
  const std::string line = row.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  ZRL_CHECK(std::fwrite(line.data(), 1, line.size(), file_) == line.size(), "write failed for '{}'", path_);
  std::fflush(file_);
}

}  // namespace zerorl
