// `vlb convert near-labels` (near_labels.h): simulated MLLM labels on real features.
#include "vlb/datasets/near_labels.h"

#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/core/sha256.h"
#include "vlb/core/text.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/fewshot.h"
#include "vlb/datasets/npy.h"

namespace vlb {
namespace {

std::vector<std::string> read_lines(const std::string& path) { return read_text_lines(path, "name list"); }

}  // namespace

NearLabelsReport convert_near_labels(const NearLabelsOptions& o) {
  if (o.per_class < 1) throw ConfigError("convert near-labels: --per-class must be >= 1");
  if (o.output.empty()) throw ConfigError("convert near-labels: --out is required");
  Dataset ds = read_dataset(o.input);
  auto split = ds.splits.find(o.label_split);
  if (split == ds.splits.end()) {
    std::string have;
    for (const auto& kv : ds.splits) have += (have.empty() ? "" : ", ") + kv.first;
    throw DataError(o.input, "/splits/" + o.label_split, "no such split (have: " + have + ")");
  }
  for (const char* s : {"discovery"})
    if (ds.splits.count(s)) throw DataError(o.input, std::string("/splits/") + s, "already present");
  const int64_t C = ds.num_classes(), D = ds.dim();

  // Name embeddings from the banks, keyed by canonical name (first bank, first row wins).
  std::map<std::string, at::Tensor> bank;
  for (const auto& [feat, names_path] : o.name_banks) {
    auto f = read_npy(feat).to(torch::kFloat);
    auto names = read_lines(names_path);
    if (f.dim() != 2 || f.size(1) != D)
      throw DataError(feat, "", fmt::format("expected [B, {}] text features (the images' width)", D));
    if (static_cast<int64_t>(names.size()) != f.size(0))
      throw DataError(names_path, "", fmt::format("{} names for {} feature rows in {}", names.size(), f.size(0), feat));
    f = f / f.norm(2, {1}, true).clamp_min(1e-12);
    for (size_t i = 0; i < names.size(); ++i) bank.emplace(canonical_label(names[i]), f[i]);
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto embed = [&](const std::string& s) {
    auto it = bank.find(canonical_label(s));
    return it == bank.end() ? torch::full({D}, nan) : it->second;
  };

  NearLabelsReport rep;
  auto rows = split->second;
  auto x = ds.features.index_select(0, rows);
  auto y = ds.label.index_select(0, rows);
  if ((y < 0).any().item<bool>())
    throw DataError(o.input, "/images/label", "split '" + o.label_split + "' has rows without a class");
  x = x / x.norm(2, {1}, true).clamp_min(1e-12);
  auto means = torch::zeros({C, D}).index_add_(0, y, x);
  NoisyLabelOptions lo = o.labels;
  lo.seed = o.seed;
  std::vector<int64_t> family(C, 0);
  SimulatedLabels sim = simulate_noisy_labels(x, y, means, ds.class_names, family, {o.family_name}, lo);
  rep.stats = label_stats(sim.text, y, ds.class_names);
  rep.labelled = rows.size(0);

  // Append one label row per image to /texts (existing texts are kept as they are).
  const int64_t n = rows.size(0);
  std::vector<at::Tensor> tf;
  for (int64_t i = 0; i < n; ++i) {
    tf.push_back(embed(sim.text[i]));
    if (torch::isfinite(tf.back()).all().item<bool>()) ++rep.label_texts_with_embedding;
  }
  Texts& t = ds.texts;
  const int64_t T0 = t.size();
  auto feats = torch::stack(tf);
  t.features = T0 ? torch::cat({t.features, feats}) : feats;
  for (const auto& s : sim.text) t.strings.push_back(s);
  auto img = rows.clone();
  t.image = T0 ? torch::cat({t.image, img}) : img;
  auto cls = torch::full({n}, -1, torch::kLong);
  t.cls = T0 ? torch::cat({t.cls, cls}) : cls;
  auto src = torch::full({n}, kMllmLabelSource, torch::kChar);
  t.source = T0 ? torch::cat({t.source, src}) : src;
  if (t.type.defined()) {
    t.type = torch::cat({t.type, torch::full({n}, -1, torch::kChar)});
    if (t.partner.defined()) t.partner = torch::cat({t.partner, torch::full({n}, -1, torch::kLong)});
  }

  // Class-name table for sACC.
  std::vector<at::Tensor> ne;
  for (int64_t c = 0; c < C; ++c) {
    ne.push_back(embed(ds.class_names[c]));
    if (torch::isfinite(ne.back()).all().item<bool>()) rep.embedded_classes.push_back(ds.class_names[c]);
  }
  rep.names_with_embedding = static_cast<int64_t>(rep.embedded_classes.size());
  if (ds.descriptors.count("name_embedding"))
    throw DataError(o.input, "/classes/descriptors/name_embedding", "already present");
  ds.descriptors["name_embedding"] = torch::stack(ne);

  // The fixed FineR-style discovery set: per_class images per class of the labelled split.
  DataView view{&ds, o.label_split, rows};
  ds.splits["discovery"] = sample_shots(view, o.per_class, o.seed).rows;
  rep.discovery = ds.splits["discovery"].size(0);

  nlohmann::json prov = {{"input", o.input}, {"label_split", o.label_split}, {"per_class", o.per_class},
                         {"seed", o.seed}, {"family_name", o.family_name},
                         {"p_exact", lo.p_exact}, {"exact_spread", lo.exact_spread},
                         {"p_surface", lo.p_surface}, {"p_synonym", lo.p_synonym},
                         {"p_confusion", lo.p_confusion}, {"p_coarse", lo.p_coarse},
                         {"synonyms_per_class", lo.synonyms_per_class}, {"confusable", lo.confusable},
                         {"confusion_temp", lo.confusion_temp},
                         {"exact_rate", rep.stats.exact}, {"distinct_names", rep.stats.distinct}};
  ds.attrs["near_labels"] = prov.dump();
  ds.attrs["created_by"] = "vlb convert near-labels 1";
  nlohmann::json files = nlohmann::json::array();
  files.push_back({{"path", o.input}, {"sha256", sha256_file_hex(o.input)}});
  for (const auto& [f, nm] : o.name_banks)
    for (const auto* path : {&f, &nm}) files.push_back({{"path", *path}, {"sha256", sha256_file_hex(*path)}});
  ds.attrs["source_files"] = files.dump();
  write_dataset(ds, o.output);
  rep.dataset = read_dataset(o.output);
  return rep;
}

}  // namespace vlb
