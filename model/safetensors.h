// model/safetensors.h: torch-free safetensors reader (memory-mapped, every header field validated) and
// writer, single file and sharded (model.safetensors.index.json). Not here: torch tensors (checkpoint.h).
//
// Format (github.com/huggingface/safetensors, README "Format"): 8 bytes little-endian u64 N, then N
// bytes of UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the byte buffer; offsets are relative to the buffer start. Checked here: N fits the file and is at
// most 100 MB, the header is a JSON object of that shape, dtypes are known, shape product x dtype size
// equals end - begin (no overflow), and the ranges tile the buffer exactly: inside the file, no overlap,
// no holes. Hand-written: Debian packages no C/C++ safetensors library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace zerorl::model {

enum class DType { kBool, kU8, kI8, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64 };

// "F32" -> kF32 etc.; throws zerorl::Error naming `name` when unknown (F8 types are not supported).
DType dtype_from_string(const std::string& name);
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

// A read-only view into a mapped file; valid while the owning SafetensorsFile (or a copy of `owner`) lives.
struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::shared_ptr<const void> owner;  // keeps the mapping alive
};

// One .safetensors file, memory-mapped. Construction validates everything; errors name the path.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  // Parses an in-memory image (same checks); `label` names it in errors. Used by the fuzz tests.
  static SafetensorsFile from_bytes(std::shared_ptr<const std::vector<uint8_t>> bytes,
                                    const std::string& label);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  const TensorView& get(const std::string& name) const;  // throws naming the tensor and file

 private:
  SafetensorsFile() = default;
  void parse(const uint8_t* bytes, size_t size);

  std::string path_;
  std::shared_ptr<const void> mapping_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorView> tensors_;
};

// A checkpoint folder: model.safetensors, or model.safetensors.index.json plus its shards (weight_map
// entries must name files inside the folder and the tensor must be in that shard).
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::string& dir);
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  const TensorView& get(const std::string& name) const;
  size_t num_files() const { return files_.size(); }

 private:
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index in files_
};

// A tensor to write: raw little-endian bytes (nbytes == prod(shape) * dtype_size).
struct TensorBytes {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes one file (header padded with spaces to 8 bytes; tensors in name order) via a temp file + rename.
void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes `dir`/model.safetensors, or when the total exceeds `max_shard_bytes`,
// model-0000K-of-0000N.safetensors shards plus model.safetensors.index.json (HF's layout).
// Returns the written file names.
std::vector<std::string> write_safetensors_checkpoint(const std::string& dir,
                                                      const std::vector<TensorBytes>& tensors,
                                                      size_t max_shard_bytes);

}  // namespace zerorl::model
