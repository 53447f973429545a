// Split views of a dataset (the sources are in their own files, datasets/README.md).
#include "vlb/datasets/dataset.h"

#include <torch/torch.h>

#include "vlb/core/error.h"

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

}  // namespace vlb
