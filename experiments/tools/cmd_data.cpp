// `vlb synth` and `vlb inspect`: make and look at feature files.
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/experiments/builtins.h"

namespace fs = std::filesystem;

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
    std::string kind = "default";
    std::string labels_from;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "synth", "Write a seeded synthetic dataset: `vlb synth` (see `vlb describe synth`) or "
               "`vlb synth multilabel [--labels-from voc2007]` (see `vlb describe synth_multilabel`)");
  sub->add_option("kind", st->kind, "default | multilabel (feature maps + partial labels, SARL)")
      ->check(CLI::IsMember({"default", "multilabel"}));
  sub->add_option("--out", st->out, "output .h5 file")->required();
  sub->add_option("--set", st->sets, "generator parameter NAME=VALUE (repeatable)");
  sub->add_option("--labels-from", st->labels_from,
                  "multilabel: take the label matrix from a real benchmark (voc2007, read from "
                  "--set data_dir=..., default ../shared/data)");
  return {sub, [st] {
    // The registered source's schema, so `vlb synth` and spec files accept the same parameters.
    const bool ml = st->kind == "multilabel";
    if (!st->labels_from.empty() && !ml)
      throw ConfigError("--labels-from: only for `vlb synth multilabel`");
    const auto& entry = builtins().datasets.get(ml ? "synth_multilabel" : "synth");
    Params p = entry.schema.defaults();
    if (!st->labels_from.empty()) {
      try {
        p.set("labels_from", entry.schema.check("labels_from", st->labels_from));
      } catch (const ConfigError& e) {
        throw ConfigError("--labels-from " + st->labels_from + ": " + e.what());
      }
      // A real label matrix: every row unless --set asks for a subset.
      p.set("train_images", int64_t{0});
      p.set("test_images", int64_t{0});
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
    // Generate through the source (the code path of `dataset: {source: synth}`) in a scratch
    // cache, then write the requested file.
    fs::path scratch = fs::temp_directory_path() / fmt::format("vlb-synth-{}", getpid());
    SourceContext ctx;
    ctx.cache_dir = scratch.string();
    Dataset ds;
    try {
      ds = entry.factory(p)->load(ctx);
    } catch (...) {
      fs::remove_all(scratch);
      throw;
    }
    fs::remove_all(scratch);
    write_dataset(ds, st->out);
    std::cerr << fmt::format("vlb synth: wrote {} ({} images, {} classes, fingerprint {})\n",
                             st->out, ds.num_images(), ds.num_classes(), ds.fingerprint.substr(0, 16));
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
