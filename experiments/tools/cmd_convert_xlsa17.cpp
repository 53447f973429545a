// `vlb convert xlsa17` and `vlb convert sun-clip-gzsl` (datasets/include/vlb/datasets/xlsa17.h).
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/datasets/xlsa17.h"

namespace vlb::cli {
namespace {

std::vector<std::pair<std::string, std::string>> parse_descriptors(const std::vector<std::string>& v) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : v) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw ConfigError("--descriptor " + s + ": expected KIND=FILE.npy");
    out.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  return out;
}

void report(const std::string& out, const Dataset& ds) {
  std::cerr << fmt::format("vlb convert: wrote {} ({} images, {} classes: {} seen / {} unseen; splits:",
                           out, ds.num_images(), ds.num_classes(),
                           ds.class_splits.at("seen").numel(), ds.class_splits.at("unseen").numel());
  for (const auto& kv : ds.splits) std::cerr << " " << kv.first << "=" << kv.second.size(0);
  std::cerr << "; descriptors:";
  for (const auto& kv : ds.descriptors) std::cerr << " " << kv.first << "[" << kv.second.size(1) << "]";
  std::cerr << ")\n";
}

}  // namespace

void add_xlsa17(CLI::App* convert, std::vector<Command>& subs) {
  struct State {
    ConvertXlsa17Options o;
    std::vector<std::string> descriptors;
  };
  auto st = std::make_shared<State>();
  auto* sub = convert->add_subcommand("xlsa17", "From xlsa17 att_splits.mat + a features file (1-based -> 0-based)");
  sub->add_option("--att-splits", st->o.att_splits, "att_splits.mat (MATLAB v5)")->required();
  sub->add_option("--features", st->o.features,
                  "res101.mat-like (.mat with features D x N and labels N x 1) or a .npy [N, D]")->required();
  sub->add_option("--labels", st->o.labels, ".npy [N] 1-based labels (with a .npy --features)");
  sub->add_option("--descriptor", st->descriptors, "extra descriptor kind KIND=FILE.npy [C, d] (repeatable)");
  sub->add_option("--out", st->o.output, "output .h5 file")->required();
  sub->add_option("--name", st->o.dataset_name, "dataset name");
  sub->add_option("--feature-model", st->o.feature_model, "feature extractor, e.g. resnet101");
  subs.push_back({sub, [st] {
    st->o.descriptors = parse_descriptors(st->descriptors);
    Dataset ds = convert_xlsa17(st->o);
    report(st->o.output, ds);
    return kExitOk;
  }});

  auto sst = std::make_shared<SunClipGzslOptions>();
  auto sdesc = std::make_shared<std::vector<std::string>>();
  auto* sun = convert->add_subcommand(
      "sun-clip-gzsl", "CLIP SUN397 features joined by class name with the xlsa17 SUN classes (GZSL)");
  sun->add_option("--clip-dir", sst->clip_dir, "folder with train/test_features.npy, *_labels.npy, classnames.txt")->required();
  sun->add_option("--att-splits", sst->att_splits, "xlsa17 SUN att_splits.mat")->required();
  sun->add_option("--test-classes", sst->test_classes, "xlsa17 SUN testclasses.txt (the unseen classes)")->required();
  sun->add_option("--descriptor", *sdesc, "extra descriptor kind KIND=FILE.npy [717, d] (repeatable)");
  sun->add_option("--min-unseen", sst->min_unseen, "top up the unseen classes with seeded seen ones (default 20)");
  sun->add_option("--seed", sst->seed, "seed of that top-up (default 0)");
  sun->add_option("--out", sst->output, "output .h5 file")->required();
  subs.push_back({sun, [sst, sdesc] {
    sst->descriptors = parse_descriptors(*sdesc);
    Dataset ds = convert_sun_clip_gzsl(*sst);
    report(sst->output, ds);
    return kExitOk;
  }});
}

}  // namespace vlb::cli
