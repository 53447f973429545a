#pragma once
// `vlb convert sugarcrepe`: the official SugarCrepe JSON files + an embedding table -> a schema-v1
// file with one /groups/sugarcrepe group (datasets/src/convert_sugarcrepe.cpp, docs/composition.md).
#include <string>
#include <vector>

#include "vlb/datasets/dataset.h"

namespace vlb {

/// The seven official subsets, in the order they are written (subset ids 0..6).
const std::vector<std::string>& sugarcrepe_subsets();

/// Embeddings looked up by key: image file name ("000000222235.jpg") or the exact caption text.
/// Either two .npy [n, D] with key lists (.json list of strings, or .txt one key per line; captions
/// with newlines need .json), or one HDF5 file with image_keys / image_features / text_keys /
/// text_features datasets.
struct EmbeddingTableOptions {
  std::string image_features, image_keys;  // .npy + .json/.txt
  std::string text_features, text_keys;    // .npy + .json/.txt
  std::string h5;                          // alternative to the four above
};

struct ConvertSugarCrepeOptions {
  std::string dir;                      // folder with <subset>.json
  std::vector<std::string> subsets;     // default: all seven
  EmbeddingTableOptions table;
  std::string output;
  std::string dataset_name = "sugarcrepe";
  std::string feature_model = "unknown";
};

/// Writes opts.output atomically. Images are the unique file names in first-seen order (split
/// `test`); texts are the caption then the negative caption of every item (source 1 and 2,
/// image -1); the group `sugarcrepe` holds [G, 1] image rows, [G, 2] text rows and the subset.
/// DataError naming the first few missing keys when the table lacks any image or caption.
Dataset convert_sugarcrepe(const ConvertSugarCrepeOptions& opts);

}  // namespace vlb
