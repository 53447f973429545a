// Note [Datasets on a device]: to_device copies every tensor of a dataset and nothing else
// changes. LibTorch's "meta" device (shapes and dtypes, no storage) stands in for a GPU here, so
// the check runs on every machine; tests/gpu checks the values on CUDA.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "vlb/datasets/synth_composition.h"
#include "vlb/datasets/synth_gzsl.h"
#include "vlb/datasets/synth_multilabel.h"
#include "vlb/datasets/synth_textbank.h"

namespace {

// Every tensor field of a Dataset, by name (undefined ones included).
std::vector<std::pair<std::string, const at::Tensor*>> tensors(const vlb::Dataset& d) {
  std::vector<std::pair<std::string, const at::Tensor*>> out = {
      {"features", &d.features},         {"label", &d.label},
      {"labels", &d.labels},             {"feature_maps", &d.feature_maps},
      {"partial_labels", &d.partial_labels}, {"texts.features", &d.texts.features},
      {"texts.image", &d.texts.image},   {"texts.cls", &d.texts.cls},
      {"texts.source", &d.texts.source}, {"texts.type", &d.texts.type},
      {"texts.partner", &d.texts.partner}, {"texts.parent", &d.texts.parent}};
  for (const auto& [k, t] : d.descriptors) out.emplace_back("descriptors/" + k, &t);
  for (const auto& [k, t] : d.splits) out.emplace_back("splits/" + k, &t);
  for (const auto& [k, t] : d.class_splits) out.emplace_back("class_splits/" + k, &t);
  for (const auto& [k, t] : d.texts.towers) out.emplace_back("towers/" + k, &t);
  for (const auto& [k, g] : d.groups)
    for (const auto& [f, t] : {std::pair{"image", &g.image}, {"text", &g.text}, {"subset", &g.subset}})
      out.emplace_back("groups/" + k + "/" + f, t);
  return out;
}

void expect_copied_to_meta(const vlb::Dataset& ds) {
  const vlb::Dataset m = vlb::to_device(ds, "meta");
  auto src = tensors(ds), dst = tensors(m);
  ASSERT_EQ(src.size(), dst.size());
  int defined = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    SCOPED_TRACE(src[i].first);
    const at::Tensor &a = *src[i].second, &b = *dst[i].second;
    ASSERT_EQ(a.defined(), b.defined());
    if (!a.defined()) continue;
    ++defined;
    EXPECT_TRUE(a.is_cpu());  // the source is left where it was
    EXPECT_TRUE(b.is_meta());
    EXPECT_EQ(a.sizes(), b.sizes());
    EXPECT_EQ(a.scalar_type(), b.scalar_type());
  }
  EXPECT_GT(defined, 5);
  EXPECT_EQ(m.class_names, ds.class_names);
  EXPECT_EQ(m.texts.strings, ds.texts.strings);
  EXPECT_EQ(m.fingerprint, ds.fingerprint);
  EXPECT_EQ(m.map_height, ds.map_height);
}

// Between them the generators fill every field: texts with types and partners, towers, groups
// and caption parents, feature maps and partial labels, descriptors and class splits.
TEST(ToDevice, EveryTensorOfEverySyntheticShapeIsCopied) {
  expect_copied_to_meta(vlb::generate_synth_textbank(vlb::SynthTextBankOptions{}));
  expect_copied_to_meta(vlb::generate_synth_composition(vlb::SynthCompositionOptions{}));
  expect_copied_to_meta(vlb::generate_synth_multilabel(vlb::SynthMultiLabelOptions{}));
  expect_copied_to_meta(vlb::generate_synth_gzsl(vlb::SynthGzslOptions{}));
}

TEST(ToDevice, RebaseKeepsTheRowsOfTheView) {
  const vlb::Dataset ds = vlb::generate_synth_textbank(vlb::SynthTextBankOptions{});
  const vlb::Dataset m = vlb::to_device(ds, "meta");
  vlb::DataView v = vlb::rebase(vlb::make_view(ds, "val"), m);
  EXPECT_EQ(v.dataset, &m);
  EXPECT_EQ(v.split, "val");
  EXPECT_TRUE(v.rows.is_meta());
  EXPECT_EQ(v.rows.sizes(), ds.splits.at("val").sizes());
  // Onto its own dataset (a run on the CPU): the view itself, its rows not copied.
  const vlb::DataView own = vlb::make_view(ds, "val");
  const vlb::DataView same = vlb::rebase(own, ds);
  EXPECT_EQ(same.dataset, &ds);
  EXPECT_EQ(same.rows.data_ptr(), own.rows.data_ptr());
}

}  // namespace
