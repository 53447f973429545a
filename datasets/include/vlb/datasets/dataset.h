#pragma once
// The in-memory form of one feature file (schema v1, datasets/SCHEMA.md) and views on its splits.
// Features are held as float32 whatever the storage dtype; all indices are 0-based int64.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vlb/core/params.h"
#include "vlb/core/registry.h"

namespace vlb {

/// /texts/type codes (datasets/SCHEMA.md). kPair texts ("c vs o") describe class `cls` against
/// class `partner` (CODER's one-vs-one texts).
enum class TextType : int8_t {
  kOther = -1,      // untyped: captions, generic banks
  kName = 0,        // a prompt with the class name ("a photo of a {c}")
  kAttribute = 1,   // a visual attribute of the class
  kAnalogy = 2,     // "a {c} similar to {o}" (may be misleading)
  kSynonym = 3,     // the name prompt with a synonym
  kPair = 4,        // one-vs-one: what distinguishes cls from partner
};
inline constexpr int8_t kMaxTextType = 4;
/// "name", "attribute", ... ("other" for -1); parse_text_type throws ConfigError on unknown names.
const char* to_string(TextType t);
TextType parse_text_type(const std::string& name);

/// /texts/source value of simulated or real MLLM label rows (NeaR's noisy labels).
inline constexpr int8_t kMllmLabelSource = 1;

/// Free-standing or caption texts embedded in the same space as the images.
struct Texts {
  at::Tensor features;               // [T, D] float32, undefined when the file has no texts
  std::vector<std::string> strings;  // [T]
  at::Tensor image;                  // [T] int64: caption -> image row, -1 for free-standing texts
  at::Tensor cls;                    // [T] int64: class id the text describes (prompts), -1 if none
  at::Tensor source;                 // [T] int8: 0 original, 1 recaptioned, 2 negative/perturbed
  // Optional (undefined when the file has no /texts/type): what kind of class text a row is, for
  // methods that treat text kinds differently (CODER). Codes are TextType below.
  at::Tensor type;                   // [T] int8: TextType code
  at::Tensor partner;                // [T] int64: for kPair texts the other class, else -1
  // Optional further text embeddings of the same T strings ("text towers": e.g. an order-blind
  // bag-of-words model and an order-aware one). /texts/towers/<name> [T, D_k] float32; D_k may
  // differ from the image dimension (methods that compare them to images train a projection).
  std::map<std::string, at::Tensor> towers;
  // Optional (undefined when absent): a sentence row -> the row of the full caption it was cut
  // from, -1 for ordinary texts (sentence sampling of long captions).
  at::Tensor parent;                 // [T] int64
  int64_t size() const { return features.defined() ? features.size(0) : 0; }
};

/// One compositional benchmark stored under /groups/<name> (datasets/SCHEMA.md "Groups"): G
/// items, each with I image rows and K text rows. Text column 0 is the correct caption (for
/// Winoground, text k belongs to image k).
struct ItemGroup {
  std::string kind;                       // "sugarcrepe", "aro_relation", "aro_attribution",
                                          // "order", "winoground" or a user-defined kind
  at::Tensor image;                       // [G, I] int64 image rows
  at::Tensor text;                        // [G, K] int64 text rows
  at::Tensor subset;                      // [G] int64 in [0, S)
  std::vector<std::string> subset_names;  // [S] (SugarCrepe subset, ARO relation or attribute pair)
  int64_t size() const { return image.defined() ? image.size(0) : 0; }
};

struct Dataset {
  std::string path;                   // file it came from ("" for generated in memory)
  std::string name;                   // root attr "dataset"
  std::string fingerprint;            // root attr content_sha256 (hex)
  std::string feature_dtype;          // storage dtype of /images/features: "float16" | "float32"
  std::map<std::string, std::string> attrs;  // every other root attribute, as text

  std::vector<std::string> class_names;            // [C]
  std::map<std::string, at::Tensor> descriptors;   // kind -> [C, D_k] float32
  at::Tensor features;                             // [N, D] float32
  std::vector<std::string> image_ids;              // [N] or empty
  at::Tensor label;                                // [N] int64, -1 = not applicable
  at::Tensor labels;                               // [N, C] int8 (+1/-1/0) or undefined
  std::map<std::string, at::Tensor> splits;        // name -> sorted unique int64 row indices
  std::map<std::string, at::Tensor> class_splits;  // name -> int64 class ids
  Texts texts;
  std::map<std::string, ItemGroup> groups;         // name -> compositional benchmark items
  // Optional multi-label with partial labels (SARL, datasets/SCHEMA.md "Feature maps"):
  // spatial feature maps [N, H*W, C_f] float32 (row-major positions) with their grid size, and a
  // partial label matrix [N, C] int8 (+1/-1/0 = unknown) made by an independent keep-mask.
  at::Tensor feature_maps;                         // [N, H*W, C_f] or undefined
  int64_t map_height = 0, map_width = 0;
  at::Tensor partial_labels;                       // [N, C] int8 or undefined
  double partial_keep_prob = -1;                   // keep probability p (-1: unknown)
  int64_t partial_seed = -1;                       // seed of the keep-mask (-1: unknown)

  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t num_images() const { return features.defined() ? features.size(0) : 0; }
  int64_t dim() const { return features.defined() ? features.size(1) : 0; }
};

/// The rows of one split. Cheap to copy; the dataset must outlive it.
struct DataView {
  const Dataset* dataset = nullptr;
  std::string split;
  at::Tensor rows;  // [n] int64 indices into dataset->features

  at::Tensor features() const;  // [n, D] float32
  at::Tensor label() const;     // [n] int64
  at::Tensor labels() const;    // [n, C] int8, undefined if the dataset has none
  at::Tensor feature_maps() const;    // [n, H*W, C_f] float32, undefined if none
  at::Tensor partial_labels() const;  // [n, C] int8, undefined if none
  int64_t size() const { return rows.defined() ? rows.size(0) : 0; }
};

/// Throws ConfigError naming the available splits when `split` is absent.
DataView make_view(const Dataset& ds, const std::string& split);

/// A copy of `ds` with every tensor on `device` ("cpu", "cuda", "cuda:1"), strings and sizes as
/// they are. Note [Datasets on a device]: a run on a GPU copies its dataset there once, so a method
/// finds features, labels, splits and texts where it computes; a method that reads a tensor's
/// elements on the host (accessors, data_ptr) copies that tensor back itself, in plain sight.
Dataset to_device(const Dataset& ds, const std::string& device);
/// The same rows of `view` as a view of `on`, a to_device copy of view.dataset (or
/// view.dataset itself: then the view as it is).
DataView rebase(const DataView& view, const Dataset& on);

// ---- Dataset sources: how a spec's `dataset:` block becomes a Dataset ------------------------

struct SourceContext {
  std::string cache_dir = "results/.cache";  // where generated files are kept (keyed by content)
};

class DatasetSource {
 public:
  virtual ~DatasetSource() = default;
  /// Loads (or generates) the dataset. Generated data is written once under ctx.cache_dir, keyed
  /// by a hash of the parameters, so every run of a sweep sees the same bytes and fingerprint.
  virtual Dataset load(const SourceContext& ctx) = 0;
};

/// Each source registers itself with register_<source>_source(DatasetRegistry&), declared in its
/// own header (datasets/README.md) and listed in VLB_DATASET_SOURCES (experiments/builtins.h).
using DatasetRegistry = Registry<DatasetSource>;

}  // namespace vlb
