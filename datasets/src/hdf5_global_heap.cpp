// Structural check of an HDF5 file's global heap collections before the library reads them
// (hdf5.h, check_global_heaps).
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

#include "vlb/core/error.h"
#include "vlb/core/io_error.h"
#include "vlb/datasets/hdf5.h"

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
