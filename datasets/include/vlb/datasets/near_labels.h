#pragma once
// `vlb convert near-labels`: a real schema-v1 feature file + simulated MLLM labels from the
// synth_noisy simulator (datasets/src/convert_near_labels.cpp).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vlb/datasets/dataset.h"
#include "vlb/datasets/synth_noisy.h"

namespace vlb {

/// `vlb convert near-labels`: a real schema-v1 feature file + simulated MLLM labels.
struct NearLabelsOptions {
  std::string input;                 // schema-v1 file (e.g. data/clip_b32/oxford_pets.h5)
  std::string output;
  std::string label_split = "train"; // every image of this split gets a label
  int64_t per_class = 3;             // size of the fixed "discovery" split drawn from label_split
  std::string family_name = "object";  // the coarse name ("pet", "flower", "car")
  /// Text banks with names (FEATURES.npy, NAMES.txt), e.g. the CLIP vocab: a label string or
  /// class name whose canonical form is a bank name gets that (normalized) embedding; others NaN.
  std::vector<std::pair<std::string, std::string>> name_banks;
  NoisyLabelOptions labels;
  uint64_t seed = 0;
};

struct NearLabelsReport {
  Dataset dataset;
  LabelStats stats;                       // over all labelled images
  int64_t labelled = 0, discovery = 0;
  int64_t names_with_embedding = 0;       // class names found in the banks
  std::vector<std::string> embedded_classes;
  int64_t label_texts_with_embedding = 0;
};

NearLabelsReport convert_near_labels(const NearLabelsOptions& o);

}  // namespace vlb
