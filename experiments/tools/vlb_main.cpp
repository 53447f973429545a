// vlb — the command-line front end. Each subcommand is a thin layer over a library call.
// Exit codes: 0 ok, 1 regression found by `check`, 2 bad input (config, data, usage),
// 3 some runs of a sweep failed (each one is recorded in its run directory).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/datasets/convert.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/synth.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/runner.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

constexpr int kExitRegression = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitRunsFailed = 3;

ReportWriterRegistry& writers() {
  static ReportWriterRegistry r = [] {
    ReportWriterRegistry w("report writer");
    register_builtin_writers(w);
    return w;
  }();
  return r;
}

// ---- list / describe ----------------------------------------------------------------------

template <class T>
void list_registry(const Registry<T>& reg, std::ostream& out) {
  out << fmt::format("{}s:\n", reg.kind());
  for (const auto* e : reg.entries())
    out << fmt::format("  {:<16} v{:<3} {}\n", e->name, e->version, e->help);
}

std::string param_range(const ParamSpec& s) {
  if (!s.choices.empty()) {
    std::string c;
    for (size_t i = 0; i < s.choices.size(); ++i) c += (i ? "|" : "") + s.choices[i];
    return c;
  }
  if (!s.min && !s.max) return "";
  return fmt::format("[{}, {}]", s.min ? fmt::format("{}", *s.min) : "-inf",
                     s.max ? fmt::format("{}", *s.max) : "inf");
}

template <class T>
void describe_entry(const RegistryEntry<T>& e, const std::string& kind, std::ostream& out) {
  out << fmt::format("{} {} (version {})\n  {}\n", kind, e.name, e.version, e.help);
  if (!e.tags.empty()) {
    out << "  tags:";
    for (const auto& t : e.tags) out << " " << t;
    out << "\n";
  }
  if (e.schema.specs().empty()) {
    out << "  parameters: none\n";
    return;
  }
  out << "  parameters:\n";
  out << fmt::format("    {:<18} {:<7} {:<12} {:<16} {}\n", "name", "type", "default", "range",
                     "help");
  for (const auto& s : e.schema.specs()) {
    std::string def = format_value(s.default_value);
    if (def.empty()) def = "\"\"";
    out << fmt::format("    {:<18} {:<7} {:<12} {:<16} {}\n", s.name, to_string(s.type), def,
                       param_range(s), s.help);
  }
}

int cmd_describe(const std::string& name) {
  const Registries& r = builtins();
  bool found = false;
  if (r.methods.contains(name)) describe_entry(r.methods.get(name), "method", std::cout), found = true;
  if (r.metrics.contains(name)) describe_entry(r.metrics.get(name), "metric", std::cout), found = true;
  if (r.datasets.contains(name))
    describe_entry(r.datasets.get(name), "dataset source", std::cout), found = true;
  if (writers().contains(name))
    describe_entry(writers().get(name), "report writer", std::cout), found = true;
  if (found) return 0;
  std::vector<std::string> all;
  for (auto v : {r.methods.names(), r.metrics.names(), r.datasets.names(), writers().names()})
    all.insert(all.end(), v.begin(), v.end());
  std::string msg = "nothing named '" + name + "' is registered";
  std::string hint = did_you_mean(name, all);
  if (!hint.empty()) msg += "; " + hint;
  throw ConfigError(msg + " (see `vlb list`)");
}

// ---- report / check / bless ----------------------------------------------------------------

Leaderboard leaderboard_of(const std::string& dir, const std::string& primary) {
  if (!fs::is_directory(dir)) throw DataError(dir, "", "not a results directory");
  auto runs = load_runs(dir);
  if (runs.empty()) throw DataError(dir, "", "no run directories found (run `vlb run SPEC` first)");
  std::string name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(dir).lexically_normal().parent_path().filename().string();
  return build_leaderboard(runs, name, primary);
}

