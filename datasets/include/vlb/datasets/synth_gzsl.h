#pragma once
// A seeded synthetic generalised zero-shot dataset (for ICIS and its baselines in CI).
//
// Note [synthetic GZSL]: every class has a hidden latent code z_c ~ N(0, I_k). Its image
// prototype is a fixed random linear map of z_c, normalized; images are the prototype plus
// isotropic noise, normalized. Class descriptors are *nonlinear* maps of the same z_c plus noise:
// `att` = tanh(gain * M z_c) + noise, `word` = sin(M' z_c) + 2x noise (another kind, wider).
// So the map descriptor -> classifier weights is smooth but nonlinear: a learned injector can
// beat similarity-weighted averages of seen weights (COSTA, VGSE), as in the ICIS paper.
// A seeded subset of `unseen` classes gets no training rows.
// Splits: trainval (seen classes), test_seen, test_unseen, test = test_seen + test_unseen;
// class splits: seen, unseen.
#include <cstdint>

#include "vlb/datasets/dataset.h"

namespace vlb {

struct SynthGzslOptions {
  int64_t classes = 40;
  int64_t unseen = 10;
  int64_t dim = 64;
  int64_t latent_dim = 8;
  int64_t train_per_class = 20;
  int64_t test_per_class = 20;
  double spread = 1.2;          // image noise norm relative to the (unit) prototype
  int64_t attributes = 32;      // length of `att`
  int64_t word_dim = 48;        // length of `word`
  double attribute_gain = 1.5;  // how far tanh saturates: the nonlinearity's strength
  double attribute_noise = 0.05;
  int64_t seed = 0;
};

Dataset generate_synth_gzsl(const SynthGzslOptions& opts);

/// `synth_gzsl`: the generator above, cached under the cache dir by its parameters.
void register_synth_gzsl_source(DatasetRegistry& reg);

}  // namespace vlb
