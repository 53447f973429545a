// Spec loading and validation, and its expansion into one RunConfig per run (experiments/SPEC.md);
// plan.cpp turns those into a keyed plan.
#include "vlb/experiments/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "device.h"
#include "select_detail.h"
#include "vlb/core/error.h"
#include "vlb/experiments/yaml_reader.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

using yamlr::Loc;
using yamlr::Node;
using Kind = yamlr::Node::Kind;

constexpr int kMaxIncludeDepth = 16;

// ---- Loading: includes, then overrides ---------------------------------------------------------

Node load_with_includes(const std::string& path, std::vector<std::string>& stack) {
  Node own = yamlr::load_file(path);
  if (own.kind != Kind::kMap) yamlr::fail(own, "a spec must be a map, got " + yamlr::describe(own));
  const Node* inc = own.find("include");
  if (!inc) return own;

  std::vector<const Node*> items;
  if (inc->kind == Kind::kScalar) {
    items.push_back(inc);
  } else if (inc->kind == Kind::kSeq) {
    for (const auto& it : inc->seq) items.push_back(&it);
  } else {
    yamlr::fail(*inc, "expected a path or a list of paths, got " + yamlr::describe(*inc));
  }
  Node merged;
  merged.kind = Kind::kMap;
  merged.loc = own.loc;
  fs::path dir = fs::path(path).parent_path();
  for (const Node* item : items) {
    std::string rel = yamlr::as_string(*item);
    std::string full = (fs::path(rel).is_absolute() ? fs::path(rel) : dir / rel).lexically_normal();
    if (std::find(stack.begin(), stack.end(), full) != stack.end())
      yamlr::fail(*item, "include cycle through '" + full + "'");
    if (static_cast<int>(stack.size()) >= kMaxIncludeDepth) yamlr::fail(*item, "includes nest too deep");
    if (!fs::is_regular_file(full)) yamlr::fail(*item, "included file '" + full + "' not found");
    stack.push_back(full);
    yamlr::merge_into(merged, load_with_includes(full, stack));
    stack.pop_back();
  }
  // The including file wins over its fragments.
  Node rest = own;
  rest.map.erase(std::remove_if(rest.map.begin(), rest.map.end(),
                                [](const yamlr::MapEntry& e) { return e.key == "include"; }),
                 rest.map.end());
  yamlr::merge_into(merged, rest);
  return merged;
}

// ---- Parameters ---------------------------------------------------------------------------------

// ParamSchema::check messages repeat the name ("l2 = -1 is ..."); the location already says it.
std::string strip_name(const std::string& msg, const std::string& name) {
  for (const std::string& prefix : {name + " = ", name + ": "})
    if (msg.rfind(prefix, 0) == 0) return msg.substr(prefix.size());
  return msg;
}

ParamValue check_param(const ParamSchema& schema, const std::string& name, const Node& value) {
  const ParamSpec* spec = schema.find(name);
  ParamValue v = yamlr::to_param_value(value, spec->type);
  try {
    return schema.check(name, v);
  } catch (const ConfigError& e) {
    yamlr::fail(value, strip_name(e.what(), name));
  }
}

[[noreturn]] void fail_unknown_param(const ParamSchema& schema, const std::string& name,
                                     const Loc& at, const std::string& path,
                                     const std::string& owner) {
  try {
    schema.check(name, ParamValue{});
  } catch (const ConfigError& e) {
    yamlr::fail_at(at, path, owner + ": " + e.what());
  }
  yamlr::fail_at(at, path, owner + ": unknown parameter '" + name + "'");
}

Params resolve_params(const Node* params, const ParamSchema& schema, const std::string& owner) {
  Params out = schema.defaults();
  if (!params || params->kind == Kind::kNull) return out;
  yamlr::expect_map(*params);
  for (const auto& e : params->map) {
    if (!schema.find(e.key))
      fail_unknown_param(schema, e.key, e.key_loc,
                         params->path.empty() ? e.key : params->path + "." + e.key, owner);
    out.set(e.key, check_param(schema, e.key, e.value));
  }
  return out;
}

template <class T>
const RegistryEntry<T>& lookup(const Registry<T>& reg, const Node& name_node) {
  std::string name = yamlr::as_string(name_node);
  try {
    return reg.get(name);
  } catch (const ConfigError& e) {
    yamlr::fail(name_node, e.what());
  }
}

