#pragma once
// Synthetic compositional image/caption data: datasets/src/synth_composition.cpp,
// docs/composition.md ("Synthetic data").
//
// Scenes hold two attributed objects in a relation plus one background object. Image embeddings
// are a random linear map of four latent blocks (bag of concepts, attribute-object bindings, the
// relation's subject role, its object role) plus noise; binding and role blocks are weaker than
// the bag (compositional detail is subtle in real image features). Captions are token sequences:
// short alt-text (source 0) names one or two objects; detailed captions (source 1) give
// attributes, the relation and the background object in two sentences. Three text embeddings:
//  /texts/features       "clip": the image space, mostly a bag of concepts (weak binding/roles);
//  /texts/towers/bow     order-blind bag of words (binding/roles only at `bow_order` strength);
//  /texts/towers/order   order-aware: adjacent attribute-object bindings and relation roles.
// Groups on the test split: sugarcrepe (7 subsets), aro_relation, aro_attribution, order (5-way),
// winoground (twin images). Training images also get NegCLIP-style negatives (source 2) and
// sentence rows (/texts/parent).
#include <cstdint>

#include "vlb/datasets/dataset.h"

namespace vlb {

struct SynthCompositionOptions {
  int64_t objects = 16;        // <= 16 names
  int64_t attributes = 5;      // <= 8 names
  int64_t relations = 8;       // <= 8 names; the last two ("next to", "near") are symmetric
  int64_t train_images = 2000;
  int64_t test_images = 600;
  int64_t winoground_pairs = 100;  // twin test images (attribute or role swapped)
  int64_t latent_dim = 16;
  int64_t dim = 64;            // image and /texts/features width
  int64_t tower_dim = 64;      // bow / order tower width
  double image_noise = 0.35;   // noise norm relative to the clean image embedding
  double image_binding = 0.6;  // weight of the attribute-object binding block in images
  double image_roles = 0.5;    // weight of the subject / object role blocks in images
  double clip_binding = 0.15;  // the same in the "clip" text embedding
  double clip_roles = 0.1;
  double bow_order = 0.05;     // order information leaking into the bag-of-words tower
  double text_noise = 0.15;    // relative noise of every text embedding
  int64_t hard_negatives = 2;  // negatives per training image (attribute swap, role swap)
  bool sentences = true;       // sentence rows for training detailed captions
  int64_t seed = 0;
};

Dataset generate_synth_composition(const SynthCompositionOptions& o);

void register_synth_composition_source(DatasetRegistry& reg);

}  // namespace vlb
