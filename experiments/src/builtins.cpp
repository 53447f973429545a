// Fills the process-wide registries from the lists in vlb/experiments/builtins.h.
#include "vlb/experiments/builtins.h"

namespace vlb {
namespace {

Registries make_builtins() {
  Registries r;
#define VLB_ADD_METHODS(f) register_##f(r.methods);
#define VLB_ADD_SOURCE(s) register_##s##_source(r.datasets);
#define VLB_ADD_METRICS(f) register_##f##_metrics(r.metrics);
  VLB_METHOD_FAMILIES(VLB_ADD_METHODS)
  VLB_DATASET_SOURCES(VLB_ADD_SOURCE)
  VLB_METRIC_FAMILIES(VLB_ADD_METRICS)
  return r;
}

}  // namespace

const Registries& builtins() {
  static const Registries r = make_builtins();
  return r;
}

}  // namespace vlb
