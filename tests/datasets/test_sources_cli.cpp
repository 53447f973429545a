// `vlb synth` and `vlb list datasets` reach every registered synthetic source through the
// registry, and the generators' provenance stays byte-identical.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"
#include "vlb/datasets/cached_source.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/synth.h"
#include "vlb/datasets/synth_gzsl.h"
#include "vlb/experiments/builtins.h"

using vlb::test::run_cli;
using vlb::test::TempDir;

namespace {

using vlb::test::contains;

std::vector<std::string> synthetic_names() {
  return vlb::synthetic_source_names(vlb::builtins().datasets);
}

TEST(SourcesCli, EverySourceIsTaggedAsItShouldBe) {
  const auto& reg = vlb::builtins().datasets;
  auto names = synthetic_names();
  EXPECT_GE(names.size(), 6u);
  for (const auto* e : reg.entries())
    EXPECT_EQ(vlb::is_synthetic(*e), e->name != "h5") << e->name;
}

TEST(SourcesCli, EverySyntheticSourceIsGeneratedByNameAndInspected) {
  TempDir dir;
  for (const auto& name : synthetic_names()) {
    SCOPED_TRACE(name);
    const std::string out = dir / (name + ".h5");
    auto r = run_cli("synth --source " + name + " --out " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_cli("inspect --verify " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "fingerprint verified")) << r.output;
    // Every generator records itself as "vlb NAME VERSION": the file came from that source.
    const auto& entry = vlb::builtins().datasets.get(name);
    EXPECT_EQ(vlb::read_dataset(out).attrs.at("created_by"), "vlb " + name + " " + entry.version);
  }
}

TEST(SourcesCli, HelpAndListNameEverySource) {
  auto r = run_cli("synth --help");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& name : synthetic_names()) EXPECT_TRUE(contains(r.output, name)) << name;
  r = run_cli("list datasets");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& name : vlb::builtins().datasets.names())
    EXPECT_TRUE(contains(r.output, "  " + name + " ")) << name << "\n" << r.output;
  EXPECT_TRUE(contains(r.output, "synthetic (`vlb synth --source NAME`): " + synthetic_names()[0]))
      << r.output;
}

TEST(SourcesCli, TheShortNameIsTheSameSource) {
  TempDir dir;
  const std::string small = " --set classes=4 --set train_images=8 --set test_images=4"
                            " --set height=2 --set width=2 --set dim=4";
  auto a = run_cli("synth multilabel --out " + (dir / "a.h5") + small);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_cli("synth --source synth_multilabel --out " + (dir / "b.h5") + small);
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(vlb::read_dataset(dir / "a.h5").fingerprint, vlb::read_dataset(dir / "b.h5").fingerprint);
  auto both = run_cli("synth multilabel --source synth_gzsl --out " + (dir / "c.h5"));
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

TEST(SourcesCli, AnUnknownOrNonSyntheticSourceIsABadInput) {
  TempDir dir;
  auto r = run_cli("synth --source synth_gzls --out " + (dir / "x.h5"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "did you mean 'synth_gzsl'")) << r.output;
  r = run_cli("synth multilabl --out " + (dir / "x.h5"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "did you mean 'multilabel'")) << r.output;
  r = run_cli("synth --source h5 --out " + (dir / "x.h5"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "'h5' is not synthetic")) << r.output;
  r = run_cli("synth --source synth_textbank --labels-from voc2007 --out " + (dir / "x.h5"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "no labels_from parameter")) << r.output;
  EXPECT_FALSE(vlb::test::exists(dir / "x.h5"));
}

// The synth_params attribute is part of the file content and so of the fingerprint: it must stay
// the JSON the generators wrote before it came from the options tables (sorted keys, ints as ints,
// doubles as doubles).
TEST(SourcesCli, SynthParamsProvenanceIsUnchanged) {
  EXPECT_EQ(vlb::generate_synth(vlb::SynthOptions{}).attrs.at("synth_params"),
            R"({"attribute_noise":0.1,"attributes":32,"classes":20,"dim":64,"modality_gap":0.8,)"
            R"("nuisance_dims":4,"nuisance_scale":0.6,"seed":0,"spread":1.8,"template_noise":0.25,)"
            R"("templates":4,"test_per_class":50,"text_noise":1.0,"train_per_class":16,)"
            R"("val_per_class":0})");
  EXPECT_EQ(vlb::generate_synth_gzsl(vlb::SynthGzslOptions{}).attrs.at("synth_params"),
            R"({"attribute_gain":1.5,"attribute_noise":0.05,"attributes":32,"classes":40,"dim":64,)"
            R"("latent_dim":8,"seed":0,"spread":1.2,"test_per_class":20,"train_per_class":20,)"
            R"("unseen":10,"word_dim":48})");
}

}  // namespace
