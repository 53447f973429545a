// Converter paths through the CLI on small generated inputs (no ../shared data needed):
// `convert npy --text-types/--text-partners`, `convert sugarcrepe --table`, and the --help of
// every subcommand, converter and synth kind.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "test_support.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/hdf5.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;
using vlb::test::run_cli;
using vlb::test::TempDir;
using vlb::test::write_text;

namespace {

using vlb::test::contains;

at::Tensor seeded(std::vector<int64_t> shape, uint64_t seed) {
  return at::randn(shape, at::detail::createCPUGenerator(seed));
}

// 3 classes, 4 train + 2 test rows each, D = 8, and 6 class texts: a name per class, an
// attribute of class 0 and a pair text of classes 1 -> 2.
void write_npy_folder(const TempDir& t) {
  vlb::write_npy(t / "in/train_features.npy", seeded({12, 8}, 1));
  vlb::write_npy(t / "in/train_labels.npy", torch::arange(12, torch::kLong).remainder(3));
  vlb::write_npy(t / "in/test_features.npy", seeded({6, 8}, 2));
  vlb::write_npy(t / "in/test_labels.npy", torch::arange(6, torch::kLong).remainder(3));
  write_text(t / "in/classnames.txt", "cat\ndog\nfox\n");
  vlb::write_npy(t / "texts.npy", seeded({6, 8}, 3));
  vlb::write_npy(t / "classes.npy", torch::tensor({0, 1, 2, 0, 0, 1}, torch::kLong));
  vlb::write_npy(t / "types.npy", torch::tensor({0, 0, 0, 1, 3, 4}, torch::kLong));
  vlb::write_npy(t / "partners.npy", torch::tensor({-1, -1, -1, -1, -1, 2}, torch::kLong));
}

TEST(CliConvertNpy, TextTypesAndPartnersReachTheFile) {
  TempDir t;
  fs::create_directories(t / "in");
  write_npy_folder(t);
  const std::string texts = " --text-features " + t / "texts.npy" + " --text-classes " + t / "classes.npy";
  auto r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "f.h5" + texts + " --text-types " +
                   t / "types.npy" + " --text-partners " + t / "partners.npy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  vlb::Dataset ds = vlb::read_dataset(t / "f.h5");
  ASSERT_EQ(ds.texts.size(), 6);
  ASSERT_TRUE(ds.texts.type.defined());
  EXPECT_TRUE(torch::equal(ds.texts.type.to(torch::kLong), torch::tensor({0, 0, 0, 1, 3, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.texts.partner, torch::tensor({-1, -1, -1, -1, -1, 2}, torch::kLong)));
  EXPECT_TRUE(torch::equal(ds.texts.cls, torch::tensor({0, 1, 2, 0, 0, 1}, torch::kLong)));
  auto v = run_cli("inspect --verify " + t / "f.h5");
  EXPECT_EQ(v.exit_code, 0) << v.output;

  // Types without partners (and without pair texts, which need one): every partner is -1.
  vlb::write_npy(t / "no_pairs.npy", torch::tensor({0, 0, 0, 1, 3, 2}, torch::kLong));
  r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "g.h5" + texts + " --text-types " +
              t / "no_pairs.npy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(vlb::read_dataset(t / "g.h5").texts.partner.eq(-1).all().item<bool>());

  // Bad input, each a located message and no output file: partners without types, a type code
  // out of range (row 2), a partner list of the wrong length.
  r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "x.h5" + texts + " --text-partners " +
              t / "partners.npy");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--text-partners needs --text-types")) << r.output;
  vlb::write_npy(t / "bad_types.npy", torch::tensor({0, 0, 9, 1, 3, 4}, torch::kLong));
  r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "x.h5" + texts + " --text-types " +
              t / "bad_types.npy");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "bad_types.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "row 2")) << r.output;
  vlb::write_npy(t / "short.npy", torch::tensor({-1, 2}, torch::kLong));
  r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "x.h5" + texts + " --text-types " +
              t / "types.npy" + " --text-partners " + t / "short.npy");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "short.npy")) << r.output;
  EXPECT_TRUE(contains(r.output, "T=6")) << r.output;
  // A pair text (row 5) without --text-partners: refused at convert, not later by the reader.
  r = run_cli("convert npy --dir " + t / "in" + " --out " + t / "x.h5" + texts + " --text-types " +
              t / "types.npy");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "types.npy: row 5")) << r.output;
  EXPECT_TRUE(contains(r.output, "partner")) << r.output;
  EXPECT_FALSE(fs::exists(t / "x.h5"));
}

