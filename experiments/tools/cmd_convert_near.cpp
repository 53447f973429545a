// `vlb convert near-labels`: real features + simulated noisy MLLM labels (NeaR, docs/near.md).
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/datasets/near_labels.h"

namespace vlb::cli {

void add_near_converters(CLI::App* convert, std::vector<Command>& subs) {
  struct State {
    NearLabelsOptions o;
    std::vector<std::string> banks;
  };
  auto st = std::make_shared<State>();
  auto* sub = convert->add_subcommand(
      "near-labels",
      "Add simulated MLLM labels (one /texts row per image of --label-split), a 'discovery' split "
      "of --per-class images per class and descriptors[name_embedding] to a schema-v1 file");
  auto& o = st->o;
  sub->add_option("--in", o.input, "schema-v1 feature file (e.g. from `vlb convert npy`)")->required();
  sub->add_option("--out", o.output, "output .h5 file")->required();
  sub->add_option("--label-split", o.label_split, "split whose images get labels (default train)");
  sub->add_option("--per-class", o.per_class, "discovery images per class (default 3, FineR)");
  sub->add_option("--family-name", o.family_name, "coarse name an MLLM may answer (default object)");
  sub->add_option("--name-bank", st->banks,
                  "FEATURES.npy:NAMES.txt text embeddings by name (repeatable), e.g. the CLIP vocab; "
                  "names found there get embeddings (sACC), others NaN");
  sub->add_option("--seed", o.seed, "seed of the labels and the discovery split (default 0)");
  sub->add_option("--p-exact", o.labels.p_exact, "mean probability of the exact name (default 0.5)");
  sub->add_option("--exact-spread", o.labels.exact_spread, "per-class sd of p_exact (default 0.2)");
  sub->add_option("--p-synonym", o.labels.p_synonym, "share of non-exact answers that are synonyms (default 0.24)");
  sub->add_option("--p-confusion", o.labels.p_confusion, "share that name a close class (default 0.56)");
  sub->add_option("--p-coarse", o.labels.p_coarse, "share that give the family name (default 0.08)");
  sub->add_option("--confusable", o.labels.confusable, "closest classes confusions go to (default 3)");
  subs.push_back({sub, [st] {
    for (const auto& b : st->banks) {
      auto colon = b.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == b.size())
        throw ConfigError("--name-bank " + b + ": expected FEATURES.npy:NAMES.txt");
      st->o.name_banks.emplace_back(b.substr(0, colon), b.substr(colon + 1));
    }
    NearLabelsReport r = convert_near_labels(st->o);
    std::string embedded;
    for (const auto& c : r.embedded_classes) embedded += (embedded.empty() ? "" : ", ") + c;
    std::cerr << fmt::format(
        "vlb convert: wrote {} ({} labelled images of '{}': {:.1f}% exact names, {} distinct "
        "names for {} classes; discovery split {} images; {} label texts and {} class names with "
        "an embedding{}{})\n",
        st->o.output, r.labelled, st->o.label_split, 100 * r.stats.exact, r.stats.distinct,
        r.dataset.num_classes(), r.discovery, r.label_texts_with_embedding, r.names_with_embedding,
        embedded.empty() ? "" : ": ", embedded);
    return kExitOk;
  }});
}

}  // namespace vlb::cli
