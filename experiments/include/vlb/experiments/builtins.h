#pragma once
// Every built-in component, registered by explicit calls in experiments/src/builtins.cpp.
// Adding a method = one folder under methods/, one line there, one spec under experiments/specs/.
#include "vlb/datasets/dataset.h"
#include "vlb/methods/method.h"
#include "vlb/metrics/metric.h"

namespace vlb {

struct Registries {
  MethodRegistry methods{"method"};
  MetricRegistry metrics{"metric"};
  DatasetRegistry datasets{"dataset source"};
};

/// The process-wide registries, filled on first use.
const Registries& builtins();

}  // namespace vlb
