#pragma once
// RunSamples::Impl (sample_stats.h), internal to vlb_experiments: shared by sample_stats.cpp
// (loading, evaluating resamples) and sample_paths.cpp (the fast paths of known metrics).
#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vlb/experiments/sample_stats.h"

namespace vlb {

// Note [fast resampling]: a bootstrap recomputes every metric a thousand times per cell and seed.
// Metrics that are a ratio of per-row sums (top-k accuracy, exact name matches, mean name
// similarity) keep per-row numerators and denominators; mean per-class accuracy and GZSL S/U/H
// keep per-row hits and classes. Each is checked once against the registered metric on all rows
// (bit for bit, or to 1e-12 where the metric sums in another order); on a mismatch, and for every
// other metric, a resample re-runs the registered metric on the Prediction and Targets
// index_select-ed to the drawn rows, once per metric for all the values it reports.
struct RunSamples::Impl {
  enum class Kind { kRowRatio, kClassMean, kGzsl, kAp, kF1, kGeneric, kNone };
  /// Multi-label scores and known labels, shared by the slots of one run (sample_multilabel.cpp).
  struct MlData {
    int64_t n = 0, c = 0;
    std::vector<double> scores;               // [n, C] row-major
    std::vector<int8_t> y;                    // [n, C]: +1 / -1 / 0 = unknown
    std::vector<std::vector<int64_t>> order;  // per class: rows with a known label, best score first
  };
  struct Slot {
    std::string metric;      // registry name
    std::string value_name;  // the metrics.json name it gives
    Params params;
    double full = 0;         // on every row: the metrics.json value
    bool higher_is_better = true;
    Kind kind = Kind::kGeneric;
    int group = -1;                    // kGeneric: index into Impl::groups
    std::vector<double> num, den;      // kRowRatio: value = sum num / sum den
    std::vector<uint8_t> correct;      // kClassMean, kGzsl: top-1 (joint head) hit per row
    std::vector<uint8_t> zsl_hit;      // kGzsl: unseen-head hit per row
    std::vector<int64_t> cls;          // kClassMean, kGzsl: true class per row (-1: ignored)
    std::vector<int> role;             // kGzsl: per class 0 = neither, 1 = seen, 2 = unseen
    int64_t classes = 0;
    std::shared_ptr<const MlData> ml;              // kAp, kF1
    std::shared_ptr<const std::vector<uint8_t>> ml_pred;  // kF1: predicted positive [n, C]
    int64_t ap_class = -1;             // kAp: the class of ml/ap/<class>; -1 = a mean over classes
    std::string field;                 // kAp: map | map_nonint | map_classes | ap; kF1: cp ... of1
    bool uniform = false;              // kRowRatio with one positive den on every row
    bool zero_one = false;             // and num / den in {0, 1}
    std::string why_not;               // kNone: why a resample cannot be scored
  };
  /// One registered metric instance: a generic resample runs it once for all its values.
  struct Group {
    std::string metric;
    Params params;
  };
  std::string dir, digest;
  std::vector<int64_t> rows;
  const Registries* reg = nullptr;
  std::shared_ptr<const Dataset> dataset;
  Prediction pred;
  Targets targets;
  std::map<std::string, Slot> slots;  // metrics.json name -> how to recompute it
  std::vector<Group> groups;
  at::Tensor scores64, label64;       // while loading: [n, C] double scores, [n] labels
  mutable std::shared_ptr<const MlData> ml;  // while loading: built by the first multi-label slot

  const Slot& slot(const std::string& name) const;
  /// `slots` on the rows at idx, into out (NaN where a resample cannot be scored).
  void eval(const std::vector<const Slot*>& slots, const int64_t* idx, size_t n, double* out) const;
  double eval_fast(const Slot& s, const int64_t* idx, size_t n) const;
  /// The registered metric on the rows at idx (throws what the metric throws).
  std::vector<MetricValue> run(const std::string& metric, const Params& params, const int64_t* idx,
                               size_t n) const;
};

/// The multi-label fast paths (ml_map, ml_ap, ml_f1, ml_f1_top3) and their evaluation: every
/// value of one metric from one pass over the drawn rows (MlValues), then each slot's pick.
struct MlValues {
  std::vector<double> ap, ap_nonint;  // per class, NaN without a drawn positive
  double cp = 0, cr = 0, cf1 = 0, op = 0, orec = 0, of1 = 0;
};
void multilabel_path(const RunSamples::Impl& im, RunSamples::Impl::Slot& s);
void eval_multilabel(const RunSamples::Impl::Slot& s, const int64_t* idx, size_t n, MlValues& out);
double pick_multilabel(const RunSamples::Impl::Slot& s, const MlValues& v);

/// Whether `s`'s fast path gives s.full on all rows (bit for bit, or to 1e-12 when not `exact`).
bool fast_path_reproduces(const RunSamples::Impl& im, const RunSamples::Impl::Slot& s, bool exact);

/// Marks the clustering scores as not resampled and, with `fast`, gives `s` a fast path where its
/// metric has one and it reproduces s.full (sample_paths.cpp).
void choose_fast_path(const RunSamples::Impl& im, RunSamples::Impl::Slot& s, bool fast);

}  // namespace vlb
