#pragma once
// `synth`: the embedded, seeded synthetic generator, the default dataset of the demo and most
// tests (datasets/src/synth.cpp).
//
// Note [synthetic CLIP-like features]: class prototypes are uniform on the unit sphere; images are
// prototype + isotropic within-class spread + a few shared "nuisance" directions with large
// variance (background, pose: the same for every class), then L2-normalized. Texts live in a
// shifted cone (a constant modality-gap vector is added before normalizing) and each class text
// is its prototype seen through noise, so zero-shot is good but worse than few-shot methods;
// prompt templates add per-template offsets, so ensembling helps. Attribute vectors are a hidden
// random linear map of the prototype, plus noise. With the defaults the methods rank as in
// the CLIP / Tip-Adapter papers: linear probe > nearest class mean > zero-shot at 16 shots.
#include <cstdint>
#include <string>

#include "vlb/datasets/dataset.h"

namespace vlb {

struct SynthOptions {
  int64_t classes = 20;
  int64_t dim = 64;
  int64_t train_per_class = 16;
  int64_t val_per_class = 0;
  int64_t test_per_class = 50;
  double spread = 1.8;        // within-class noise scale, relative to the prototype norm
  int64_t nuisance_dims = 4;  // shared high-variance directions
  double nuisance_scale = 0.6;
  double modality_gap = 0.8;  // norm of the constant image->text shift
  double text_noise = 1.0;    // how far each class text is from its prototype
  int64_t templates = 4;      // texts per class (prompt ensemble)
  double template_noise = 0.25;
  int64_t attributes = 32;    // attribute vector length per class
  double attribute_noise = 0.1;
  int64_t seed = 0;
};

Dataset generate_synth(const SynthOptions& opts);

/// `synth`: the generator above, cached under the cache dir by its parameters.
void register_synth_source(DatasetRegistry& reg);

}  // namespace vlb
