// `vlb synth` and `vlb inspect`: make and look at feature files.
#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/datasets/cached_source.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/experiments/builtins.h"

namespace vlb::cli {
namespace {

ParamValue parse_as(const ParamSpec* spec, const std::string& kv, const std::string& v) {
  auto whole = [&](auto parse, const char* what) -> ParamValue {
    try {
      size_t pos = 0;
      auto x = parse(v, &pos);
      if (pos == v.size()) return x;
    } catch (const std::exception&) {
    }
    throw ConfigError(fmt::format("--set {}: expected {}", kv, what));
  };
  if (spec && spec->type == ParamType::kInt)
    return whole([](const std::string& s, size_t* p) { return static_cast<int64_t>(std::stoll(s, p)); },
                 "an integer");
  if (spec && spec->type == ParamType::kFloat)
    return whole([](const std::string& s, size_t* p) { return std::stod(s, p); }, "a number");
  if (spec && spec->type == ParamType::kBool) {
    if (v == "true") return true;
    if (v == "false") return false;
    throw ConfigError(fmt::format("--set {}: expected true or false", kv));
  }
  return v;
}

}  // namespace

Command add_synth_command(CLI::App& app) {
  struct State {
    std::string out;
    std::vector<std::string> sets;
    std::string kind, source;
    std::string labels_from;
  };
  auto st = std::make_shared<State>();
  const DatasetRegistry& reg = builtins().datasets;
  const std::vector<std::string> names = synthetic_source_names(reg);
  auto* sub = app.add_subcommand(
      "synth", fmt::format("Write a seeded synthetic dataset from a registered synthetic source "
                           "(parameters: `vlb describe NAME`). Sources: {}",
                           fmt::join(names, ", ")));
  const std::string command = sub->get_name();
  sub->add_option("kind", st->kind,
                  "the source, as --source; the `" + command + "_` prefix may be left out");
  sub->add_option("--source", st->source, "registered synthetic source (default: " + command + ")");
  sub->add_option("--out", st->out, "output .h5 file")->required();
  sub->add_option("--set", st->sets, "generator parameter NAME=VALUE (repeatable)");
  std::vector<std::string> with_labels;
  for (const auto& n : names)
    if (reg.get(n).schema.find("labels_from")) with_labels.push_back(n);
  sub->add_option("--labels-from", st->labels_from,
                  fmt::format("sources with a labels_from parameter ({}): take the label matrix "
                              "from a real benchmark (see `vlb describe` for the choices; read "
                              "from --set data_dir=...), every row unless --set "
                              "train_images/test_images ask for fewer",
                              fmt::join(with_labels, ", ")));
  return {sub, [st, &reg, names, command] {
    if (!st->kind.empty() && !st->source.empty())
      throw ConfigError("give the source once: `vlb " + command + " " + st->kind +
                        "` or --source " + st->source);
    const std::string& asked = st->source.empty() ? st->kind : st->source;
    // `vlb synth` alone is the source named like the command; `vlb synth X` is X or synth_X.
    std::string name = asked.empty() ? command : asked;
    if (!reg.contains(name) && reg.contains(command + "_" + name)) name = command + "_" + name;
    if (!reg.contains(name) || !is_synthetic(reg.get(name))) {
      std::vector<std::string> candidates = names;
      for (const auto& n : names)
        if (n.rfind(command + "_", 0) == 0) candidates.push_back(n.substr(command.size() + 1));
      std::string msg = reg.contains(name)
                            ? fmt::format("dataset source '{}' is not synthetic", name)
                            : fmt::format("unknown synthetic source '{}'", name);
      std::string hint = did_you_mean(asked, candidates);
      if (!hint.empty()) msg += "; " + hint;
      throw ConfigError(fmt::format("{} (synthetic sources: {})", msg, fmt::join(names, ", ")));
    }
    // The registered source's schema, so `vlb synth` and spec files accept the same parameters.
    const auto& entry = reg.get(name);
    Params p = entry.schema.defaults();
    if (!st->labels_from.empty()) {
      if (!entry.schema.find("labels_from"))
        throw ConfigError("--labels-from: source '" + name + "' has no labels_from parameter");
      try {
        p.set("labels_from", entry.schema.check("labels_from", st->labels_from));
      } catch (const ConfigError& e) {
        throw ConfigError("--labels-from " + st->labels_from + ": " + e.what());
      }
      // A real label matrix: every row unless --set asks for a subset.
      for (const char* k : {"train_images", "test_images"})
        if (entry.schema.find(k)) p.set(k, int64_t{0});
    }
    for (const auto& kv : st->sets) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw ConfigError("--set " + kv + ": expected NAME=VALUE");
      std::string k = kv.substr(0, eq);
      ParamValue val = parse_as(entry.schema.find(k), kv, kv.substr(eq + 1));
      try {
        p.set(k, entry.schema.check(k, val));
      } catch (const ConfigError& e) {
        throw ConfigError("--set " + kv + ": " + e.what());
      }
    }
    Dataset ds = generate_synthetic(entry, p);
    write_dataset(ds, st->out);
    std::cerr << fmt::format("vlb synth: wrote {} ({} {}: {} images, {} classes, fingerprint {})\n",
                             st->out, name, entry.version, ds.num_images(), ds.num_classes(),
                             ds.fingerprint.substr(0, 16));
    return kExitOk;
  }};
}

Command add_inspect_command(CLI::App& app) {
  struct State {
    std::string file;
    bool verify = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand("inspect", "Print what a feature file holds");
  sub->add_option("file", st->file, "schema-v1 HDF5 file")->required();
  sub->add_flag("--verify", st->verify, "recompute the content fingerprint and compare");
  return {sub, [st] {
    std::cout << describe_file(st->file);
    if (st->verify) {
      Dataset ds = read_dataset(st->file);
      std::string actual = compute_fingerprint(st->file);
      if (actual != ds.fingerprint)
        throw DataError(st->file, "content_sha256",
                        fmt::format("stored {} but the contents hash to {}", ds.fingerprint, actual));
      std::cout << "fingerprint verified: " << actual << "\n";
    }
    return kExitOk;
  }};
}

}  // namespace vlb::cli
