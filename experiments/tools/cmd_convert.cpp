// `vlb convert <format>`: the only place that knows foreign layouts (.npy, .mat, 1-based ids);
// every converter writes a schema-v1 file atomically.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/datasets/convert.h"

namespace fs = std::filesystem;

namespace vlb::cli {
namespace {

NpySplit parse_split(const std::string& s) {
  // NAME:FEATURES.npy:LABELS.npy
  auto a = s.find(':');
  auto b = a == std::string::npos ? a : s.find(':', a + 1);
  if (a == std::string::npos || b == std::string::npos)
    throw ConfigError("--split " + s + ": expected NAME:FEATURES.npy:LABELS.npy");
  return {s.substr(0, a), s.substr(a + 1, b - a - 1), s.substr(b + 1)};
}

void add_npy(CLI::App* convert, std::vector<Command>& subs) {
  struct State {
    std::string dir, classnames, text_features, text_classes, text_strings, out, name, model;
    std::vector<std::string> splits;
    std::string text_types, text_partners;
    std::vector<std::string> text_banks;
    bool allow_duplicate_classes = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = convert->add_subcommand("npy", "From .npy features/labels per split + a class-name list");
  sub->add_option("--dir", st->dir, "a folder with <split>_features.npy, <split>_labels.npy, classnames.txt "
                                   "(and text_features.npy, read as --text-features, when present)");
  sub->add_option("--split", st->splits, "NAME:FEATURES.npy:LABELS.npy (repeatable; instead of --dir)");
  sub->add_option("--classnames", st->classnames, "class names, one per line (line i = label i)");
  sub->add_option("--text-features", st->text_features,
                  "optional [T, D] .npy of text embeddings; with one row per class (T = C) and no "
                  "--text-classes, row c is the prompt text of class c, of type name (a zero-shot "
                  "classifier, e.g. prompt-ensembled CLIP class embeddings)");
  sub->add_option("--text-classes", st->text_classes, "optional [T] .npy: class id of each text (-1: none)");
  sub->add_option("--text-strings", st->text_strings, "optional text file: one string per text row");
  sub->add_option("--text-types", st->text_types, "optional [T] .npy: text type code per text (-1 other, 0 name, 1 attribute, 2 analogy, 3 synonym, 4 pair)");
  sub->add_option("--text-partners", st->text_partners, "optional [T] .npy: partner class of pair texts, else -1");
  sub->add_option("--text-bank", st->text_banks, "FEATURES.npy[:NAMES.txt] generic text bank appended as free-standing, L2-normalized texts (repeatable)");
  sub->add_option("--out", st->out, "output .h5 file")->required();
  sub->add_option("--name", st->name, "dataset name (default: the folder or output name)");
  sub->add_option("--feature-model", st->model, "feature extractor, e.g. openai/ViT-B-32");
  sub->add_flag("--allow-duplicate-classes", st->allow_duplicate_classes,
                "a class name listed twice is a warning, not an error (recorded in the file)");
  subs.push_back({sub, [st] {
    ConvertNpyOptions o;
    if (!st->dir.empty()) {
      if (!st->splits.empty()) throw ConfigError("convert npy: give --dir or --split, not both");
      o = npy_options_from_directory(st->dir);
    } else {
      if (st->splits.empty()) throw ConfigError("convert npy: give --dir DIR or at least one --split");
      for (const auto& s : st->splits) o.splits.push_back(parse_split(s));
    }
    if (!st->classnames.empty()) o.classnames = st->classnames;
    if (o.classnames.empty()) throw ConfigError("convert npy: --classnames is required without --dir");
    if (!st->text_features.empty()) o.text_features = st->text_features;
    if (!st->text_classes.empty()) o.text_classes = st->text_classes;
    if (!st->text_strings.empty()) o.text_strings = st->text_strings;
    if (!st->text_types.empty()) o.text_types = st->text_types;
    if (!st->text_partners.empty()) o.text_partners = st->text_partners;
    for (const auto& b : st->text_banks) {
      auto colon = b.find(':');
      o.text_banks.push_back(colon == std::string::npos ? NpyTextBank{b, ""}
                                                        : NpyTextBank{b.substr(0, colon), b.substr(colon + 1)});
    }
    o.output = st->out;
    o.allow_duplicate_classes = st->allow_duplicate_classes;
    if (!st->name.empty()) o.dataset_name = st->name;
    if (o.dataset_name.empty()) {
      fs::path base = st->dir.empty() ? fs::path(st->out).stem()
                                      : fs::path(st->dir).lexically_normal().filename();
      o.dataset_name = base.string();
    }
    if (!st->model.empty()) o.feature_model = st->model;
    Dataset ds = convert_npy(o);
    std::cerr << fmt::format("vlb convert: wrote {} ({} images, {} classes, splits:", st->out,
                             ds.num_images(), ds.num_classes());
    for (const auto& kv : ds.splits) std::cerr << " " << kv.first << "=" << kv.second.size(0);
    std::cerr << ")\n";
    return kExitOk;
  }});
}

}  // namespace

Command add_convert_command(CLI::App& app) {
  auto* convert = app.add_subcommand("convert", "Convert features into a schema-v1 HDF5 file");
  convert->require_subcommand(1);
  auto subs = std::make_shared<std::vector<Command>>();
  add_npy(convert, *subs);
  add_xlsa17(convert, *subs);  // xlsa17 and sun-clip-gzsl
  add_near_converters(convert, *subs);
  add_composition_converters(convert, *subs);
  // Further converters: one add_<format>(convert, *subs) line each.
  return {convert, [subs] {
            for (const auto& c : *subs)
              if (c.app->parsed()) return c.run();
            return kExitBadInput;
          }};
}

}  // namespace vlb::cli
