#pragma once
// Sample-level uncertainty and paired per-sample tests, from the per-sample predictions each run
// kept (predictions.h5, datasets/RESULTS.md). A run's evaluation is rebuilt exactly as
// `vlb rescore` rebuilds it, so a metric recomputed on all rows is the value in metrics.json, and
// recomputed on a resample of the rows is one bootstrap replicate of it.
// Note [seeds in sample statistics]: a cell is the mean over seeds of a metric. Seeds whose
// stored predictions are identical (equal digests: at 16 shots every seed may draw the same
// training set) are one observation, not several; they are collapsed before any resampling, and
// the count of distinct seeds is reported as the effective number of seeds.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vlb/experiments/builtins.h"

namespace vlb {

/// One run's evaluation reconstructed from its predictions.h5, as `vlb rescore` does.
class RunSamples {
 public:
  struct Impl;

  /// DataError naming the file when the run has no predictions.h5 (runtime.predictions: none, or
  /// older runs) or it does not match its dataset.
  static std::shared_ptr<const RunSamples> load(const std::string& run_dir, const Registries& reg);

  /// In-memory samples whose every metric is a mean over rows (tests, synthetic checks): `values`
  /// maps a metric name to its per-row values; `zero_one` names those whose values are 0/1
  /// correctness (McNemar applies). Error when lengths differ from row_ids.
  static std::shared_ptr<const RunSamples> from_rows(
      std::vector<int64_t> row_ids, std::vector<std::pair<std::string, std::vector<double>>> values,
      std::vector<std::string> zero_one, std::string digest, bool higher_is_better = true);

  int64_t size() const;                          // evaluation rows
  const std::vector<int64_t>& row_ids() const;   // dataset row ids, stored order
  const std::string& digest() const;             // hash of the stored predictions: equal for identical seeds
  const std::string& run_dir() const;            // "" for from_rows samples
  /// Per-row values whose mean over rows is the metric `name` (a metrics.json name like
  /// "cls/top1") when that metric is a mean over rows (top1/top5/topk correctness, per-query
  /// retrieval hits, per-sample group scores...); std::nullopt otherwise.
  std::optional<std::vector<double>> per_row(const std::string& name) const;
  /// True when per_row(name) exists and holds only 0 and 1 (per-row correctness).
  bool zero_one(const std::string& name) const;
  /// Whether `name` is a metric this run computes (its metrics.json names) and predictions.h5
  /// can recompute (a top-k file cannot recompute metrics that read the full scores).
  bool has(const std::string& name) const;
  /// has(name) and value_on can score a resample of rows; otherwise false and, with `why`, the
  /// reason (group and retrieval metrics score items spanning several rows).
  bool resamplable(const std::string& name, std::string* why = nullptr) const;
  bool higher_is_better(const std::string& name) const;
  /// The metric on every row: metrics.json's value.
  double value(const std::string& name) const;
  /// The metric `name` recomputed on the rows at `idx` (indices into 0..size()-1, repeats
  /// allowed = a bootstrap resample).
  double value_on(const std::string& name, const std::vector<int64_t>& idx) const;

  explicit RunSamples(std::unique_ptr<Impl> impl);
  ~RunSamples();

 private:
  std::unique_ptr<Impl> impl_;
};

struct BootstrapOptions {
  int resamples = 1000;
  uint64_t seed = 0;
  double level = 0.95;
};
struct BootstrapInterval {
  double lo = 0, hi = 0;
  int resamples = 0;
  int seeds = 0;
  int effective_seeds = 0;
  bool valid = false;
  std::string note;  // why not valid
};
/// Percentile interval of the cell value (mean over seeds of the metric): resample seeds with
/// replacement, then rows within each drawn seed. Deterministic for a fixed options.seed.
BootstrapInterval bootstrap_interval(const std::vector<std::shared_ptr<const RunSamples>>& seeds,
                                     const std::string& name, const BootstrapOptions& opt);

struct PairedTest {
  std::string test;  // "mcnemar" | "paired bootstrap"
  double diff = 0;   // a - b, metric units
  double lo = 0, hi = 0;
  double p = 1;
  int64_t rows = 0;
  int seeds = 0;
  int effective_seeds = 0;
  bool seeds_identical = false;
  // McNemar: discordant (seed, row) pairs pooled over the distinct seeds.
  int64_t only_a = 0, only_b = 0;
  bool valid = false;  // false: no test (note says why); p stays 1
  std::string note;
};
/// a vs b paired by seed (same seed = same eval rows, checked on row ids: DataError otherwise).
/// Exact McNemar on top-1-style 0/1 per-row metrics, paired bootstrap of the difference otherwise.
PairedTest paired_test(const std::vector<std::shared_ptr<const RunSamples>>& a,
                       const std::vector<std::shared_ptr<const RunSamples>>& b,
                       const std::string& name, const BootstrapOptions& opt);

/// Two-sided exact binomial p-value of `k` successes in `n` trials at 1/2 (scipy.stats.binomtest:
/// the sum of the probabilities of all outcomes no more likely than k), capped at 1.
double binomial_two_sided_half(int64_t k, int64_t n);

/// Holm–Bonferroni step-down adjusted p-values, in the input order (as statsmodels
/// multipletests(method="holm")): sort ascending, p_(i) * (m - i + 1), running maximum, cap at 1.
std::vector<double> holm_adjust(const std::vector<double>& p);

}  // namespace vlb
