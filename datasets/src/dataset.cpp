// Split views and the two dataset sources (`h5`, `synth`).
#include "vlb/datasets/cached_source.h"
#include "vlb/datasets/dataset.h"

#include <torch/torch.h>


#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/synth.h"


namespace vlb {

at::Tensor DataView::features() const { return dataset->features.index_select(0, rows); }
at::Tensor DataView::label() const { return dataset->label.index_select(0, rows); }
at::Tensor DataView::feature_maps() const {
  return dataset->feature_maps.defined() ? dataset->feature_maps.index_select(0, rows) : at::Tensor();
}
at::Tensor DataView::partial_labels() const {
  return dataset->partial_labels.defined() ? dataset->partial_labels.index_select(0, rows)
                                           : at::Tensor();
}
at::Tensor DataView::labels() const {
  return dataset->labels.defined() ? dataset->labels.index_select(0, rows) : at::Tensor();
}

DataView make_view(const Dataset& ds, const std::string& split) {
  auto it = ds.splits.find(split);
  if (it == ds.splits.end()) {
    std::string avail;
    for (const auto& kv : ds.splits) avail += (avail.empty() ? "" : ", ") + kv.first;
    throw ConfigError("dataset '" + ds.name + "' has no split '" + split + "' (available: " +
                      (avail.empty() ? "none" : avail) + ")");
  }
  return DataView{&ds, split, it->second};
}

namespace {

class H5Source : public DatasetSource {
 public:
  explicit H5Source(std::string path) : path_(std::move(path)) {}
  Dataset load(const SourceContext&) override { return read_dataset(path_); }

 private:
  std::string path_;
};

// Bump when generate_synth's output changes for the same options, so stale caches are not reused.
constexpr const char* kSynthVersion = "1";

}  // namespace

void register_h5_source(DatasetRegistry& reg) {
  RegistryEntry<DatasetSource> e;
  e.name = "h5";
  e.help = "an existing schema-v1 feature file (see datasets/SCHEMA.md)";
  e.version = "1";
  e.schema.add_string("path", "", {}, "path of the .h5 feature file");
  e.factory = [](const Params& p) -> std::unique_ptr<DatasetSource> {
    const std::string& path = p.get_string("path");
    if (path.empty()) throw ConfigError("dataset.params.path is required for the h5 source");
    return std::make_unique<H5Source>(path);
  };
  reg.add(std::move(e));
}

void register_synth_source(DatasetRegistry& reg) {
  const SynthOptions d;
  RegistryEntry<DatasetSource> e;
  e.name = "synth";
  e.help = "seeded synthetic CLIP-like features (cached under the cache dir by parameters)";
  e.version = kSynthVersion;
  e.schema.add_int("classes", d.classes, 2, 10000, "number of classes")
      .add_int("dim", d.dim, 2, 8192, "feature dimension")
      .add_int("train_per_class", d.train_per_class, 1, 100000, "train images per class")
      .add_int("val_per_class", d.val_per_class, 0, 100000, "val images per class (0: no val)")
      .add_int("test_per_class", d.test_per_class, 1, 100000, "test images per class")
      .add_float("spread", d.spread, 0.0, 100.0, "within-class noise, relative to prototype norm")
      .add_int("nuisance_dims", d.nuisance_dims, 0, 1024, "shared high-variance directions")
      .add_float("nuisance_scale", d.nuisance_scale, 0.0, 100.0, "std of the nuisance directions")
      .add_float("modality_gap", d.modality_gap, 0.0, 100.0, "norm of the image->text shift")
      .add_float("text_noise", d.text_noise, 0.0, 100.0, "class text distance from prototype")
      .add_int("templates", d.templates, 1, 1000, "prompt templates per class")
      .add_float("template_noise", d.template_noise, 0.0, 100.0, "per-template offset scale")
      .add_int("attributes", d.attributes, 1, 4096, "attribute descriptor length")
      .add_float("attribute_noise", d.attribute_noise, 0.0, 100.0, "attribute descriptor noise")
      .add_int("seed", d.seed, 0, 9.0e15, "random seed");
  e.factory = [](const Params& p) -> std::unique_ptr<DatasetSource> {
    SynthOptions o;
    o.classes = p.get_int("classes");
    o.dim = p.get_int("dim");
    o.train_per_class = p.get_int("train_per_class");
    o.val_per_class = p.get_int("val_per_class");
    o.test_per_class = p.get_int("test_per_class");
    o.spread = p.get_float("spread");
    o.nuisance_dims = p.get_int("nuisance_dims");
    o.nuisance_scale = p.get_float("nuisance_scale");
    o.modality_gap = p.get_float("modality_gap");
    o.text_noise = p.get_float("text_noise");
    o.templates = p.get_int("templates");
    o.template_noise = p.get_float("template_noise");
    o.attributes = p.get_int("attributes");
    o.attribute_noise = p.get_float("attribute_noise");
    o.seed = p.get_int("seed");
    return make_cached_generator_source("synth", kSynthVersion, p, [o] { return generate_synth(o); });
  };
  reg.add(std::move(e));
}

}  // namespace vlb
