#include "vlb/datasets/hdf5.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "vlb/core/error.h"
#include "vlb/core/io_error.h"
#include "hdf5_bounds.h"

namespace vlb::h5 {

namespace {

struct StackInfo {
  std::string innermost;
  int err = 0;  // an errno the stack reports ("errno = 28"), 0 if none
};

StackInfo error_stack() {
  StackInfo out;
  auto cb = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
    auto* si = static_cast<StackInfo*>(data);
    const std::string desc = e->desc ? e->desc : "";
    if (n == 0) si->innermost = desc;
    const size_t at = desc.find("errno = ");
    if (si->err == 0 && at != std::string::npos) si->err = std::atoi(desc.c_str() + at + 8);
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cb, &out);
  return out;
}

// The sec2 driver's descriptions carry "time = ..., filename = ..., file descriptor = ...,
// buf = ..." noise; keep the sentence and its error message.
std::string tidy(const std::string& desc) {
  std::string head = desc.substr(0, desc.find(':'));
  const size_t m = desc.find("error message = '");
  if (m != std::string::npos) {
    const size_t b = m + 17, e = desc.find('\'', b);
    head += ": " + desc.substr(b, e == std::string::npos ? std::string::npos : e - b);
  }
  return head;
}

}  // namespace

std::string innermost_error() { return tidy(error_stack().innermost); }

namespace {

[[noreturn]] void fail_stack(const StackInfo& si, const std::string& file, const std::string& where,
                             const std::string& what, const std::string& why) {
  std::string msg = "HDF5: " + what;
  const std::string detail = why.empty() ? tidy(si.innermost) : why;
  if (!detail.empty()) msg += " (" + detail + ")";
  H5Eclear2(H5E_DEFAULT);
  if (is_environment_errno(si.err)) throw EnvironmentError(file, where, msg);
  throw DataError(file, where, msg);
}

}  // namespace

void fail_hdf5(const std::string& file, const std::string& where, const std::string& what,
               const std::string& why) {
  fail_stack(error_stack(), file, where, what, why);
}

namespace {

std::string file_name(hid_t loc) {
  ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n <= 0) return "<hdf5>";
  std::string s(static_cast<size_t>(n) + 1, '\0');
  H5Fget_name(loc, s.data(), s.size());
  s.resize(static_cast<size_t>(n));
  return s;
}

[[noreturn]] void fail(hid_t loc, const std::string& path, const std::string& msg) {
  throw DataError(file_name(loc), path, msg);
}

// The stack is read before file_name(): every HDF5 API call starts by clearing it.
Handle check(hid_t id, hid_t loc, const std::string& path, const char* what) {
  if (id < 0) {
    const StackInfo si = error_stack();
    fail_stack(si, file_name(loc), path, std::string("cannot ") + what, "");
  }
  return Handle(id);
}

void check_status(herr_t st, hid_t loc, const std::string& path, const char* what) {
  if (st < 0) {
    const StackInfo si = error_stack();
    fail_stack(si, file_name(loc), path, std::string("cannot ") + what, "");
  }
}

// The little-endian file/memory type we use for each numeric dtype.
Handle le_type(DType t) {
  switch (t) {
    case DType::kFloat16: return make_float16_type();
    case DType::kFloat32: return Handle(H5Tcopy(H5T_IEEE_F32LE));
    case DType::kFloat64: return Handle(H5Tcopy(H5T_IEEE_F64LE));
    case DType::kInt8: return Handle(H5Tcopy(H5T_STD_I8LE));
    case DType::kUInt8: return Handle(H5Tcopy(H5T_STD_U8LE));
    case DType::kInt16: return Handle(H5Tcopy(H5T_STD_I16LE));
    case DType::kInt32: return Handle(H5Tcopy(H5T_STD_I32LE));
    case DType::kInt64: return Handle(H5Tcopy(H5T_STD_I64LE));
    default: throw Error("h5: no numeric type for this dtype");
  }
}

