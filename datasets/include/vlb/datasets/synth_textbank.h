#pragma once
// `synth_textbank`: a seeded synthetic dataset with a per-class text bank of several text types
// (CODER's shape): name, attribute, analogy (some misleading), synonym and one-vs-one pair texts,
// plus free-standing bank texts, and train/val/test image splits.
//
// Note [synthetic text bank]: classes come in sibling pairs (2k, 2k+1) whose prototypes have
// cosine `sibling_cos`, so they are confusable. Each text type is its class prototype seen
// through its own noise: a single name text is noisy, attributes are individually noisier but
// many (their mean is informative), analogies mix in another class (a `misleading` fraction mixes
// in the sibling and pulls towards it), and pair texts point along p_c - p_o, so the one-vs-one
// difference separates siblings. Texts get a shared modality-gap shift. The ordering the paper
// reports (CODER >= name-only zero-shot, more texts help, re-ranking helps on confusable pairs)
// follows from these choices; it is a property of the generator, not evidence for the paper.
#include <cstdint>

#include "vlb/datasets/dataset.h"

namespace vlb {

struct SynthTextBankOptions {
  int64_t classes = 20;  // rounded up to even (sibling pairs)
  int64_t dim = 64;
  int64_t train_per_class = 16;
  int64_t val_per_class = 10;
  int64_t test_per_class = 40;
  double spread = 1.2;          // image noise norm relative to the prototype
  double sibling_cos = 0.7;     // cosine between sibling prototypes
  double modality_gap = 0.5;
  double name_noise = 1.2;      // name and synonym texts
  int64_t attributes = 8;       // per class
  double attribute_noise = 1.6;
  int64_t analogies = 3;        // per class
  double misleading = 0.34;     // fraction of analogies that mix in the sibling
  int64_t synonyms = 2;
  int64_t pair_texts = 3;       // per ordered sibling pair
  double pair_noise = 0.6;
  int64_t bank = 64;            // free-standing texts (class -1, type other)
  int64_t seed = 0;
};

Dataset generate_synth_textbank(const SynthTextBankOptions& opts);

void register_synth_textbank_source(DatasetRegistry& reg);

}  // namespace vlb
