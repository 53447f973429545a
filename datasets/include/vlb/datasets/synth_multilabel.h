#pragma once
// Synthetic multi-label feature maps with partial labels (SARL shape), the partial-label
// generator, and the reader of the real VOC2007 label matrices + GloVe class vectors:
// datasets/src/synth_multilabel.cpp, docs/sarl.md, datasets/SCHEMA.md "Multi-label".
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vlb/datasets/dataset.h"

namespace vlb {

/// The partial-label protocol of both lineages (HCP-MLR-PL and DualCoOp): every entry of `labels`
/// [N, C] int8 (+1/-1/0) is kept independently with probability `keep_prob`, else set to 0
/// (unknown). Deterministic in `seed`; entries already 0 stay 0.
at::Tensor make_partial_labels(const at::Tensor& labels, double keep_prob, uint64_t seed);

/// A real multi-label benchmark's label matrices (from ../shared/data/multilabel/<name>) and its
/// GloVe class vectors (../shared/data/glove).
struct RealMultiLabel {
  std::vector<std::string> class_names;  // [C]
  at::Tensor train;                      // [N_train, C] int8 (+1/-1/0 = difficult)
  at::Tensor test;                       // [N_test, C] int8
  std::vector<std::string> train_ids, test_ids;
  at::Tensor glove;                      // [C, 300] float32
};

/// `name` = "voc2007" (the only one with per-image labels in the shared data). `data_dir` is the
/// shared data root (holding multilabel/ and glove/). DataError naming the file on bad input.
RealMultiLabel load_real_multilabel(const std::string& name, const std::string& data_dir);

struct SynthMultiLabelOptions {
  int64_t classes = 20;           // ignored when labels_from is set (the real C)
  int64_t height = 6, width = 6;  // the grid of positions
  int64_t dim = 64;               // C_f, also the text-embedding dimension
  int64_t train_images = 1000;    // synthetic labels; with labels_from: at most this many rows
  int64_t test_images = 1000;     // (a seeded subset of the real split; 0 = all rows)
  int64_t min_labels = 1, max_labels = 4;  // positives per image (synthetic labels)
  double cooccur = 0.6;           // probability that a further label follows the co-occurrence graph
  double signal = 4.0;            // amplitude of a category signal at its centre position
  double noise = 0.5;             // sd of the background noise per position and channel
  int64_t distractors = 2;        // absent categories spread thinly over the whole image
  double distractor_amp = 0.1;    // their amplitude, relative to `signal`
  double proto_cos = 0.2;         // cosine between category prototypes
  double text_noise = 0.3;        // noise of the class text embeddings around the prototypes
  double difficult_signal = 0.5;  // amplitude factor of "difficult" (0) entries of real labels
  double keep_prob = 0.5;         // partial labels: each known entry kept with this probability
  int64_t label_seed = 0;         // seed of the keep-mask (recorded in the file)
  std::string labels_from = "none";  // "none" | "voc2007"
  std::string data_dir = "../shared/data";
  int64_t seed = 0;
};

Dataset generate_synth_multilabel(const SynthMultiLabelOptions& o);

void register_synth_multilabel_source(DatasetRegistry& reg);

}  // namespace vlb