at::ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::kFloat16: return at::kHalf;
    case DType::kFloat32: return at::kFloat;
    case DType::kFloat64: return at::kDouble;
    case DType::kInt8: return at::kChar;
    case DType::kUInt8: return at::kByte;
    case DType::kInt16: return at::kShort;
    case DType::kInt32: return at::kInt;
    case DType::kInt64: return at::kLong;
    default: throw Error("h5: no tensor type for this dtype");
  }
}

DType classify(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (cls == H5T_STRING) return DType::kString;
  if (cls == H5T_FLOAT) {
    if (size == 2) return DType::kFloat16;
    if (size == 4) return DType::kFloat32;
    if (size == 8) return DType::kFloat64;
  }
  if (cls == H5T_INTEGER) {
    bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1) return is_signed ? DType::kInt8 : DType::kUInt8;
    if (size == 2 && is_signed) return DType::kInt16;
    if (size == 4 && is_signed) return DType::kInt32;
    if (size == 8 && is_signed) return DType::kInt64;
  }
  return DType::kOther;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Creates the missing parent groups of `path`.
void make_parents(hid_t file, const std::string& path) {
  auto parts = split_path(path);
  std::string cur;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    cur += "/" + parts[i];
    if (!exists(file, cur)) {
      Handle g = check(H5Gcreate2(file, cur.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), file,
                       cur, "create group");
    }
  }
}

Handle open_dataset(hid_t loc, const std::string& path) {
  ErrorGuard guard;
  hid_t id = H5Dopen2(loc, path.c_str(), H5P_DEFAULT);
  if (id < 0) fail(loc, path, "dataset not found");
  return Handle(id);
}

Handle vlen_utf8_type() {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.id(), H5T_VARIABLE);
  H5Tset_cset(t.id(), H5T_CSET_UTF8);
  return t;
}

Handle open_object(hid_t loc, const std::string& obj) {
  ErrorGuard guard;
  hid_t id = H5Oopen(loc, obj.c_str(), H5P_DEFAULT);
  if (id < 0) fail(loc, obj, "object not found");
  return Handle(id);
}

// Reads a string-typed attribute or dataset element set given its type and a reader callback.
template <class ReadFn>
std::vector<std::string> read_string_values(hid_t type, size_t count, ReadFn read) {
  std::vector<std::string> out;
  out.reserve(count);
  if (H5Tis_variable_str(type) > 0) {
    Handle mem = vlen_utf8_type();
    std::vector<char*> buf(count, nullptr);
    if (count) read(mem.id(), buf.data());
    for (char* p : buf) out.emplace_back(p ? p : "");
    // Free the library-allocated strings.
    if (count) {
      hsize_t dims[1] = {count};
      Handle space(H5Screate_simple(1, dims, nullptr));
      H5Dvlen_reclaim(mem.id(), space.id(), H5P_DEFAULT, buf.data());
    }
  } else {
    size_t sz = H5Tget_size(type);
    Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.id(), sz);
    H5Tset_strpad(mem.id(), H5T_STR_NULLPAD);
    std::vector<char> buf(sz * count + 1, '\0');
    if (count) read(mem.id(), buf.data());
    for (size_t i = 0; i < count; ++i) {
      const char* p = buf.data() + i * sz;
      out.emplace_back(p, strnlen(p, sz));
    }
  }
  return out;
}

}  // namespace

