// The one place where built-in components are registered. Adding a method = one folder under
// methods/, one line below, one spec under experiments/specs/.
#include "vlb/experiments/builtins.h"

#include "vlb/datasets/synth_textbank.h"
#include "vlb/methods/coder.h"

#include "vlb/datasets/synth_gzsl.h"
#include "vlb/methods/icis.h"
#include "vlb/metrics/gzsl.h"

#include "vlb/datasets/synth_noisy.h"
#include "vlb/methods/near.h"
#include "vlb/metrics/openvocab.h"

#include "vlb/datasets/synth_composition.h"
#include "vlb/methods/composition.h"
#include "vlb/metrics/composition.h"

#include "vlb/datasets/synth_multilabel.h"
#include "vlb/methods/sarl.h"
#include "vlb/metrics/multilabel.h"

namespace vlb {
namespace {

Registries make_builtins() {
  Registries r;
  // Dataset sources
  register_h5_source(r.datasets);
  register_synth_source(r.datasets);
  register_synth_textbank_source(r.datasets);
  register_synth_gzsl_source(r.datasets);
  register_synth_noisy_source(r.datasets);
  register_synth_composition_source(r.datasets);
  register_synth_multilabel_source(r.datasets);
  // Methods: baselines first
  register_zeroshot(r.methods);
  register_ncm(r.methods);
  register_linear_probe(r.methods);
  register_coder_zeroshot(r.methods);
  register_coder_star(r.methods);
  register_coder_fewshot(r.methods);
  register_tip_adapter(r.methods);
  register_icis(r.methods);  // + its baselines (methods/icis)
  register_mlp_injector(r.methods);
  register_subreg(r.methods);
  register_conse(r.methods);
  register_costa(r.methods);
  register_vgse_wavg(r.methods);
  register_vgse_smo(r.methods);
  register_near_methods(r.methods);  // + its baselines (methods/near)
  register_composition_methods(r.methods);
  register_sarl_methods(r.methods);  // + its baselines (methods/sarl)
  // Metrics
  register_classification_metrics(r.metrics);
  register_gzsl_metrics(r.metrics);
  register_openvocab_metrics(r.metrics);
  register_composition_metrics(r.metrics);
  register_multilabel_metrics(r.metrics);
  return r;
}

}  // namespace

const Registries& builtins() {
  static const Registries r = make_builtins();
  return r;
}

}  // namespace vlb
