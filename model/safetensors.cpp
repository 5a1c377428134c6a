// model/safetensors.cpp: parsing and validation of safetensors headers, mmap, and the writers.
// Not here: conversion to torch tensors (checkpoint.cpp).
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/json_io.h"

namespace zerorl::model {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // the spec's limit

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},   {DType::kI8, "I8", 1},     {DType::kI16, "I16", 2},
    {DType::kU16, "U16", 2},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2}, {DType::kI32, "I32", 4},
    {DType::kU32, "U32", 4},   {DType::kF32, "F32", 4}, {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8},
    {DType::kU64, "U64", 8},
};

const DTypeInfo& info(DType dtype) {
  for (const auto& d : kDTypes) {
    if (d.dtype == dtype) return d;
  }
  ZRL_FAIL("safetensors: invalid dtype enum {}", static_cast<int>(dtype));
}

// An mmap'ed read-only file; unmapped when the last owner goes.
struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr && size > 0) munmap(addr, size);
  }
};

std::shared_ptr<Mapping> map_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ZRL_CHECK(fd >= 0, "safetensors: cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    ZRL_FAIL("safetensors: cannot stat '{}'", path);
  }
  auto m = std::make_shared<Mapping>();
  m->size = static_cast<size_t>(st.st_size);
  if (m->size > 0) {
    m->addr = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) {
      m->addr = nullptr;
      close(fd);
      ZRL_FAIL("safetensors: cannot mmap '{}': {}", path, std::strerror(errno));
    }
  }
  close(fd);
  return m;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses "shape" as non-negative integers; returns the element count or throws on overflow.
uint64_t parse_shape(const Json& shape, std::vector<int64_t>& out, const std::string& where) {
  ZRL_CHECK(shape.is_array(), "{}: 'shape' must be an array, got {}", where, shape.dump());
  uint64_t count = 1;
  for (const auto& d : shape) {
    ZRL_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
              "{}: shape entries must be non-negative integers, got {}", where, d.dump());
    uint64_t v = d.get<uint64_t>();
    ZRL_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "{}: dimension {} too large",
              where, v);
    ZRL_CHECK(v == 0 || count <= std::numeric_limits<uint64_t>::max() / v, "{}: shape {} overflows", where,
              shape.dump());
    count *= v;
    out.push_back(static_cast<int64_t>(v));
  }
  return count;
}

uint64_t parse_offset(const Json& v, const std::string& where) {
  ZRL_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
            "{}: data_offsets must be non-negative integers, got {}", where, v.dump());
  return v.get<uint64_t>();
}

}  // namespace

DType dtype_from_string(const std::string& name) {
  for (const auto& d : kDTypes) {
    if (name == d.name) return d.dtype;
  }
  ZRL_FAIL("safetensors: unsupported dtype '{}' (known: BOOL U8 I8 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64)",
           name);
}
const char* dtype_name(DType dtype) { return info(dtype).name; }
size_t dtype_size(DType dtype) { return info(dtype).size; }

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  auto m = map_file(path);
  mapping_ = m;
  parse(static_cast<const uint8_t*>(m->addr), m->size);
}

SafetensorsFile SafetensorsFile::from_bytes(std::shared_ptr<const std::vector<uint8_t>> bytes,
                                            const std::string& label) {
  SafetensorsFile f;
  f.path_ = label;
  f.mapping_ = bytes;
  f.parse(bytes->data(), bytes->size());
  return f;
}