void init_library() {
  // Note [HDF5 at exit]: after a failed write (disk full) the library's own atexit cleanup retries
  // flushing what it still holds and can crash there. Every handle of ours is closed by RAII before
  // main returns, so the library is told to leave exit alone; and its error printing is off for
  // good: failures reach the user as one located message (fail_hdf5), not as a stack dump.
  static const bool once = [] {
    H5dont_atexit();
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

ErrorGuard::ErrorGuard() {
  init_library();
  H5Eget_auto2(H5E_DEFAULT, &old_func_, &old_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}
ErrorGuard::~ErrorGuard() { H5Eset_auto2(H5E_DEFAULT, old_func_, old_data_); }

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
  id_ = H5I_INVALID_HID;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat16: return "float16";
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt8: return "int8";
    case DType::kUInt8: return "uint8";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kString: return "string";
    default: return "unsupported type";
  }
}

bool is_integer(DType t) {
  return t == DType::kInt8 || t == DType::kUInt8 || t == DType::kInt16 || t == DType::kInt32 ||
         t == DType::kInt64;
}
bool is_float(DType t) {
  return t == DType::kFloat16 || t == DType::kFloat32 || t == DType::kFloat64;
}

Handle make_float16_type() {
  // Note [float16 in HDF5 1.10]: there is no predefined half type; sign bit 15, exponent bits
  // 10..14 (bias 15), mantissa bits 0..9 in a 2-byte little-endian float is what numpy/h5py use.
  Handle t(H5Tcopy(H5T_IEEE_F32LE));
  H5Tset_fields(t.id(), 15, 10, 5, 0, 10);
  H5Tset_size(t.id(), 2);
  H5Tset_ebias(t.id(), 15);
  return t;
}

File File::create(const std::string& path) {
  ErrorGuard guard;
  File f;
  f.path_ = path;
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) fail_hdf5(path, "", "cannot create the HDF5 file");
  f.h_ = Handle(id);
  return f;
}

void File::close_checked() {
  if (!h_.valid()) return;
  ErrorGuard guard;
  const hid_t id = h_.release();
  // Flushing is where a full disk shows up for metadata; a failed flush still closes the handle.
  const herr_t flushed = H5Fflush(id, H5F_SCOPE_LOCAL);
  StackInfo si;
  if (flushed < 0) si = error_stack();
  const herr_t closed = H5Fclose(id);
  if (closed < 0 && flushed >= 0) si = error_stack();
  if (flushed < 0 || closed < 0) fail_stack(si, path_, "", "cannot finish writing the HDF5 file", "");
}

File File::open(const std::string& path, bool writable) {
  ErrorGuard guard;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw DataError(path, "", "file not found");
  if (std::filesystem::is_directory(path, ec))
    throw DataError(path, "", "is a directory; expected a schema-v1 HDF5 feature file");
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 < 0) fail_hdf5(path, "", "cannot read the file");
  if (is_h5 == 0)
    throw DataError(path, "", "not an HDF5 file (expected a schema-v1 feature file, see datasets/SCHEMA.md)");
  check_global_heaps(path);
  File f;
  f.path_ = path;
  hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) fail_hdf5(path, "", "cannot open the HDF5 file");
  f.h_ = Handle(id);
  return f;
}

std::string Info::describe() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "] " + dtype_name(dtype);
}

