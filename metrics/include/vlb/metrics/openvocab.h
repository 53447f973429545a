#pragma once
// Open-vocabulary / clustering metrics for NeaR: cACC, sACC, NMI, ARI (metrics/src/openvocab.cpp).
#include "vlb/metrics/metric.h"

namespace vlb {
void register_openvocab_metrics(MetricRegistry& reg);
}  // namespace vlb