// A one-subset SugarCrepe folder (the official JSON layout: id -> filename, caption,
// negative_caption) and its embeddings in one HDF5 table.
TEST(CliConvertSugarcrepe, OneTableFileInsteadOfFourArrays) {
  TempDir t;
  nlohmann::json items = {
      {"0", {{"filename", "a.jpg"}, {"caption", "a red cup on a table"}, {"negative_caption", "a table on a red cup"}}},
      {"1", {{"filename", "b.jpg"}, {"caption", "a dog left of a cat"}, {"negative_caption", "a cat left of a dog"}}},
      {"2", {{"filename", "a.jpg"}, {"caption", "a cup"}, {"negative_caption", "a bowl"}}}};
  write_text(t / "sc/swap_obj.json", items.dump());
  const std::vector<std::string> images = {"b.jpg", "a.jpg", "unused.jpg"};
  const std::vector<std::string> texts = {"a red cup on a table", "a table on a red cup", "a dog left of a cat",
                                          "a cat left of a dog", "a cup", "a bowl"};
  const at::Tensor img = seeded({3, 4}, 5), txt = seeded({6, 4}, 6);
  {
    auto f = vlb::h5::File::create(t / "table.h5");
    vlb::h5::write_strings(f.id(), "/image_keys", images);
    vlb::h5::write_array(f.id(), "/image_features", img, vlb::h5::DType::kFloat32);
    vlb::h5::write_strings(f.id(), "/text_keys", texts);
    vlb::h5::write_array(f.id(), "/text_features", txt, vlb::h5::DType::kFloat32);
  }
  auto r = run_cli("convert sugarcrepe --dir " + t / "sc" + " --subset swap_obj --table " + t / "table.h5" +
                   " --out " + t / "out.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "3 items, 2 images")) << r.output;
  vlb::Dataset ds = vlb::read_dataset(t / "out.h5");
  const auto& g = ds.groups.at("sugarcrepe");
  ASSERT_EQ(g.size(), 3);
  ASSERT_EQ(ds.image_ids, (std::vector<std::string>{"a.jpg", "b.jpg"}));  // first seen first
  EXPECT_TRUE(torch::equal(ds.features[0], img[1]));                      // a.jpg is table row 1
  EXPECT_TRUE(torch::equal(ds.features[1], img[0]));
  const int64_t neg = g.text[1][1].item<int64_t>();
  EXPECT_EQ(ds.texts.strings[neg], "a cat left of a dog");
  EXPECT_TRUE(torch::equal(ds.texts.features[neg], txt[3]));
  EXPECT_EQ(g.subset_names[g.subset[0].item<int64_t>()], "swap_obj");

  // A table without /text_keys is refused, naming the file and the dataset.
  {
    auto f = vlb::h5::File::create(t / "partial.h5");
    vlb::h5::write_strings(f.id(), "/image_keys", images);
    vlb::h5::write_array(f.id(), "/image_features", img, vlb::h5::DType::kFloat32);
    vlb::h5::write_array(f.id(), "/text_features", txt, vlb::h5::DType::kFloat32);
  }
  r = run_cli("convert sugarcrepe --dir " + t / "sc" + " --subset swap_obj --table " + t / "partial.h5" +
              " --out " + t / "bad.h5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "partial.h5")) << r.output;
  EXPECT_TRUE(contains(r.output, "text_keys")) << r.output;
  EXPECT_FALSE(fs::exists(t / "bad.h5"));
}

// Subcommand names from a help text's "Subcommands:" section.
std::vector<std::string> subcommands_in(const std::string& help) {
  std::vector<std::string> out;
  size_t at = help.find("Subcommands:");
  if (at == std::string::npos) return out;
  std::regex line("\\n  ([a-z][a-z0-9-]*)(?= )");
  std::string rest = help.substr(at);
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), line); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

// Every subcommand and converter the top-level and `convert` help list, plus the ones users are
// told about by name; `synth multilabel` is a kind argument of synth, not a subcommand.
TEST(CliHelp, EverySubcommandConverterAndSynthKind) {
  auto top = run_cli("--help");
  ASSERT_EQ(top.exit_code, 0) << top.output;
  auto conv = run_cli("convert --help");
  ASSERT_EQ(conv.exit_code, 0) << conv.output;
  std::set<std::string> all;
  for (const auto& s : subcommands_in(top.output)) all.insert(s);
  for (const auto& s : subcommands_in(conv.output)) all.insert("convert " + s);
  for (const char* named : {"convert near-labels", "convert sugarcrepe", "convert npy", "convert xlsa17",
                            "convert sun-clip-gzsl", "synth multilabel", "list", "run", "report"}) {
    EXPECT_TRUE(all.count(named) || std::string(named) == "synth multilabel")
        << "'" << named << "' not in the help listings:\n" << top.output << conv.output;
    all.insert(named);
  }
  EXPECT_GE(all.size(), 16u);
  for (const auto& sub : all) {
    auto r = run_cli(sub + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "Usage")) << sub << "\n" << r.output;
  }
  auto synth = run_cli("synth multilabel --help");
  EXPECT_TRUE(contains(synth.output, "multilabel")) << synth.output;
  EXPECT_TRUE(contains(synth.output, "--labels-from")) << synth.output;
}

}  // namespace
