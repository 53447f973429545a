#pragma once
// Multi-label metrics over partial labels (+1/-1/0): metrics/src/multilabel.cpp, docs/sarl.md.
// Unknown (0) entries are never counted: they leave both the ranking and the counts.
#include <ATen/core/Tensor.h>

#include <vector>

#include "vlb/metrics/metric.h"

namespace vlb {

/// Average precision of one class: `scores` [n] (higher = more likely), `targets` [n] int8 in
/// {+1, -1, 0}; 0 rows are dropped. Tied scores form one threshold (the result does not depend on
/// row order). interpolated = true: VOC2010+ all-point interpolated AP (area under the monotone
/// precision envelope); false: non-interpolated AP (mean over positives of the precision at their
/// threshold, as sklearn's average_precision_score). NaN when no known positive.
double average_precision(const at::Tensor& scores, const at::Tensor& targets, bool interpolated);

/// The area under a precision/recall curve given one point per threshold, thresholds in
/// decreasing score order (recall non-decreasing): sum of (recall step) x precision, over the
/// monotone precision envelope when `interpolated`. `average_precision` and the resampled AP of
/// the report's intervals both end here.
double ap_from_curve(std::vector<double> prec, const std::vector<double>& rec, bool interpolated);

/// Per-class AP [C] (NaN for classes without a known positive) of `scores` [n, C].
std::vector<double> per_class_ap(const at::Tensor& scores, const at::Tensor& targets, bool interpolated);

struct MultiLabelF1 {
  double cp = 0, cr = 0, cf1 = 0, op = 0, orec = 0, of1 = 0;
};
/// CP/CR/CF1 and OP/OR/OF1 over known entries. A prediction is positive when sigmoid(score) >=
/// threshold (top_k = 0) or when it is among the row's top_k scores (ties to the lower class
/// index). Per-class precision of a class with no predicted positive is 0; classes without a known
/// positive are left out of the per-class means.
MultiLabelF1 multilabel_f1(const at::Tensor& scores, const at::Tensor& targets, double threshold,
                           int64_t top_k);

void register_multilabel_metrics(MetricRegistry& reg);

}  // namespace vlb
