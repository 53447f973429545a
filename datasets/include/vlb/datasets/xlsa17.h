#pragma once
// The xlsa17 "Proposed Split v2.0" GZSL benchmark files (Xian et al.): att_splits.mat (MATLAB v5,
// read with libmatio) + an image features file -> a schema-v1 feature file.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vlb/datasets/dataset.h"

namespace vlb {

struct Xlsa17Splits {
  std::vector<std::string> class_names;     // allclasses_names; "class_<i>" when absent (FLO)
  bool has_class_names = false;
  at::Tensor att;                           // [C, d_a] float32 (the file stores d_a x C)
  at::Tensor original_att;                  // [C, d_a] float32, undefined when absent
  std::map<std::string, at::Tensor> locs;   // trainval, train, val, test_seen, test_unseen
                                            // (those present): int64, 0-based, file order
};

/// Reads att_splits.mat. DataError (file, variable) for a missing `att` or test/trainval loc,
/// a non-numeric array, a loc < 1 or non-integer.
Xlsa17Splits read_xlsa17_splits(const std::string& mat_path);

struct ConvertXlsa17Options {
  std::string att_splits;        // att_splits.mat
  std::string features;          // res101.mat-like (.mat: `features` D x N or N x D, `labels`
                                 // N x 1, 1-based) or a .npy [N, D]
  std::string labels;            // .npy [N] 1-based labels (with a .npy features file)
  std::vector<std::pair<std::string, std::string>> descriptors;  // extra kind -> .npy [C, d]
  std::string output;
  std::string dataset_name = "xlsa17";
  std::string feature_model = "unknown";
};

/// Writes schema v1: /images from the features, splits trainval/train/val/test_seen/test_unseen
/// (0-based, sorted) + test = test_seen + test_unseen, class splits seen (labels of trainval) and
/// unseen (labels of test_unseen), descriptors att, original_att and the extra kinds.
/// DataError when the features' row count does not cover the locations, labels are out of
/// range, or the class splits are inconsistent. Nothing is written on error.
Dataset convert_xlsa17(const ConvertXlsa17Options& opts);

struct SunClipGzslOptions {
  std::string clip_dir;          // train/test_features.npy, train/test_labels.npy, classnames.txt
  std::string att_splits;        // xlsa17 SUN att_splits.mat
  std::string test_classes;      // xlsa17 SUN testclasses.txt (the unseen classes)
  std::vector<std::pair<std::string, std::string>> descriptors;  // kind -> .npy [717, d]
  int64_t min_unseen = 20;       // add seeded seen classes to the unseen set up to this many
  int64_t seed = 0;
  std::string output;
};

/// The sun_clip_gzsl benchmark: CLIP SUN397 features joined to the xlsa17 SUN classes by
/// canonical name (canonical_label and word_bag_key of vlb/core/text.h: exact, then word order).
/// Classes = the matched ones. Writes the mapping as the root attribute `class_mapping` (JSON
/// list of {sun397, xlsa17, xlsa17_index, match}).
Dataset convert_sun_clip_gzsl(const SunClipGzslOptions& opts);

}  // namespace vlb