// ---- Sweeps -------------------------------------------------------------------------------------

struct Patch {
  std::vector<std::string> path;  // into the per-run tree
  const Node* value;
  std::string label;  // display name of the axis ("" = not shown)
};

struct Axis {
  std::vector<std::string> path;
  std::string label;
  const Node* values;  // a non-empty list
};

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

struct SweepContext {
  const Registries* reg;
  const ParamSchema* dataset_schema;
  std::string dataset_source;
  std::vector<std::pair<std::string, const ParamSchema*>> methods;  // name, schema
};

// Note [Sweep keys]: only leaves that a run's resolution reads can be swept; each key is checked
// here, at its own line, against every component it would apply to, so that a typo or a parameter
// one method lacks is reported before any run starts. Values are checked later, per run, exactly
// like the spec values they replace.
std::vector<std::string> check_sweep_key(const SweepContext& ctx, const std::string& key,
                                         const Loc& key_loc, const std::string& key_path) {
  std::vector<std::string> parts = split_dots(key);
  auto bad = [&](const std::string& why) {
    yamlr::fail_at(key_loc, key_path,
                   why + " (sweepable: dataset.params.<name>, dataset.train_split, dataset.shots, "
                         "dataset.eval_split, method.params.<name>)");
  };
  if (parts.size() == 3 && parts[0] == "dataset" && parts[1] == "params") {
    if (!ctx.dataset_schema->find(parts[2]))
      fail_unknown_param(*ctx.dataset_schema, parts[2], key_loc, key_path,
                         "dataset source '" + ctx.dataset_source + "'");
  } else if (parts.size() == 3 && parts[0] == "method" && parts[1] == "params") {
    for (const auto& [name, schema] : ctx.methods)
      if (!schema->find(parts[2]))
        fail_unknown_param(*schema, parts[2], key_loc, key_path, "method '" + name + "'");
  } else if (parts.size() == 2 && parts[0] == "dataset" &&
             (parts[1] == "train_split" || parts[1] == "eval_split" || parts[1] == "shots")) {
  } else if (parts.size() == 2 && parts[0] == "runtime" && parts[1] == "threads") {
    // Note [Threads are not swept]: the thread count changes no number (it is not in the run
    // key), so a threads axis or ablation would plan the same runs twice under one key.
    yamlr::fail_at(key_loc, key_path,
                   "runtime.threads cannot be swept: the thread count does not change results "
                   "(it is not part of the run key); set runtime.threads once, or pass --threads");
  } else {
    bad("'" + key + "' cannot be swept");
  }
  return parts;
}

std::vector<Axis> parse_axes(const Node& map, const SweepContext& ctx) {
  std::vector<Axis> axes;
  yamlr::expect_map(map);
  for (const auto& e : map.map) {
    std::string key_path = map.path + "." + e.key;
    Axis a;
    a.path = check_sweep_key(ctx, e.key, e.key_loc, key_path);
    a.label = a.path.back();
    a.values = &yamlr::expect_seq(e.value, true);
    axes.push_back(a);
  }
  return axes;
}

/// Cartesian product, last axis fastest.
std::vector<std::vector<Patch>> cartesian(const std::vector<Axis>& axes) {
  std::vector<std::vector<Patch>> out{{}};
  for (const auto& a : axes) {
    std::vector<std::vector<Patch>> next;
    for (const auto& prefix : out) {
      for (const auto& v : a.values->seq) {
        auto p = prefix;
        p.push_back(Patch{a.path, &v, a.label});
        next.push_back(std::move(p));
      }
    }
    out = std::move(next);
  }
  return out;
}

std::vector<std::vector<Patch>> zipped(const std::vector<Axis>& axes) {
  if (axes.empty()) return {{}};
  size_t n = axes[0].values->seq.size();
  std::vector<std::vector<Patch>> out(n);
  for (const auto& a : axes)
    for (size_t i = 0; i < n; ++i) out[i].push_back(Patch{a.path, &a.values->seq[i], a.label});
  return out;
}

