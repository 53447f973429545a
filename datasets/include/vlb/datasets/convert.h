#pragma once
// `vlb convert npy`: per-split .npy arrays into a schema-v1 feature file (datasets/SCHEMA.md),
// datasets/src/convert_npy.cpp. The other converters are declared in headers named for their
// format: xlsa17.h, sugarcrepe.h, near_labels.h.
#include <string>
#include <vector>

#include "vlb/datasets/dataset.h"

namespace vlb {

/// One split of a .npy layout: <name> rows come from `features` ([n, D]) and `labels` ([n] int).
struct NpySplit {
  std::string name, features, labels;
};

/// A generic neighbour bank appended to /texts as free-standing rows (class -1, type other),
/// e.g. CLIP embeddings of a detection vocabulary. Rows are L2-normalized on conversion.
struct NpyTextBank {
  std::string features;  // .npy [B, D] float
  std::string names;     // optional text file, one string per row (default "bank_<file>_<i>")
};

struct ConvertNpyOptions {
  std::vector<NpySplit> splits;   // concatenated into /images in this order
  std::string classnames;         // text file, one class name per line
  std::string text_features;      // optional .npy [T, D]
  std::string text_classes;       // optional .npy [T] ints; if absent and T == C, text t is the
                                  // prompt of class t, type name (Note [one text per class])
  std::string text_strings;       // optional text file, one string per text row (default: the
                                  // class name for class prompts, "text_<t>" otherwise)
  std::string text_types;         // optional .npy [T] ints: TextType codes (-1..4) per text row;
                                  // absent: untyped, or all name for one text per class
  std::string text_partners;      // optional .npy [T] ints: partner class of pair texts (else -1)
  std::vector<NpyTextBank> text_banks;  // appended after the text_features rows, in this order
  std::string output;
  std::string dataset_name;
  std::string feature_model = "unknown";
  bool l2_normalize_texts = false;
  bool allow_duplicate_classes = false;  // a duplicate class name warns instead of failing
};

/// Finds <split>_features.npy + <split>_labels.npy (train, val, test first, then any other
/// *_features.npy in name order), classnames.txt, and text_features.npy (+ text_classes.npy)
/// when present, in `dir`. DataError when nothing is found.
/// dataset_name defaults to the directory's name; output is left empty.
ConvertNpyOptions npy_options_from_directory(const std::string& dir);

/// Validates the inputs and writes opts.output atomically (nothing is written on error, an
/// existing output is left untouched). Returns the dataset as written (fingerprint set).
Dataset convert_npy(const ConvertNpyOptions& opts);

}  // namespace vlb
