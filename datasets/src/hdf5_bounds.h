#pragma once
// Size checks hdf5.cpp runs before HDF5 reads what a file declares (hdf5_bounds.cpp). Each throws
// DataError naming `file` and `path`.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vlb::h5 {

/// Heap reference of one variable-length element in the file: length, collection address, index.
inline constexpr uint64_t kVlenFileBytes = 16;

/// The product of `shape` (negative dimensions count as 0), saturating at UINT64_MAX.
uint64_t element_count(const std::vector<int64_t>& shape);

/// `n` elements of `bytes_per_element` must fit in the file (times deflate's 1032:1 if filtered).
void check_declared(hid_t loc, const std::string& file, const std::string& path, uint64_t n,
                    uint64_t bytes_per_element, bool filtered);

/// The lengths the references of a contiguous variable-length string dataset declare must sum to
/// at most the file size.
void check_vlen_lengths(hid_t file_id, hid_t dset, const std::string& file, const std::string& path,
                        uint64_t n);

}  // namespace vlb::h5