int cmd_report(const std::vector<std::string>& dirs, const std::string& primary,
               const std::vector<std::string>& formats, const std::string& out_dir, bool print) {
  for (const auto& dir : dirs) {
    Leaderboard lb = leaderboard_of(dir, primary);
    std::string target = out_dir.empty() ? dir : out_dir;
    for (const auto& f : formats) {
      const auto& w = writers().get(f);
      auto writer = w.factory(Params{});
      std::string path = (fs::path(target) / ("leaderboard." + writer->extension())).string();
      write_file_atomic(path, writer->render(lb));
      std::cerr << "vlb report: wrote " << path << "\n";
    }
    if (print) std::cout << writers().get("markdown").factory(Params{})->render(lb);
  }
  return 0;
}

int cmd_check(const std::string& baseline, const std::string& dir, const std::string& primary) {
  Leaderboard lb = leaderboard_of(dir, primary);
  CheckResult r = check_baseline(baseline, lb);
  std::cout << r.table_markdown;
  if (r.improvements > 0)
    std::cout << fmt::format("\n{} improvement(s) beyond tolerance: consider `vlb bless`.\n",
                             r.improvements);
  if (r.failures > 0) {
    std::cout << fmt::format("\nFAILED: {} regression(s) or missing result(s) against {}\n",
                             r.failures, baseline);
    return kExitRegression;
  }
  std::cout << fmt::format("\nOK: no regression against {}\n", baseline);
  return 0;
}

// ---- convert / synth / inspect -------------------------------------------------------------

NpySplit parse_split(const std::string& s) {
  // NAME:FEATURES.npy:LABELS.npy
  auto a = s.find(':');
  auto b = s.find(':', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos)
    throw ConfigError("--split " + s + ": expected NAME:FEATURES.npy:LABELS.npy");
  return {s.substr(0, a), s.substr(a + 1, b - a - 1), s.substr(b + 1)};
}

int cmd_synth(const std::string& out, const std::vector<std::string>& sets) {
  const auto& entry = builtins().datasets.get("synth");
  // Reuse the source's schema so `vlb synth` and spec files accept the same parameters.
  Params p = entry.schema.defaults();
  for (const auto& kv : sets) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw ConfigError("--set " + kv + ": expected NAME=VALUE");
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    const ParamSpec* spec = entry.schema.find(k);
    ParamValue val = v;
    if (spec && spec->type == ParamType::kInt) {
      try { size_t pos; val = static_cast<int64_t>(std::stoll(v, &pos)); if (pos != v.size()) throw 1; }
      catch (...) { throw ConfigError("--set " + kv + ": expected an integer"); }
    } else if (spec && spec->type == ParamType::kFloat) {
      try { size_t pos; val = std::stod(v, &pos); if (pos != v.size()) throw 1; }
      catch (...) { throw ConfigError("--set " + kv + ": expected a number"); }
    }
    try {
      p.set(k, entry.schema.check(k, val));
    } catch (const ConfigError& e) {
      throw ConfigError("--set " + kv + ": " + e.what());
    }
  }
  // Generate through the registered source (the same code path as `dataset: {source: synth}`),
  // in a scratch cache, then write the requested file.
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
  write_dataset(ds, out);
  std::cerr << fmt::format("vlb synth: wrote {} ({} images, {} classes, fingerprint {})\n", out,
                           ds.num_images(), ds.num_classes(), ds.fingerprint.substr(0, 16));
  return 0;
}

int cmd_inspect(const std::string& file, bool verify) {
  std::cout << describe_file(file);
  if (verify) {
    Dataset ds = read_dataset(file);
    std::string actual = compute_fingerprint(file);
    if (actual != ds.fingerprint) {
      throw DataError(file, "content_sha256",
                      fmt::format("stored {} but the contents hash to {}", ds.fingerprint, actual));
    }
    std::cout << "fingerprint verified: " << actual << "\n";
  }
  return 0;
}

bool interactive() { return isatty(2) && std::getenv("CI") == nullptr; }