bool exists(hid_t loc, const std::string& path) {
  ErrorGuard guard;
  // H5Lexists fails on a missing intermediate group, so walk the path one link at a time.
  std::string cur;
  for (const auto& part : split_path(path)) {
    cur += "/" + part;
    if (H5Lexists(loc, cur.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

static H5I_type_t object_type(hid_t loc, const std::string& path) {
  if (!exists(loc, path)) return H5I_BADID;
  ErrorGuard guard;
  hid_t id = H5Oopen(loc, path.c_str(), H5P_DEFAULT);
  if (id < 0) return H5I_BADID;
  Handle h(id);
  return H5Iget_type(id);
}

bool is_group(hid_t loc, const std::string& path) {
  if (path == "/") return true;
  return object_type(loc, path) == H5I_GROUP;
}
bool is_dataset(hid_t loc, const std::string& path) {
  return object_type(loc, path) == H5I_DATASET;
}

std::vector<std::string> children(hid_t loc, const std::string& group) {
  std::vector<std::string> names;
  if (!is_group(loc, group)) return names;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  ErrorGuard guard;
  H5Literate_by_name(loc, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names,
                     H5P_DEFAULT);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> all_datasets(hid_t file) {
  struct Ctx {
    hid_t file;
    std::vector<std::string> out;
  } ctx{file, {}};
  auto cb = [](hid_t g, const char* name, const H5L_info_t*, void* data) -> herr_t {
    auto* c = static_cast<Ctx*>(data);
    hid_t id = H5Oopen(g, name, H5P_DEFAULT);
    if (id < 0) return 0;
    Handle h(id);
    if (H5Iget_type(id) == H5I_DATASET) c->out.push_back(std::string("/") + name);
    return 0;
  };
  ErrorGuard guard;
  H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, cb, &ctx);
  std::sort(ctx.out.begin(), ctx.out.end());
  return ctx.out;
}

Info info(hid_t loc, const std::string& path) {
  Handle d = open_dataset(loc, path);
  Handle type(H5Dget_type(d.id()));
  Handle space(H5Dget_space(d.id()));
  Info inf;
  inf.dtype = classify(type.id());
  int nd = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(nd, 0)));
  if (nd > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  for (hsize_t x : dims) inf.shape.push_back(static_cast<int64_t>(x));
  return inf;
}

void write_array(hid_t file, const std::string& path, const at::Tensor& t, DType storage,
                 int64_t chunk_rows) {
  make_parents(file, path);
  at::Tensor c = t.to(scalar_type(storage)).contiguous();
  std::vector<hsize_t> dims;
  for (int64_t s : c.sizes()) dims.push_back(static_cast<hsize_t>(s));
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (chunk_rows > 0 && !dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::min<hsize_t>(dims[0], static_cast<hsize_t>(chunk_rows));
    for (size_t i = 1; i < chunk.size(); ++i) chunk[i] = std::max<hsize_t>(chunk[i], 1);
    H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data());
  }
  Handle type = le_type(storage);
  Handle d = check(H5Dcreate2(file, path.c_str(), type.id(), space.id(), H5P_DEFAULT, dcpl.id(),
                              H5P_DEFAULT),
                   file, path, "create dataset");
  // at::Tensor holds host-endian data; every supported host is little-endian, so the LE file
  // type doubles as the memory type.
  if (c.numel() > 0)
    check_status(H5Dwrite(d.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data_ptr()), file,
                 path, "write dataset");
}

at::Tensor read_array(hid_t file, const std::string& path) {
  Info inf = info(file, path);
  if (!is_float(inf.dtype) && !is_integer(inf.dtype))
    fail(file, path, "expected a numeric array, got " + inf.describe());
  check_declared(file, file_name(file), path, element_count(inf.shape), c10::elementSize(scalar_type(inf.dtype)), true);
  at::Tensor t = torch::empty(inf.shape, torch::TensorOptions().dtype(scalar_type(inf.dtype)));
  Handle d = open_dataset(file, path);
  Handle type = le_type(inf.dtype);
  if (t.numel() > 0)
    check_status(H5Dread(d.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr()), file,
                 path, "read dataset");
  return t;
}

std::string read_raw_le(hid_t file, const std::string& path) {
  at::Tensor t = read_array(file, path);
  return std::string(static_cast<const char*>(t.data_ptr()),
                     static_cast<size_t>(t.numel()) * t.element_size());
}

void write_strings(hid_t file, const std::string& path, const std::vector<std::string>& s) {
  make_parents(file, path);
  hsize_t dims[1] = {s.size()};
  Handle space(H5Screate_simple(1, dims, nullptr));
  Handle type = vlen_utf8_type();
  Handle d = check(H5Dcreate2(file, path.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT),
                   file, path, "create dataset");
  std::vector<const char*> ptrs;
  for (const auto& x : s) ptrs.push_back(x.c_str());
  if (!s.empty())
    check_status(H5Dwrite(d.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), file,
                 path, "write strings");
}

std::vector<std::string> read_strings(hid_t file, const std::string& path) {
  Info inf = info(file, path);
  if (inf.dtype != DType::kString || inf.shape.size() != 1)
    fail(file, path, "expected a 1-D string array, got " + inf.describe());
  Handle d = open_dataset(file, path);
  Handle type(H5Dget_type(d.id()));
  check_declared(file, file_name(file), path, static_cast<uint64_t>(inf.shape[0]),
                 H5Tis_variable_str(type.id()) > 0 ? kVlenFileBytes : H5Tget_size(type.id()), true);
  if (H5Tis_variable_str(type.id()) > 0)
    check_vlen_lengths(file, d.id(), file_name(file), path, static_cast<uint64_t>(inf.shape[0]));
  return read_string_values(type.id(), static_cast<size_t>(inf.shape[0]),
                            [&](hid_t mem, void* buf) {
                              check_status(H5Dread(d.id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
                                           file, path, "read strings");
                            });
}

static Handle replace_attr(hid_t loc, const std::string& obj, const std::string& name, hid_t type) {
  Handle o = open_object(loc, obj);
  {
    ErrorGuard guard;
    if (H5Aexists(o.id(), name.c_str()) > 0) H5Adelete(o.id(), name.c_str());
  }
  Handle space(H5Screate(H5S_SCALAR));
  return check(H5Acreate2(o.id(), name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), loc,
               obj + "@" + name, "create attribute");
}

void set_attr(hid_t loc, const std::string& obj, const std::string& name, const std::string& v) {
  Handle type = vlen_utf8_type();
  Handle a = replace_attr(loc, obj, name, type.id());
  const char* p = v.c_str();
  check_status(H5Awrite(a.id(), type.id(), &p), loc, obj + "@" + name, "write attribute");
}

void set_attr(hid_t loc, const std::string& obj, const std::string& name, int64_t v) {
  Handle a = replace_attr(loc, obj, name, H5T_STD_I64LE);
  check_status(H5Awrite(a.id(), H5T_NATIVE_INT64, &v), loc, obj + "@" + name, "write attribute");
}

std::vector<std::string> attr_names(hid_t loc, const std::string& obj) {
  std::vector<std::string> names;
  Handle o = open_object(loc, obj);
  auto cb = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  ErrorGuard guard;
  H5Aiterate2(o.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names);
  std::sort(names.begin(), names.end());
  return names;
}

static Handle open_attr(hid_t loc, const std::string& obj, const std::string& name) {
  if (obj != "/" && !exists(loc, obj)) return Handle();
  Handle o = open_object(loc, obj);
  ErrorGuard guard;
  if (H5Aexists(o.id(), name.c_str()) <= 0) return Handle();
  return Handle(H5Aopen(o.id(), name.c_str(), H5P_DEFAULT));
}

std::optional<std::string> get_attr_text(hid_t loc, const std::string& obj,
                                         const std::string& name) {
  Handle a = open_attr(loc, obj, name);
  if (!a.valid()) return std::nullopt;
  Handle type(H5Aget_type(a.id()));
  Handle space(H5Aget_space(a.id()));
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  DType dt = classify(type.id());
  if (dt == DType::kString) {
    check_declared(loc, file_name(loc), obj + "@" + name, static_cast<uint64_t>(std::max<hssize_t>(n, 0)),
                   H5Tis_variable_str(type.id()) > 0 ? kVlenFileBytes : H5Tget_size(type.id()),
                   false);
    auto vals = read_string_values(type.id(), static_cast<size_t>(n), [&](hid_t mem, void* buf) {
      check_status(H5Aread(a.id(), mem, buf), loc, obj + "@" + name, "read attribute");
    });
    std::string out;
    for (size_t i = 0; i < vals.size(); ++i) out += (i ? ", " : "") + vals[i];
    return out;
  }
  if (n == 1 && is_integer(dt)) {
    int64_t v = 0;
    H5Aread(a.id(), H5T_NATIVE_INT64, &v);
    return std::to_string(v);
  }
  if (n == 1 && is_float(dt)) {
    double v = 0;
    H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v);
    return std::to_string(v);
  }
  return std::string("<") + dtype_name(dt) + " attribute>";
}

std::optional<int64_t> get_attr_int(hid_t loc, const std::string& obj, const std::string& name) {
  Handle a = open_attr(loc, obj, name);
  if (!a.valid()) return std::nullopt;
  Handle type(H5Aget_type(a.id()));
  Handle space(H5Aget_space(a.id()));
  if (!is_integer(classify(type.id())) || H5Sget_simple_extent_npoints(space.id()) != 1)
    return std::nullopt;
  int64_t v = 0;
  if (H5Aread(a.id(), H5T_NATIVE_INT64, &v) < 0) return std::nullopt;
  return v;
}

}  // namespace vlb::h5
