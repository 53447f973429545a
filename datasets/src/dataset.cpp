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

Dataset to_device(const Dataset& ds, const std::string& device) {
  const at::Device dev(device);
  auto to = [&](at::Tensor& t) {
    if (t.defined()) t = t.to(dev);
  };
  auto to_all = [&](auto& by_name) {
    for (auto& kv : by_name) to(kv.second);
  };
  Dataset d = ds;
  to(d.features);
  to(d.label);
  to(d.labels);
  to(d.feature_maps);
  to(d.partial_labels);
  to_all(d.descriptors);
  to_all(d.splits);
  to_all(d.class_splits);
  for (at::Tensor* t : {&d.texts.features, &d.texts.image, &d.texts.cls, &d.texts.source,
                        &d.texts.type, &d.texts.partner, &d.texts.parent})
    to(*t);
  to_all(d.texts.towers);
  for (auto& kv : d.groups)
    for (at::Tensor* t : {&kv.second.image, &kv.second.text, &kv.second.subset}) to(*t);
  return d;
}

DataView rebase(const DataView& view, const Dataset& on) {
  if (&on == view.dataset) return view;
  return DataView{&on, view.split, view.rows.to(on.features.device())};
}

}  // namespace vlb