int run_main(int argc, char** argv) {
  CLI::App app{"vlb — reproducible benchmarks of vision-language methods on precomputed features.\n"
               "Exit codes: 0 ok, 1 regression (check), 2 bad input, 3 failed runs."};
  app.set_version_flag("--version", VLB_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  // list
  auto* list = app.add_subcommand("list", "List registered methods, metrics, dataset sources, writers");
  std::string list_kind = "all";
  list->add_option("kind", list_kind, "methods | metrics | datasets | writers | all")
      ->check(CLI::IsMember({"methods", "metrics", "datasets", "writers", "all"}));

  // describe
  auto* describe = app.add_subcommand("describe", "Show a component's help, version, tags and parameters");
  std::string describe_name;
  describe->add_option("name", describe_name, "registered name (see `vlb list`)")->required();

  // run
  auto* run = app.add_subcommand("run", "Run an experiment spec (a sweep) into results/<experiment>/");
  std::string spec;
  RunOptions ropts;
  bool no_progress = false;
  run->add_option("spec", spec, "experiment spec (YAML)")->required();
  run->add_option("--set", ropts.overrides, "override a spec value: a.b=v (repeatable)");
  run->add_flag("--dry-run", ropts.dry_run, "print the plan (run keys, done/pending); run nothing");
  run->add_flag("--force", ropts.force, "rerun runs that are already complete");
  run->add_option("--results", ropts.results_root, "results root directory")->capture_default_str();
  run->add_option("--threads", ropts.threads, "override runtime.threads")->check(CLI::PositiveNumber);
  run->add_flag("--no-progress", no_progress, "no progress line");

  // report
  auto* report = app.add_subcommand("report", "Write the leaderboard (Markdown, CSV, JSON) of experiment results");
  std::vector<std::string> report_dirs;
  std::string primary, report_out;
  std::vector<std::string> formats{"markdown", "csv", "json"};
  bool print = false;
  report->add_option("dirs", report_dirs, "results/<experiment> directories")->required();
  report->add_option("--primary", primary, "primary metric (default cls/top1 if present)");
  report->add_option("--format", formats, "writers to use (see `vlb list writers`)")->delimiter(',')
      ->capture_default_str();
  report->add_option("--out", report_out, "write here instead of into each experiment directory");
  report->add_flag("--print", print, "also print the Markdown leaderboard");

  // check
  auto* check = app.add_subcommand("check", "Compare results with a baseline file; exit 1 on a regression");
  std::string baseline, check_dir;
  check->add_option("--baseline", baseline, "baseline JSON")->required();
  check->add_option("dir", check_dir, "results/<experiment>")->required();
  check->add_option("--primary", primary, "primary metric used to build the leaderboard");

  // bless
  auto* bless = app.add_subcommand("bless", "Rewrite a baseline's expected values from results (keeps tolerances and notes)");
  std::vector<std::string> bless_metrics;
  bool add_missing = false;
  bless->add_option("--baseline", baseline, "baseline JSON (created if absent)")->required();
  bless->add_option("dir", check_dir, "results/<experiment>")->required();
  bless->add_option("--metrics", bless_metrics, "metrics to add with --add-missing (comma-separated)")
      ->delimiter(',');
  bless->add_flag("--add-missing", add_missing, "add entries for cells not in the baseline yet");

  // convert
  auto* convert = app.add_subcommand("convert", "Convert features into a schema-v1 HDF5 file");
  convert->require_subcommand(1);
  auto* cnpy = convert->add_subcommand("npy", "From .npy features/labels per split + a class-name list");
  std::string npy_dir, classnames, text_features, text_classes, out_file, ds_name, feature_model;
  std::vector<std::string> split_args;
  cnpy->add_option("--dir", npy_dir, "a folder with <split>_features.npy, <split>_labels.npy, classnames.txt");
  cnpy->add_option("--split", split_args, "NAME:FEATURES.npy:LABELS.npy (repeatable; instead of --dir)");
  cnpy->add_option("--classnames", classnames, "class names, one per line (line i = label i)");
  cnpy->add_option("--text-features", text_features, "optional [T, D] .npy of text embeddings");
  cnpy->add_option("--text-classes", text_classes, "optional [T] .npy: class id of each text");
  cnpy->add_option("--out", out_file, "output .h5 file")->required();
  cnpy->add_option("--name", ds_name, "dataset name (default: the folder or output name)");
  cnpy->add_option("--feature-model", feature_model, "feature extractor, e.g. openai/ViT-B-32");

  // synth
  auto* synth = app.add_subcommand("synth", "Write the seeded synthetic dataset (see `vlb describe synth`)");
  std::vector<std::string> synth_sets;
  synth->add_option("--out", out_file, "output .h5 file")->required();
  synth->add_option("--set", synth_sets, "generator parameter NAME=VALUE (repeatable)");

  // inspect
  auto* inspect = app.add_subcommand("inspect", "Print what a feature file holds");
  std::string inspect_file;
  bool verify = false;
  inspect->add_option("file", inspect_file, "schema-v1 HDF5 file")->required();
  inspect->add_flag("--verify", verify, "recompute the content fingerprint and compare");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }

  if (*list) {
    const Registries& r = builtins();
    if (list_kind == "all" || list_kind == "methods") list_registry(r.methods, std::cout);
    if (list_kind == "all" || list_kind == "metrics") list_registry(r.metrics, std::cout);
    if (list_kind == "all" || list_kind == "datasets") list_registry(r.datasets, std::cout);
    if (list_kind == "all" || list_kind == "writers") list_registry(writers(), std::cout);
    return 0;
  }
  if (*describe) return cmd_describe(describe_name);
  if (*run) {
    ropts.progress = !no_progress && interactive();
    SweepSummary s = run_experiment(spec, ropts, builtins(), std::cout);
    return s.failed > 0 ? kExitRunsFailed : 0;
  }
  if (*report) return cmd_report(report_dirs, primary, formats, report_out, print);
  if (*check) return cmd_check(baseline, check_dir, primary);
  if (*bless) {
    bless_baseline(baseline, leaderboard_of(check_dir, primary), bless_metrics, add_missing);
    std::cerr << "vlb bless: updated " << baseline << "\n";
    return 0;
  }
  if (*cnpy) {
    ConvertNpyOptions o;
    if (!npy_dir.empty()) {
      if (!split_args.empty()) throw ConfigError("convert npy: give --dir or --split, not both");
      o = npy_options_from_directory(npy_dir);
    } else {
      if (split_args.empty()) throw ConfigError("convert npy: give --dir DIR or at least one --split");
      for (const auto& s : split_args) o.splits.push_back(parse_split(s));
    }
    if (!classnames.empty()) o.classnames = classnames;
    if (o.classnames.empty()) throw ConfigError("convert npy: --classnames is required without --dir");
    if (!text_features.empty()) o.text_features = text_features;
    if (!text_classes.empty()) o.text_classes = text_classes;
    o.output = out_file;
    if (!ds_name.empty()) o.dataset_name = ds_name;
    if (o.dataset_name.empty()) {
      fs::path base = npy_dir.empty() ? fs::path(out_file).stem() : fs::path(npy_dir).lexically_normal().filename();
      o.dataset_name = base.string();
    }
    if (!feature_model.empty()) o.feature_model = feature_model;
    Dataset ds = convert_npy(o);
    std::cerr << fmt::format("vlb convert: wrote {} ({} images, {} classes, splits:", out_file,
                             ds.num_images(), ds.num_classes());
    for (const auto& kv : ds.splits) std::cerr << " " << kv.first << "=" << kv.second.size(0);
    std::cerr << ")\n";
    return 0;
  }
  if (*synth) return cmd_synth(out_file, synth_sets);
  if (*inspect) return cmd_inspect(inspect_file, verify);
  return kExitBadInput;
}

}  // namespace
}  // namespace vlb

int main(int argc, char** argv) {
  try {
    return vlb::run_main(argc, argv);
  } catch (const vlb::Error& e) {
    std::cerr << "vlb: error: " << e.what() << "\n";
    return vlb::kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "vlb: error: " << e.what() << "\n";
    return vlb::kExitBadInput;
  }
}