void set_at(Node& tree, const std::vector<std::string>& path, const Node& value) {
  Node* cur = &tree;
  for (size_t i = 0; i < path.size(); ++i) {
    if (cur->kind != Kind::kMap) {  // checked before: only an empty `params:` gets here
      cur->kind = Kind::kMap;
      cur->map.clear();
    }
    Node* next = cur->find(path[i]);
    if (!next) {
      cur->map.push_back(yamlr::MapEntry{path[i], value.loc, Node{}});
      next = &cur->map.back().value;
      next->path = cur->path + "." + path[i];
    }
    cur = next;
  }
  *cur = value;  // keeps the value's own location and spec path for error messages
}

std::string display(const Node& n) {
  if (n.kind == Kind::kScalar) return n.scalar;
  return n.kind == Kind::kNull ? "null" : yamlr::describe(n);
}

// ---- Per-run resolution ---------------------------------------------------------------------------

/// The parts of a run read from its per-run tree {dataset, method, runtime}.
RunConfig resolve_tree(const Node& tree, const Registries& reg) {
  RunConfig cfg;
  const Node& ds = yamlr::expect_map(*tree.find("dataset"));
  yamlr::check_keys(ds, {"source", "name", "params", "train_split", "eval_split", "shots"});
  const Node& src = yamlr::require(ds, "source");
  if (const Node* n = ds.find("name")) {
    cfg.dataset_name = yamlr::as_string(*n);
    if (cfg.dataset_name.empty()) yamlr::fail(*n, "a dataset name may not be empty");
  }
  const auto& src_entry = lookup(reg.datasets, src);
  cfg.dataset_source = src_entry.name;
  cfg.dataset_params =
      resolve_params(ds.find("params"), src_entry.schema, "dataset source '" + src_entry.name + "'");
  if (const Node* n = ds.find("train_split")) cfg.train_split = yamlr::as_string(*n);
  if (const Node* n = ds.find("eval_split")) cfg.eval_split = yamlr::as_string(*n);
  if (const Node* n = ds.find("shots")) {
    cfg.shots = yamlr::as_int(*n);
    if (cfg.shots < 0) yamlr::fail(*n, fmt::format("{} is out of range [0, inf] (0 = all rows)", cfg.shots));
  }

  const Node& m = yamlr::expect_map(*tree.find("method"));
  yamlr::check_keys(m, {"name", "params", "grid"});
  const auto& m_entry = lookup(reg.methods, yamlr::require(m, "name"));
  cfg.method = m_entry.name;
  cfg.method_params = resolve_params(m.find("params"), m_entry.schema, "method '" + m_entry.name + "'");

  if (const Node* rt = tree.find("runtime")) {
    if (const Node* t = rt->find("threads")) {
      if (t->kind == Kind::kScalar && !t->quoted && t->scalar == "auto") {
        cfg.threads = kThreadsAuto;
      } else {
        if (t->kind != Kind::kScalar || t->quoted || t->scalar.empty() ||
            t->scalar.find_first_not_of("+-0123456789") != std::string::npos)
          yamlr::fail(*t, "expected auto or an integer, got " + yamlr::describe(*t));
        int64_t threads = yamlr::as_int(*t);
        if (threads < 1 || threads > 1024)
          yamlr::fail(*t, fmt::format("{} is out of range [1, 1024] (or auto)", threads));
        cfg.threads = static_cast<int>(threads);
      }
    }
    if (const Node* d = rt->find("device")) cfg.device = resolve_device(*d, m_entry);
    if (const Node* t = rt->find("train_together"))
      cfg.train_together = std::get<bool>(yamlr::to_param_value(*t, ParamType::kBool));
    if (const Node* p = rt->find("predictions")) {
      cfg.predictions = yamlr::as_string(*p);
      static const char* kModes[] = {"auto", "full", "topk", "none"};
      if (std::find(std::begin(kModes), std::end(kModes), cfg.predictions) == std::end(kModes))
        yamlr::fail(*p, "'" + cfg.predictions + "' is not one of auto, full, topk, none");
    }
    if (const Node* k = rt->find("predictions_topk")) {
      cfg.predictions_topk = yamlr::as_int(*k);
      if (cfg.predictions_topk < 1 || cfg.predictions_topk > 100000)
        yamlr::fail(*k, fmt::format("{} is out of range [1, 100000]", cfg.predictions_topk));
    }
    if (const Node* m = rt->find("predictions_max_mb")) {
      cfg.predictions_max_mb = std::get<double>(yamlr::to_param_value(*m, ParamType::kFloat));
      if (!(cfg.predictions_max_mb > 0))
        yamlr::fail(*m, fmt::format("{} is out of range (0, inf]", cfg.predictions_max_mb));
    }
  }
  return cfg;
}