void SafetensorsFile::parse(const uint8_t* bytes, size_t size) {
  ZRL_CHECK(size >= 8, "safetensors '{}': file has {} bytes, fewer than the 8-byte header length", path_,
            size);
  const uint64_t n = read_u64_le(bytes);
  ZRL_CHECK(n <= kMaxHeaderBytes, "safetensors '{}': header length {} exceeds the 100 MB limit", path_, n);
  ZRL_CHECK(n <= size - 8,
            "safetensors '{}': header length {} runs past the end of the file ({} bytes): truncated?", path_,
            n, size);
  const Json header = parse_json(std::string_view(reinterpret_cast<const char*>(bytes) + 8, n),
                                 "safetensors '" + path_ + "': header");
  ZRL_CHECK(header.is_object(), "safetensors '{}': header must be a JSON object", path_);
  const uint8_t* buffer = bytes + 8 + n;
  const uint64_t buffer_size = size - 8 - n;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      ZRL_CHECK(value.is_object(), "safetensors '{}': __metadata__ must be an object of strings", path_);
      for (const auto& [mk, mv] : value.items()) {
        ZRL_CHECK(mv.is_string(), "safetensors '{}': __metadata__['{}'] must be a string", path_, mk);
        metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string where = fmt::format("safetensors '{}', tensor '{}'", path_, key);
    ZRL_CHECK(value.is_object() && value.size() == 3 && value.contains("dtype") && value.contains("shape") &&
                  value.contains("data_offsets"),
              "{}: entry must be exactly {{dtype, shape, data_offsets}}", where);
    ZRL_CHECK(value["dtype"].is_string(), "{}: dtype must be a string", where);
    TensorView view;
    view.name = key;
    view.dtype = dtype_from_string(value["dtype"].get<std::string>());
    const uint64_t count = parse_shape(value["shape"], view.shape, where);
    const Json& offsets = value["data_offsets"];
    ZRL_CHECK(offsets.is_array() && offsets.size() == 2, "{}: data_offsets must be [begin, end]", where);
    const uint64_t begin = parse_offset(offsets[0], where), end = parse_offset(offsets[1], where);
    ZRL_CHECK(begin <= end && end <= buffer_size, "{}: data_offsets [{}, {}] outside the {}-byte buffer",
              where, begin, end, buffer_size);
    const uint64_t esize = dtype_size(view.dtype);
    ZRL_CHECK(count <= std::numeric_limits<uint64_t>::max() / esize && count * esize == end - begin,
              "{}: shape {} x {} bytes != byte range {}", where, value["shape"].dump(), esize, end - begin);
    view.data = buffer + begin;
    view.nbytes = static_cast<size_t>(end - begin);
    view.owner = mapping_;
    ranges.emplace_back(begin, end);
    tensors_.emplace(key, std::move(view));
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  for (const auto& [b, e] : ranges) {
    ZRL_CHECK(b == cursor, "safetensors '{}': byte ranges {} at offset {} (overlap or hole in the buffer)",
              path_, b < cursor ? "overlap" : "leave a hole", cursor);
    cursor = e;
  }
  ZRL_CHECK(cursor == buffer_size, "safetensors '{}': tensors cover {} of {} buffer bytes (trailing data?)",
            path_, cursor, buffer_size);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

const TensorView& SafetensorsFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  ZRL_CHECK(it != tensors_.end(), "safetensors '{}': no tensor named '{}'", path_, name);
  return it->second;
}

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& dir) : dir_(dir) {
  namespace fs = std::filesystem;
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (!fs::exists(index)) {
    const fs::path single = fs::path(dir) / "model.safetensors";
    ZRL_CHECK(fs::exists(single),
              "checkpoint '{}': neither model.safetensors nor model.safetensors.index.json", dir);
    files_.emplace_back(single.string());
    for (const auto& n : files_[0].names()) where_[n] = 0;
    return;
  }
  const Json j = read_json(index.string());
  ZRL_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
            "'{}': needs an object 'weight_map'", index.string());
  std::map<std::string, size_t> file_ids;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    ZRL_CHECK(file.is_string(), "'{}': weight_map['{}'] must be a file name", index.string(), tensor);
    const std::string f = file.get<std::string>();
    ZRL_CHECK(!f.empty() && f.find('/') == std::string::npos && f != "..",
              "'{}': weight_map['{}'] = '{}' must name a file inside the folder", index.string(), tensor, f);
    auto it = file_ids.find(f);
    if (it == file_ids.end()) {
      files_.emplace_back((fs::path(dir) / f).string());
      it = file_ids.emplace(f, files_.size() - 1).first;
    }
    ZRL_CHECK(files_[it->second].contains(tensor), "'{}': weight_map says '{}' is in '{}', which lacks it",
              index.string(), tensor, f);
    where_[tensor] = it->second;
  }
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& kv : where_) out.push_back(kv.first);
  return out;
}

const TensorView& SafetensorsCheckpoint::get(const std::string& name) const {
  auto it = where_.find(name);
  ZRL_CHECK(it != where_.end(), "checkpoint '{}': no tensor named '{}'", dir_, name);
  return files_[it->second].get(name);
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorBytes*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto* t : sorted) {
    uint64_t count = 1;
    for (int64_t d : t->shape) count *= static_cast<uint64_t>(d);
    ZRL_CHECK(count * dtype_size(t->dtype) == t->nbytes,
              "write_safetensors '{}': tensor '{}' has {} bytes, shape needs {}", path, t->name, t->nbytes,
              count * dtype_size(t->dtype));
    ZRL_CHECK(!header.contains(t->name), "write_safetensors '{}': duplicate tensor '{}'", path, t->name);
    header[t->name] = {
        {"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ZRL_CHECK(out.good(), "write_safetensors: cannot create '{}'", tmp);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
      len[i] = static_cast<uint8_t>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto* t : sorted)
      out.write(static_cast<const char*>(t->data), static_cast<std::streamsize>(t->nbytes));
    out.flush();
    ZRL_CHECK(out.good(), "write_safetensors: write to '{}' failed (disk full?)", tmp);
  }
  std::filesystem::rename(tmp, path);
}

std::vector<std::string> write_safetensors_checkpoint(const std::string& dir,
                                                      const std::vector<TensorBytes>& tensors,
                                                      size_t max_shard_bytes) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<const TensorBytes*> sorted;
  size_t total = 0;
  for (const auto& t : tensors) {
    sorted.push_back(&t);
    total += t.nbytes;
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  // Stale files from an earlier save with a different sharding would confuse loaders.
  fs::remove(fs::path(dir) / "model.safetensors.index.json");
  if (total <= max_shard_bytes) {
    write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors);
    return {"model.safetensors"};
  }
  std::vector<std::vector<TensorBytes>> shards(1);
  size_t current = 0;
  for (const auto* t : sorted) {
    if (current > 0 && current + t->nbytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(*t);
    current += t->nbytes;
  }
  Json index = {{"metadata", {{"total_size", total}}}, {"weight_map", Json::object()}};
  std::vector<std::string> names;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
    write_safetensors((fs::path(dir) / name).string(), shards[i]);
    for (const auto& t : shards[i]) index["weight_map"][t.name] = name;
    names.push_back(name);
  }
  fs::remove(fs::path(dir) / "model.safetensors");
  write_file_atomic((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n");
  names.push_back("model.safetensors.index.json");
  return names;
}

}  // namespace zerorl::model
