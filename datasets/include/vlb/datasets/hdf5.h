#pragma once
// A thin RAII layer over the HDF5 C API (no H5Cpp): handles that close themselves, typed
// array/string/attribute I/O and an error-stack guard. Used by the feature store and tests.
// Including this header needs the HDF5 include directories (vlb_datasets keeps them PRIVATE).
#include <ATen/core/Tensor.h>
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vlb::h5 {

/// Called by every entry point of this layer: silences HDF5's own error printing for good and keeps
/// its atexit cleanup from running (Note [HDF5 at exit] in hdf5.cpp).
void init_library();

/// The innermost description on HDF5's error stack, tidied ("" when the stack is empty).
std::string innermost_error();
/// Throws for a failed HDF5 call: EnvironmentError when the stack reports an environment errno
/// (disk full, permission denied), else DataError; the message ends with `why` (default: the
/// innermost HDF5 error). Clears the stack.
[[noreturn]] void fail_hdf5(const std::string& file, const std::string& where,
                            const std::string& what, const std::string& why = "");

/// Turns off HDF5's automatic error printing for its lifetime, so probing optional objects
/// (or opening a non-HDF5 file) prints nothing; we report our own DataError instead.
class ErrorGuard {
 public:
  ErrorGuard();
  ~ErrorGuard();
  ErrorGuard(const ErrorGuard&) = delete;
  ErrorGuard& operator=(const ErrorGuard&) = delete;

 private:
  H5E_auto2_t old_func_ = nullptr;
  void* old_data_ = nullptr;
};

/// Owns one hid_t (file, group, dataset, attribute, datatype, dataspace, property list).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  hid_t release() {
    hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  void reset();  // closes with the H5?close matching the object type

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Storage element types the schema uses. kOther covers anything else (reported by name).
enum class DType { kFloat16, kFloat32, kFloat64, kInt8, kUInt8, kInt16, kInt32, kInt64, kString, kOther };
const char* dtype_name(DType t);  // "float16", "int64", "string", ...
bool is_integer(DType t);
bool is_float(DType t);

/// The 16-bit IEEE little-endian float type, built the way h5py builds numpy's float16, so the
/// two read each other's files. Owned by the caller.
Handle make_float16_type();

class File {
 public:
  /// Creates (truncating) a file for writing. DataError on failure.
  static File create(const std::string& path);
  /// Opens an existing file; DataError when it is missing or not HDF5.
  static File open(const std::string& path, bool writable = false);
  hid_t id() const { return h_.id(); }
  const std::string& path() const { return path_; }
  void close() { h_.reset(); }
  /// Flushes and closes, throwing (fail_hdf5) when either fails: a writer must call this, since
  /// the destructor cannot report a full disk.
  void close_checked();

 private:
  Handle h_;
  std::string path_;
};

struct Info {
  DType dtype = DType::kOther;
  std::vector<int64_t> shape;
  std::string describe() const;  // "[1600, 512] float16"
};

/// True when `path` ("/a/b/c") names an existing object; intermediate groups may be missing.
bool exists(hid_t loc, const std::string& path);
bool is_group(hid_t loc, const std::string& path);
bool is_dataset(hid_t loc, const std::string& path);
/// Names of the direct children of a group, sorted.
std::vector<std::string> children(hid_t loc, const std::string& group);
/// Every dataset path in the file ("/classes/names", ...), sorted.
std::vector<std::string> all_datasets(hid_t file);

/// DataError naming the file and byte offset when a global heap collection (where variable-length
/// strings live) is malformed in a way HDF5 1.10 would parse forever; File::open calls it first.
/// One pass over the file's bytes (memory-mapped).
void check_global_heaps(const std::string& path);

Info info(hid_t loc, const std::string& path);

/// Writes a contiguous numeric tensor. `storage` chooses the on-disk type (kFloat16 converts a
/// float32 tensor to half first). chunk_rows > 0 chunks the first dimension.
void write_array(hid_t file, const std::string& path, const at::Tensor& t, DType storage,
                 int64_t chunk_rows = 0);
/// Reads a numeric dataset into a tensor of its own dtype (float16 -> at::kHalf).
at::Tensor read_array(hid_t file, const std::string& path);
/// Raw little-endian bytes of a numeric dataset exactly as stored (for hashing).
std::string read_raw_le(hid_t file, const std::string& path);

/// Variable-length UTF-8 string arrays (1-D). read_strings also accepts fixed-length strings.
void write_strings(hid_t file, const std::string& path, const std::vector<std::string>& s);
std::vector<std::string> read_strings(hid_t file, const std::string& path);

/// Scalar attributes on an object (path "/" for the root).
void set_attr(hid_t loc, const std::string& obj, const std::string& name, const std::string& v);
void set_attr(hid_t loc, const std::string& obj, const std::string& name, int64_t v);
std::vector<std::string> attr_names(hid_t loc, const std::string& obj);
/// The attribute as text (strings as-is, numbers formatted); nullopt when absent.
std::optional<std::string> get_attr_text(hid_t loc, const std::string& obj, const std::string& name);
/// The attribute as an integer; nullopt when absent or not an integer.
std::optional<int64_t> get_attr_int(hid_t loc, const std::string& obj, const std::string& name);

}  // namespace vlb::h5