// The experiment name is a directory name under the results root: besides the characters, its
// length must fit a file name (NAME_MAX is 255 on every common file system; the rest is margin
// for the temporaries made next to it).
constexpr size_t kMaxNameLength = 200;

void check_experiment_name(const Node& n) {
  static const std::regex re("[A-Za-z0-9_.-]+");
  std::string name = yamlr::as_string(n);
  if (!std::regex_match(name, re) || name[0] == '.')
    yamlr::fail(n, "'" + name + "' is not a valid experiment name (letters, digits, '_', '.', '-'; "
                   "not starting with '.')");
  if (name.size() > kMaxNameLength)
    yamlr::fail(n, fmt::format("an experiment name of {} characters is too long for a directory "
                               "name (at most {})",
                               name.size(), kMaxNameLength));
}

// Note [Plan size limit]: a grid of a few thousand values per axis is a few kilobytes of YAML but
// millions of runs; each run is a resolved config, so the count is checked (saturating) before
// a single one is built.
constexpr size_t kDefaultMaxRuns = 100000;

size_t max_runs_allowed() {
  const char* env = std::getenv("VLB_MAX_RUNS");
  if (!env || !*env) return kDefaultMaxRuns;
  char* end = nullptr;
  unsigned long long v = std::strtoull(env, &end, 10);
  if (*end != '\0' || v == 0)
    throw ConfigError(std::string("VLB_MAX_RUNS (or --max-runs): expected a positive integer, got '") +
                      env + "'");
  return static_cast<size_t>(v);
}

size_t saturating_mul(size_t a, size_t b) {
  size_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

size_t axes_points(const std::vector<Axis>& axes) {
  size_t n = 1;
  for (const auto& a : axes) n = saturating_mul(n, a.values->seq.size());
  return n;
}

}  // namespace

