// `vlb convert sugarcrepe`: official SugarCrepe JSON + an embedding table -> schema v1.
#include <fmt/format.h>

#include <iostream>
#include <vector>

#include "commands.h"
#include "vlb/datasets/sugarcrepe.h"

namespace vlb::cli {

void add_composition_converters(CLI::App* convert, std::vector<Command>& subs) {
  auto o = std::make_shared<ConvertSugarCrepeOptions>();
  auto* sub = convert->add_subcommand(
      "sugarcrepe", "SugarCrepe JSON (7 subsets) + image/caption embeddings -> a /groups/sugarcrepe file");
  sub->add_option("--dir", o->dir, "folder with add_obj.json ... swap_att.json")->required();
  sub->add_option("--image-features", o->table.image_features, ".npy [n, D] image embeddings");
  sub->add_option("--image-keys", o->table.image_keys,
                  "their keys (COCO file names): .json list or .txt one per line");
  sub->add_option("--text-features", o->table.text_features, ".npy [m, D] caption embeddings");
  sub->add_option("--text-keys", o->table.text_keys,
                  "their keys (exact caption texts): .json list (captions may hold newlines) or .txt");
  sub->add_option("--table", o->table.h5,
                  "instead: one HDF5 file with image_keys, image_features, text_keys, text_features");
  sub->add_option("--subset", o->subsets, "only these subsets (repeatable; default all seven)");
  sub->add_option("--out", o->output, "output .h5 file")->required();
  sub->add_option("--name", o->dataset_name, "dataset name (default sugarcrepe)");
  sub->add_option("--feature-model", o->feature_model, "the encoder, e.g. clip_vit_b32");
  subs.push_back({sub, [o] {
    Dataset ds = convert_sugarcrepe(*o);
    const ItemGroup& g = ds.groups.at("sugarcrepe");
    std::cerr << fmt::format("vlb convert: wrote {} ({} items, {} images, {} texts, D={}; subsets:",
                             o->output, g.size(), ds.num_images(), ds.texts.size(), ds.dim());
    std::vector<int64_t> counts(g.subset_names.size(), 0);
    auto sub = g.subset.contiguous();
    for (int64_t i = 0; i < sub.numel(); ++i) ++counts[sub.data_ptr<int64_t>()[i]];
    for (size_t s = 0; s < g.subset_names.size(); ++s) std::cerr << " " << g.subset_names[s] << "=" << counts[s];
    std::cerr << ")\n";
    return kExitOk;
  }});
}

}  // namespace vlb::cli
