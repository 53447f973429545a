// The one place where built-in components are registered. Adding a method = one folder under
// methods/, one line below, one spec under experiments/specs/.
#include "vlb/experiments/builtins.h"

namespace vlb {
namespace {

Registries make_builtins() {
  Registries r;
  // Dataset sources
  register_h5_source(r.datasets);
  register_synth_source(r.datasets);
  // Methods: baselines first
  register_zeroshot(r.methods);
  register_ncm(r.methods);
  register_linear_probe(r.methods);
  // Metrics
  register_classification_metrics(r.metrics);
  return r;
}

}  // namespace

const Registries& builtins() {
  static const Registries r = make_builtins();
  return r;
}

}  // namespace vlb
