#pragma once
// Every built-in component, registered by explicit calls: one line per method family, dataset
// source and metric family in the lists below. Each line names a function defined in that
// component's own folder (methods/<family>/<family>.cpp, datasets/src/<source>.cpp,
// metrics/src/<family>.cpp). Adding a method = one folder under methods/, one line below, one spec
// under experiments/specs/ (docs/adding-a-method.md).
#include "vlb/datasets/dataset.h"
#include "vlb/methods/method.h"
#include "vlb/metrics/metric.h"

// Method families: register_<family>(MethodRegistry&) in methods/<family>/<family>.cpp.
#define VLB_METHOD_FAMILIES(X) \
  X(baselines)                 \
  X(coder)                     \
  X(icis)                      \
  X(near)                      \
  X(sarl)                      \
  X(composition)               \
  X(example)

// Dataset sources: register_<source>_source(DatasetRegistry&) in datasets/src/.
#define VLB_DATASET_SOURCES(X) \
  X(h5)                        \
  X(synth)                     \
  X(synth_textbank)            \
  X(synth_gzsl)                \
  X(synth_noisy)               \
  X(synth_composition)         \
  X(synth_multilabel)

// Metric families: register_<family>_metrics(MetricRegistry&) in metrics/src/<family>.cpp.
#define VLB_METRIC_FAMILIES(X) \
  X(classification)            \
  X(gzsl)                      \
  X(openvocab)                 \
  X(composition)               \
  X(multilabel)

namespace vlb {


#define VLB_DECLARE_METHODS(f) void register_##f(MethodRegistry& reg);
#define VLB_DECLARE_SOURCE(s) void register_##s##_source(DatasetRegistry& reg);
#define VLB_DECLARE_METRICS(f) void register_##f##_metrics(MetricRegistry& reg);
VLB_METHOD_FAMILIES(VLB_DECLARE_METHODS)
VLB_DATASET_SOURCES(VLB_DECLARE_SOURCE)
VLB_METRIC_FAMILIES(VLB_DECLARE_METRICS)


struct Registries {
  MethodRegistry methods{"method"};
  MetricRegistry metrics{"metric"};
  DatasetRegistry datasets{"dataset source"};
};

/// The process-wide registries, filled on first use.
const Registries& builtins();

}  // namespace vlb
