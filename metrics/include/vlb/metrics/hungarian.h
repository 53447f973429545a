#pragma once
// Rectangular linear assignment (the problem scipy.optimize.linear_sum_assignment solves), used by
// cACC (metrics/src/openvocab.cpp). O(min(r,c)^2 * max(r,c)) shortest augmenting paths with
// potentials; exact for any finite cost matrix.
#include <cstdint>
#include <vector>

namespace vlb {

/// `cost` is row-major [rows, cols]. Returns, for each row, its assigned column, or -1 for the
/// rows left over when rows > cols. min(rows, cols) pairs are matched, each row and column at most
/// once, minimising (or with `maximize`, maximising) the summed cost. Throws vlb::Error on a
/// non-finite entry or a size mismatch. Deterministic: among optimal assignments the one found is
/// a function of the matrix alone.
std::vector<int64_t> linear_sum_assignment(const std::vector<double>& cost, int64_t rows,
                                           int64_t cols, bool maximize = false);

}  // namespace vlb
