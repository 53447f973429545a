// Shortest-augmenting-path Hungarian algorithm with row/column potentials (Kuhn-Munkres in the
// Jonker-Volgenant form), written for vlb::linear_sum_assignment (see hungarian.h).
#include "vlb/metrics/hungarian.h"

#include <cmath>
#include <limits>
#include <string>

#include "vlb/core/error.h"

namespace vlb {

std::vector<int64_t> linear_sum_assignment(const std::vector<double>& cost, int64_t rows,
                                           int64_t cols, bool maximize) {
  if (rows < 0 || cols < 0 || static_cast<int64_t>(cost.size()) != rows * cols)
    throw Error("linear_sum_assignment: cost has " + std::to_string(cost.size()) +
                " entries, expected rows*cols = " + std::to_string(rows) + "*" +
                std::to_string(cols));
  for (size_t k = 0; k < cost.size(); ++k)
    if (!std::isfinite(cost[k]))
      throw Error("linear_sum_assignment: cost entry (" + std::to_string(k / (cols ? cols : 1)) +
                  ", " + std::to_string(k % (cols ? cols : 1)) + ") is not finite");
  std::vector<int64_t> out(static_cast<size_t>(rows), -1);
  if (rows == 0 || cols == 0) return out;

  // The algorithm below assigns every one of n "left" items to one of m >= n "right" items.
  const bool transposed = rows > cols;
  const int64_t n = transposed ? cols : rows, m = transposed ? rows : cols;
  const double sign = maximize ? -1.0 : 1.0;
  auto a = [&](int64_t i, int64_t j) {  // 1-based left i, right j
    return sign * (transposed ? cost[(j - 1) * cols + (i - 1)] : cost[(i - 1) * cols + (j - 1)]);
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0);
  std::vector<int64_t> p(m + 1, 0), way(m + 1, 0);  // p[j]: left item on right j (0 = free)
  for (int64_t i = 1; i <= n; ++i) {
    p[0] = i;
    int64_t j0 = 0;
    std::vector<double> minv(m + 1, inf);
    std::vector<char> used(m + 1, 0);
    do {  // grow the alternating tree until a free right item is reached
      used[j0] = 1;
      const int64_t i0 = p[j0];
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = a(i0, j) - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int64_t j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {  // flip the augmenting path
      const int64_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  for (int64_t j = 1; j <= m; ++j) {
    if (p[j] == 0) continue;
    if (transposed) out[j - 1] = p[j] - 1;  // original row j-1 -> original column p[j]-1
    else out[p[j] - 1] = j - 1;
  }
  return out;
}

}  // namespace vlb
