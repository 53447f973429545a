#pragma once
// Paired per-sample tests between two runs on the same evaluation rows (`vlb diff`): did the
// change flip enough individual predictions to be more than noise? Boost.Math distributions.
#include <cstdint>
#include <vector>

namespace vlb {

/// Exact McNemar test of two classifiers on the same rows. Only the discordant rows carry
/// information: under H0 each is equally likely to favour either side, so only_a ~ Bin(only_a +
/// only_b, 1/2), and p is the two-sided binomial test of that count (as scipy.stats.binomtest).
struct McNemarResult {
  int64_t n = 0;        // rows compared
  int64_t both = 0;     // correct on both sides
  int64_t only_a = 0;   // correct in A only
  int64_t only_b = 0;   // correct in B only
  int64_t neither = 0;
  double p_value = 1.0;  // 1 when there is no discordant row
};

/// Two-sided exact binomial p-value of `only_a` successes in only_a + only_b trials at p = 1/2.
/// Error on negative counts.
double mcnemar_exact_p(int64_t only_a, int64_t only_b);

/// Per-row correctness of A and B (same rows, same order). Error when the lengths differ.
McNemarResult mcnemar_exact(const std::vector<bool>& a_correct, const std::vector<bool>& b_correct);

}  // namespace vlb
