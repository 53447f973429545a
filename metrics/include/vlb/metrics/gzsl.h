#pragma once
// Generalised zero-shot metrics (Xian et al. protocol, as ICIS evaluates): per-class mean top-1
// accuracy on seen-class rows (S) and unseen-class rows (U), both over the joint head of all
// seen + unseen classes, their harmonic mean H, and ZSL accuracy over the unseen head only.
#include <ATen/core/Tensor.h>

#include "vlb/metrics/metric.h"

namespace vlb {

struct GzslAccuracy {
  double seen = 0.0;     // S: mean over seen classes present in the rows
  double unseen = 0.0;   // U
  double harmonic = 0.0; // H = 2SU / (S + U), 0 when S + U = 0
  double zsl = 0.0;      // unseen rows, argmax over the unseen columns only
};

/// scores [n, C]; label [n] int64 (-1 rows ignored); seen/unseen: disjoint int64 class ids.
/// Rows whose label is in neither set are ignored. Ties go to the lower class index. A joint
/// head excludes classes in neither set. DataError-free: throws vlb::Error on bad shapes or when
/// no seen or no unseen row is present.
GzslAccuracy gzsl_accuracy(const at::Tensor& scores, const at::Tensor& label,
                           const at::Tensor& seen, const at::Tensor& unseen);

/// `gzsl` -> gzsl/S, gzsl/U, gzsl/H, gzsl/zsl (params seen_split, unseen_split name the
/// dataset's /class_splits entries).
void register_gzsl_metrics(MetricRegistry& reg);

}  // namespace vlb
