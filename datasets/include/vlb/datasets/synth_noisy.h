#pragma once
// `synth_noisy`: synthetic fine-grained data with simulated noisy MLLM labels (NeaR), and the
// label simulator the real-data converter (`vlb convert near-labels`, near_labels.h) shares:
// datasets/src/synth_noisy.cpp.
//
// How NeaR data sits in a schema-v1 file (docs/near.md "Schema usage"):
//  - one /texts row per labelled image: strings = what the "MLLM" said, image = the image row,
//    class = -1, source = 1 (model-generated), type = -1; features = the text embedding of the
//    string, or a NaN row when none is known (the method then initialises from image prototypes);
//  - descriptors["name_embedding"] [C, D]: the embedding of each true class name in the same space
//    as the label texts (sACC); NaN rows for names without an embedding.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vlb/core/text.h"
#include "vlb/datasets/dataset.h"

namespace vlb {

/// The noisy-MLLM-label simulator. Per image one string drawn from its class's distribution:
/// the exact name (sometimes in another surface form), a synonym, the name of a visually close
/// class (chosen by the image's own similarity to those classes), a coarse family name, or a
/// hallucinated name. Defaults are calibrated to the MLLM labels of NeaR (Kuchibhotla et al.,
/// arXiv 2505.01064): about 47-50% exact names; on CUB (600 images, 3 per class) a 72B VLM gave
/// 251 distinct names for 200 classes.
struct NoisyLabelOptions {
  double p_exact = 0.50;          // class mean probability of the exact name (incl. surface forms)
  double exact_spread = 0.20;     // per-class sd of that probability (some classes are easy)
  double p_surface = 0.15;        // of exact answers: a different surface form (case, punctuation)
  // Shares of the non-exact answers (so p_exact can be swept alone); the rest of them
  // (1 - synonym - confusion - coarse) are hallucinations: new made-up names.
  double p_synonym = 0.24;        // a class-specific synonym
  double p_confusion = 0.56;      // a visually close class's exact name
  double p_coarse = 0.08;         // the family / meta-class name ("warbler", "flower")
  int64_t synonyms_per_class = 2; // distinct synonyms a class can get
  int64_t confusable = 3;         // confusions go to the `confusable` closest classes
  double confusion_temp = 0.05;   // softmax temperature over image-to-class-mean cosines
  uint64_t seed = 0;
};

/// What kind of string a simulated label is.
enum class LabelKind : int8_t { kExact = 0, kSurface, kSynonym, kConfusion, kCoarse, kHallucination };

struct SimulatedLabels {
  std::vector<std::string> text;  // [n]
  std::vector<LabelKind> kind;    // [n]
  std::vector<int64_t> named;     // [n] the class whose name (or synonym) the string is, else -1
  std::vector<int64_t> synonym;   // [n] synonym index for kSynonym, else -1
  std::vector<int64_t> family;    // [n] family id for kCoarse, else -1
};

/// `features` [n, D] (normalized) and `label` [n] of the images to label; `class_means` [C, D]
/// define closeness; `family` [C] a family id per class (coarse names; may be all 0);
/// `family_names` [F]. Deterministic in opts.seed.
SimulatedLabels simulate_noisy_labels(const at::Tensor& features, const at::Tensor& label,
                                      const at::Tensor& class_means,
                                      const std::vector<std::string>& class_names,
                                      const std::vector<int64_t>& family,
                                      const std::vector<std::string>& family_names,
                                      const NoisyLabelOptions& opts);

/// Exact-name rate and distinct canonical names of a labelling (for docs and tests).
struct LabelStats {
  double exact = 0;        // canonical(text) == canonical(true name)
  int64_t distinct = 0;    // distinct canonical strings
};
LabelStats label_stats(const std::vector<std::string>& text, const at::Tensor& label,
                       const std::vector<std::string>& class_names);

struct SynthNoisyOptions {
  int64_t classes = 40;
  int64_t families = 10;          // classes per family = classes / families (fine-grained groups)
  int64_t dim = 64;
  int64_t train_per_class = 3;    // the discovery set (FineR: 3 per class)
  int64_t test_per_class = 30;
  double sibling_cos = 0.6;       // cosine between class prototypes of one family
  double spread = 1.2;            // image noise, relative to the prototype norm
  double modality_gap = 0.5;      // norm of the image -> text shift
  double name_noise = 0.6;        // noise of name / synonym text embeddings
  bool text_embeddings = true;    // false: label texts get NaN features (no text encoder)
  NoisyLabelOptions labels;
  int64_t seed = 0;
};

Dataset generate_synth_noisy(const SynthNoisyOptions& o);

void register_synth_noisy_source(DatasetRegistry& reg);

}  // namespace vlb
