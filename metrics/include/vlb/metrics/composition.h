#pragma once
// Compositional benchmarks and retrieval (metrics/src/composition.cpp).
#include "vlb/metrics/metric.h"

namespace vlb {
void register_composition_metrics(MetricRegistry& reg);
}  // namespace vlb
