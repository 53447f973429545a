#pragma once
// Streaming metrics (torchmetrics shape): reset / update(batch) / compute -> named scalars.
// Each metric declares, per scalar, whether higher is better; names are task-prefixed
// ("cls/top1") so tables never collide across task shapes.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vlb/core/registry.h"
#include "vlb/methods/method.h"

namespace vlb {

/// Ground truth for one batch of evaluation rows, for every task shape (see method.h):
///  - classification / few-shot / open vocabulary: `label` (and `num_classes`);
///  - GZSL: `label`, with seen/unseen class ids read from dataset->class_splits;
///  - multi-label with partial labels: `labels` ([n, C] in {+1, -1, 0 = unknown});
///  - image-text retrieval and compositional groups: `dataset->texts.image` (caption -> image
///    row) and the groups, indexed through `rows` (the evaluated image rows).
struct Targets {
  at::Tensor label;        // [n] int64 single-label class ids (-1 = none)
  at::Tensor labels;       // [n, C] int8 multi-label (+1/-1/0), undefined when single-label
  int64_t num_classes = 0;
  const Dataset* dataset = nullptr;  // the evaluated dataset (class splits, texts, groups)
  at::Tensor rows;                   // [n] int64 dataset rows of this batch
};

struct MetricValue {
  std::string name;        // "cls/top1"
  double value = 0.0;
  bool higher_is_better = true;
};

class Metric {
 public:
  virtual ~Metric() = default;
  virtual void reset() = 0;
  virtual void update(const Prediction& pred, const Targets& targets) = 0;
  virtual std::vector<MetricValue> compute() const = 0;
  /// The value names compute() returns that are known before any data is seen (a spec's
  /// `select.metric` is checked against them at plan time). Values named after the data (per
  /// class, per subset) are not listed; empty: the metric declares none.
  virtual std::vector<std::string> value_names() const { return {}; }
};

using MetricRegistry = Registry<Metric>;

// metrics/src/classification.cpp
void register_classification_metrics(MetricRegistry& reg);  // top1, top5, mean_per_class

}  // namespace vlb
