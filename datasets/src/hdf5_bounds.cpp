// Bounds checked before HDF5 reads what a file declares (hdf5_bounds.h, and check_global_heaps in
// hdf5.h): HDF5 1.10 allocates and parses declared sizes before it finds the file cannot back them.
//
// Note [global heap walk]: variable-length strings live in global heap collections ("GCOL").
// HDF5 1.10 parses a collection by stepping from object to object by each object's declared
// size; a free-space object (index 0) declaring size 0 makes that step zero and the parse never
// ends (a 12 KB file held a process for minutes). The layout, from the HDF5 File Format
// Specification ("Global Heap"): signature "GCOL", version 1, three reserved zero bytes, the
// collection size (8-byte length, counting this 16-byte header), then objects, each a 16-byte
// header (index u16, reference count u16, reserved u32, object size u64) and its data padded to
// 8 bytes; the free-space object, index 0, counts its own header in its size. Collections are
// found by their 8-byte prefix "GCOL" 01 00 00 00, which other bytes match with probability 2^-64
// per offset.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/core/io_error.h"
#include "vlb/datasets/hdf5.h"
#include "hdf5_bounds.h"

namespace vlb::h5 {
namespace {

constexpr unsigned char kPrefix[8] = {'G', 'C', 'O', 'L', 1, 0, 0, 0};
constexpr uint64_t kHeader = 16;

uint64_t le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Empty when the collection at `at` walks cleanly to its end, else what is wrong.
std::string walk(const unsigned char* b, uint64_t file_size, uint64_t at) {
  if (file_size - at < kHeader) return "collection header cut off by the end of the file";
  const uint64_t size = le64(b + at + 8);
  if (size < kHeader || size > file_size - at)
    return fmt::format("collection size {} runs past the end of the file", size);
  const uint64_t end = at + size;
  uint64_t p = at + kHeader;
  while (p < end) {
    const uint64_t left = end - p;
    if (left < kHeader) break;  // a tail too small for an object header is free space
    const uint16_t index = le16(b + p);
    const uint64_t osize = le64(b + p + 8);
    uint64_t need;
    if (index == 0) {
      need = osize;  // free space, its header included
      if (need < kHeader) return fmt::format("free-space object at byte {} declares size {}", p, osize);
    } else {
      if (osize > left) return fmt::format("object {} at byte {} declares {} bytes, {} left", index, p, osize, left);
      need = kHeader + ((osize + 7) / 8) * 8;
    }
    if (need > left) return fmt::format("object {} at byte {} runs past its collection", index, p);
    p += need;
  }
  return "";
}

}  // namespace

// Note [declared sizes]: HDF5 allocates and converts what a dataspace declares before it finds
// that the file cannot back it; a few kilobytes can declare billions of variable-length strings,
// each a global-heap lookup. A read is refused when its declared bytes exceed what the file could
// expand to: its size, times 1032 (deflate's maximum ratio, zlib's technical notes) where filters
// may apply (chunked datasets; attributes are stored unfiltered). 16 bytes per variable-length
// element is its heap reference in the file (length + collection address + index).
constexpr uint64_t kDeflateMaxRatio = 1032;

void check_declared(hid_t loc, const std::string& file, const std::string& path, uint64_t n,
                    uint64_t bytes_per_element, bool filtered) {
  hsize_t file_bytes = 0;
  {
    ErrorGuard guard;
    hid_t f = H5Iget_file_id(loc);
    if (f < 0) return;
    H5Fget_filesize(f, &file_bytes);
    H5Fclose(f);
  }
  const uint64_t cap = static_cast<uint64_t>(file_bytes) * (filtered ? kDeflateMaxRatio : 1) + 4096;
  const uint64_t per = std::max<uint64_t>(1, bytes_per_element);
  if (n > cap / per)
    throw DataError(file, path, fmt::format("declares {} elements, more than a {}-byte file can hold",
                                            n, static_cast<uint64_t>(file_bytes)));
}

// HDF5 allocates each variable-length string at the length its heap reference declares before it
// looks the string up (a 14 KB file declared 1.4 GB). In a contiguous dataset the references are
// the raw data, 16 bytes each, the first 4 the length: their sum cannot exceed the file (heap
// objects are stored unfiltered). Chunked string datasets (vlbench writes none) are bounded by
// check_declared only.
void check_vlen_lengths(hid_t file_id, hid_t dset, const std::string& file, const std::string& path,
                        uint64_t n) {
  haddr_t off = HADDR_UNDEF;
  hsize_t file_bytes = 0, userblock = 0;
  {
    ErrorGuard guard;
    off = H5Dget_offset(dset);
    H5Fget_filesize(file_id, &file_bytes);
    hid_t fcpl = H5Fget_create_plist(file_id);
    if (fcpl >= 0) {
      H5Pget_userblock(fcpl, &userblock);
      H5Pclose(fcpl);
    }
  }
  if (off == HADDR_UNDEF || n == 0) return;
  const uint64_t at = static_cast<uint64_t>(off) + userblock;
  if (at > file_bytes || n > (file_bytes - at) / kVlenFileBytes)
    throw DataError(file, path, fmt::format("{} string references run past the end of the file", n));
  std::ifstream f(file, std::ios::binary);
  std::vector<unsigned char> refs(n * kVlenFileBytes);
  f.seekg(static_cast<std::streamoff>(at));
  if (!f.read(reinterpret_cast<char*>(refs.data()), static_cast<std::streamsize>(refs.size())))
    throw DataError(file, path, "cannot read the string references");
  uint64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const unsigned char* r = refs.data() + i * kVlenFileBytes;
    const uint64_t len = r[0] | (r[1] << 8) | (r[2] << 16) | (uint64_t(r[3]) << 24);
    total += len;
    if (total > file_bytes)
      throw DataError(file, path, fmt::format("string {} declares {} bytes: the strings declare more "
                                              "than the {}-byte file holds", i, len,
                                              static_cast<uint64_t>(file_bytes)));
  }
}

uint64_t element_count(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t x : shape) {
    const uint64_t d = x > 0 ? static_cast<uint64_t>(x) : 0;
    n = (d != 0 && n > UINT64_MAX / d) ? UINT64_MAX : n * d;
  }
  return n;
}

void check_global_heaps(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // the HDF5 open that follows reports what is wrong with the file
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kHeader)) {
    ::close(fd);
    return;
  }
  const uint64_t n = static_cast<uint64_t>(st.st_size);
  void* m = mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return;
  const auto* b = static_cast<const unsigned char*>(m);
  std::string problem;
  uint64_t at = 0;
  for (const unsigned char* p = b; problem.empty();) {
    const void* hit = memmem(p, n - static_cast<uint64_t>(p - b), kPrefix, sizeof kPrefix);
    if (!hit) break;
    at = static_cast<uint64_t>(static_cast<const unsigned char*>(hit) - b);
    problem = walk(b, n, at);
    p = static_cast<const unsigned char*>(hit) + 1;
  }
  munmap(m, n);
  if (!problem.empty())
    throw DataError(path, fmt::format("global heap at byte {}", at),
                    "malformed variable-length data storage (" + problem + ")");
}

}  // namespace vlb::h5