ExpandedSpec expand_spec(const std::string& spec_path, const std::vector<std::string>& overrides,
                         const Registries& reg) {
  std::vector<std::string> stack{fs::path(spec_path).lexically_normal().string()};
  Node root = load_with_includes(spec_path, stack);
  for (const auto& o : overrides) yamlr::apply_override(root, o);
  yamlr::assign_paths(root, "");

  yamlr::check_keys(root, {"experiment", "description", "include", "dataset", "methods", "metrics",
                           "runtime", "sweep", "ablations", "select"});
  ExpandedSpec out;
  out.spec_path = spec_path;
  const Node& exp = yamlr::require(root, "experiment");
  check_experiment_name(exp);
  out.experiment = exp.scalar;
  if (const Node* d = root.find("description")) out.description = yamlr::as_string(*d);

  // Metrics: names or {name, params}; resolved once (they are not sweepable).
  std::vector<MetricConfig> metrics;
  for (const auto& m : yamlr::expect_seq(yamlr::require(root, "metrics"), true).seq) {
    const Node* name_node = &m;
    const Node* params = nullptr;
    if (m.kind == Kind::kMap) {
      yamlr::check_keys(m, {"name", "params"});
      name_node = &yamlr::require(m, "name");
      params = m.find("params");
    } else if (m.kind != Kind::kScalar) {
      yamlr::fail(m, "expected a metric name or {name, params}, got " + yamlr::describe(m));
    }
    const auto& entry = lookup(reg.metrics, *name_node);
    for (const auto& prev : metrics)
      if (prev.name == entry.name) yamlr::fail(*name_node, "metric '" + entry.name + "' listed twice");
    metrics.push_back(MetricConfig{entry.name,
                                   resolve_params(params, entry.schema, "metric '" + entry.name + "'")});
  }

  const select_detail::Parsed select = select_detail::parse_select(root.find("select"), metrics, reg);
  out.select = select.spec;

  // Runtime: seeds here; threads and predictions are read per run (resolve_tree).
  std::vector<uint64_t> seeds{0};
  Node runtime;
  runtime.kind = Kind::kMap;
  runtime.path = "runtime";
  if (const Node* rt = root.find("runtime")) {
    yamlr::expect_map(*rt);
    yamlr::check_keys(*rt, {"threads", "seeds", "device", "train_together", "predictions",
                            "predictions_topk", "predictions_max_mb"});
    runtime = *rt;
    if (const Node* s = rt->find("seeds")) {
      seeds.clear();
      for (const auto& item : yamlr::expect_seq(*s, true).seq) {
        int64_t v = yamlr::as_int(item);
        if (v < 0) yamlr::fail(item, fmt::format("{} is out of range [0, inf]", v));
        seeds.push_back(static_cast<uint64_t>(v));
      }
    }
  }

  // Dataset and methods: the per-run trees' starting points.
  const Node& dataset = yamlr::expect_map(yamlr::require(root, "dataset"));
  const Node& methods = yamlr::expect_seq(yamlr::require(root, "methods"), true);
  SweepContext ctx;
  ctx.reg = &reg;
  {
    yamlr::check_keys(dataset, {"source", "name", "params", "train_split", "eval_split", "shots"});
    const auto& src = lookup(reg.datasets, yamlr::require(dataset, "source"));
    ctx.dataset_schema = &src.schema;
    ctx.dataset_source = src.name;
  }
  for (const auto& m : methods.seq) {
    yamlr::expect_map(m);
    yamlr::check_keys(m, {"name", "params", "grid"});
    const auto& entry = lookup(reg.methods, yamlr::require(m, "name"));
    ctx.methods.emplace_back(entry.name, &entry.schema);
  }
  select_detail::check_over_declared(select, ctx.methods);
  auto base_tree = [&](const Node& method) {
    Node t;
    t.kind = Kind::kMap;
    t.map.push_back({"dataset", dataset.loc, dataset});
    t.map.push_back({"method", method.loc, method});
    t.map.push_back({"runtime", runtime.loc, runtime});
    return t;
  };

  // Global sweep axes and ablations (keys checked against every method).
  std::vector<Axis> grid, zip;
  if (const Node* sw = root.find("sweep")) {
    yamlr::expect_map(*sw);
    yamlr::check_keys(*sw, {"grid", "zip"});
    if (const Node* g = sw->find("grid")) grid = parse_axes(*g, ctx);
    if (const Node* z = sw->find("zip")) {
      zip = parse_axes(*z, ctx);
      for (size_t i = 1; i < zip.size(); ++i) {
        if (zip[i].values->seq.size() != zip[0].values->seq.size())
          yamlr::fail(*zip[i].values,
                      fmt::format("zip lists must have equal lengths: '{}' has {} values, '{}' has {}",
                                  z->map[i].key, zip[i].values->seq.size(), z->map[0].key,
                                  zip[0].values->seq.size()));
      }
    }
  }
  std::vector<std::pair<std::string, std::vector<Patch>>> ablations{{"", {}}};
  if (const Node* ab = root.find("ablations")) {
    yamlr::expect_map(*ab);
    static const std::regex name_re("[A-Za-z0-9_.-]+");
    for (const auto& e : ab->map) {
      if (!std::regex_match(e.key, name_re))
        yamlr::fail_at(e.key_loc, ab->path + "." + e.key,
                       "ablation names use letters, digits, '_', '.', '-'");
      std::vector<Patch> patches;
      const Node& body = yamlr::expect_map(e.value);
      if (body.map.empty()) yamlr::fail(body, "an ablation needs at least one patched key");
      for (const auto& pe : body.map) {
        auto path = check_sweep_key(ctx, pe.key, pe.key_loc, body.path + "." + pe.key);
        // A swept key would silently overwrite the patch: the ablation would change nothing.
        for (const auto* axes : {&grid, &zip})
          for (const auto& a : *axes)
            if (a.path == path)
              yamlr::fail_at(pe.key_loc, body.path + "." + pe.key,
                             "'" + pe.key + "' is also swept (" + a.values->path +
                                 "); an ablation must patch a key the sweep leaves alone");
        patches.push_back(Patch{path, &pe.value, ""});
      }
      ablations.emplace_back(e.key, std::move(patches));
    }
  }
  {
    // Per-method grids are validated below; here only their lengths count.
    const size_t per_method = saturating_mul(
        saturating_mul(axes_points(grid), zip.empty() ? 1 : zip[0].values->seq.size()),
        saturating_mul(ablations.size(), seeds.size()));
    size_t total = 0;
    for (const auto& m : methods.seq) {
      size_t own = 1;
      if (const Node* g = m.find("grid"); g && g->kind == Kind::kMap)
        for (const auto& e : g->map)
          if (e.value.kind == Kind::kSeq) own = saturating_mul(own, e.value.seq.size());
      const size_t add = saturating_mul(own, per_method);
      total = total > SIZE_MAX - add ? SIZE_MAX : total + add;
    }
    const size_t limit = max_runs_allowed();
    if (total > limit) {
      const std::string count = total == SIZE_MAX ? std::string("more than 2^64") : fmt::format("{}", total);
      const Node* sw = root.find("sweep");
      yamlr::fail(sw ? *sw : root, fmt::format("the plan has {} runs, more than the limit of {} (methods x "
                                    "method grids x sweep grid x zip x ablations x seeds); shrink "
                                    "the sweep, or raise the limit with --max-runs N or VLB_MAX_RUNS",
                                    count, limit));
    }
  }
  auto global_points = cartesian(grid);
  auto zip_points = zipped(zip);

  for (size_t mi = 0; mi < methods.seq.size(); ++mi) {
    const Node& m = methods.seq[mi];
    // Base values are checked even when every run overrides them: a bad spec is a bad spec.
    RunConfig base = resolve_tree(base_tree(m), reg);

    std::vector<Axis> own;
    if (const Node* g = m.find("grid")) {
      yamlr::expect_map(*g);
      SweepContext one = ctx;
      one.methods = {ctx.methods[mi]};
      for (const auto& e : g->map) {
        if (!one.methods[0].second->find(e.key))
          fail_unknown_param(*one.methods[0].second, e.key, e.key_loc, g->path + "." + e.key,
                             "method '" + base.method + "'");
        own.push_back(Axis{{"method", "params", e.key}, e.key, &yamlr::expect_seq(e.value, true)});
        for (const auto& [ab_name, ab_patches] : ablations)
          for (const auto& p : ab_patches)
            if (p.path == own.back().path)
              yamlr::fail(*p.value, "ablation '" + ab_name + "' patches '" + e.key +
                                        "', which " + g->path + " sweeps for method '" +
                                        base.method + "'");
      }
    }
    SelectConfig sel;
    {
      std::vector<select_detail::ParamAxis> param_axes;
      for (const auto* axes : {&own, &grid, &zip})
        for (const auto& a : *axes)
          if (a.path.size() == 3 && a.path[0] == "method" && a.path[1] == "params")
            param_axes.push_back({a.path[2], a.values});
      sel.over = select_detail::over_for_method(select, base.method, *ctx.methods[mi].second, param_axes);
      sel.active = select.spec.mode == SelectSpec::Mode::kActive;
      if (sel.active) {
        sel.metric = select.spec.metric;
        sel.split = select.spec.split;
        sel.val_shots = select.spec.val_shots;
      }
    }
    for (const auto& mp : cartesian(own)) {
      for (const auto& [ab_name, ab_patches] : ablations) {
        for (const auto& gp : global_points) {
          for (const auto& zp : zip_points) {
            Node tree = base_tree(m);
            std::vector<std::pair<std::string, std::string>> swept;
            for (const auto* patches : {&mp, &ab_patches, &gp, &zp}) {
              for (const auto& p : *patches) {
                set_at(tree, p.path, *p.value);
                if (!p.label.empty()) swept.emplace_back(p.label, display(*p.value));
              }
            }
            RunConfig cfg = resolve_tree(tree, reg);
            cfg.experiment = out.experiment;
            cfg.metrics = metrics;
            cfg.ablation = ab_name;
            cfg.swept = swept;
            cfg.select = sel;
            for (uint64_t seed : seeds) {
              cfg.seed = seed;
              out.runs.push_back(cfg);
            }
          }
        }
      }
    }
  }
  out.threads = out.runs.empty() ? kThreadsAuto : out.runs.front().threads;  // one per spec
  return out;
}

}  // namespace vlb
