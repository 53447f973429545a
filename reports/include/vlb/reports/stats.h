#pragma once
// Paired significance over seeds: is a method better than the baseline row, or within noise?
// Distributions come from Boost.Math (students_t, binomial). The report pages show this only as
// the seed-level summary in a tooltip: their ▲/▼ marks come from the per-sample tests
// (Leaderboard::comparisons), since seeds with identical predictions give a zero-width interval.
#include <cstdint>
#include <string>
#include <vector>

#include "vlb/reports/report.h"

namespace vlb {

/// Two-sided t-interval of the mean of paired differences.
struct PairedTInterval {
  int n = 0;
  double mean = 0.0;
  double sd = 0.0;       // sample std (n-1)
  double t_crit = 0.0;   // quantile 1 - (1 - confidence)/2 of Student's t with n-1 dof
  double lo = 0.0, hi = 0.0;
  bool valid = false;    // false when n < 2 (no spread to estimate)
};
/// Error when confidence is not in (0, 1). sd == 0 gives the degenerate interval [mean, mean].
PairedTInterval paired_t_interval(const std::vector<double>& diffs, double confidence = 0.95);

// Note [paired tests]: the pairing unit is the seed (same K-shot draw and initialisation for both
// rows); seeds only one row has are left out. The t-interval assumes roughly normal differences,
// which few seeds cannot check: hence the assumption-free sign test next to it for small n.
/// Exact two-sided sign test: P(at least as extreme a split | p = 1/2) over n = positives +
/// negatives (zero differences are dropped before calling, as is usual), capped at 1.
/// 1.0 when n == 0.
double sign_test_two_sided(int positives, int negatives);

/// A method against the baseline row in one column, paired over the seeds both have.
struct PairedComparison {
  std::vector<int64_t> seeds;       // shared seeds, sorted
  std::vector<double> diffs;        // method - baseline, per shared seed
  PairedTInterval t;
  int better = 0, worse = 0, ties = 0;  // per-seed signs, respecting the metric's direction
  double sign_p = 1.0;              // exact sign test over non-tied seeds
  // "better" | "worse" | "within noise" (interval covers 0) | "n<2" (no test possible)
  std::string verdict;
  std::string mark;                 // "▲", "▼", "≈", "" for the verdicts above
  std::string tooltip;              // one line for a title attribute
};
/// Seeds up to which the sign test is shown next to the t-interval (an exact test is cheap and
/// assumption-free there; beyond it the t-interval alone is the summary).
inline constexpr int kSmallSeedCount = 10;

/// Error when either row has no value in that column for `metric`.
PairedComparison compare_paired(const Leaderboard& lb, const std::string& metric,
                                const std::string& row, const std::string& baseline_row,
                                const std::string& column, double confidence = 0.95);

}  // namespace vlb
