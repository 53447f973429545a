// `vlb rescore` (rescore.h): each run's configuration from its config.resolved.yaml, its
// dataset through the registries as the plan loads it, its Prediction from predictions.h5, and
// the metrics recomputed on exactly the Targets the runner built.
#include "vlb/experiments/rescore.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "vlb/core/error.h"
#include "vlb/experiments/predictions.h"
#include "vlb/experiments/yaml_reader.h"
#include "vlb/metrics/metric.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace vlb {
namespace {

using yamlr::Node;

/// What a rescore needs of config.resolved.yaml.
struct ResolvedRun {
  std::string dataset_source, eval_split, method;
  Params dataset_params;
  std::vector<std::pair<std::string, Params>> metrics;  // name, every parameter
};

Params typed_params(const Node* n, const ParamSchema& schema, const std::string& owner) {
  Params out = schema.defaults();
  if (!n || n->kind == Node::Kind::kNull) return out;
  yamlr::expect_map(*n);
  for (const auto& e : n->map) {
    if (!schema.find(e.key))
      yamlr::fail_at(e.key_loc, n->path + "." + e.key,
                     owner + " has no parameter '" + e.key + "' any more");
    try {
      out.set(e.key, schema.check(e.key, yamlr::to_param_value(e.value, schema.find(e.key)->type)));
    } catch (const ConfigError& err) {
      yamlr::fail(e.value, err.what());
    }
  }
  return out;
}

ResolvedRun read_resolved(const std::string& path, const Registries& reg) {
  if (!fs::is_regular_file(path)) throw DataError(path, "", "file not found (not a run directory?)");
  Node root = yamlr::load_file(path);
  yamlr::assign_paths(root, "");
  ResolvedRun r;
  const Node& ds = yamlr::expect_map(yamlr::require(root, "dataset"));
  const Node& src = yamlr::require(ds, "source");
  r.dataset_source = yamlr::as_string(src);
  if (!reg.datasets.contains(r.dataset_source)) yamlr::fail(src, "unknown dataset source '" + r.dataset_source + "'");
  r.dataset_params = typed_params(ds.find("params"), reg.datasets.get(r.dataset_source).schema,
                                  "dataset source '" + r.dataset_source + "'");
  r.eval_split = yamlr::as_string(yamlr::require(ds, "eval_split"));
  const Node& m = yamlr::expect_map(yamlr::require(root, "method"));
  const Node& mname = yamlr::require(m, "name");
  r.method = yamlr::as_string(mname);
  if (!reg.methods.contains(r.method)) yamlr::fail(mname, "unknown method '" + r.method + "'");
  for (const auto& item : yamlr::expect_seq(yamlr::require(root, "metrics"), false).seq) {
    const Node* name = &item;
    const Node* params = nullptr;
    if (item.kind == Node::Kind::kMap) {
      name = &yamlr::require(item, "name");
      params = item.find("params");
    }
    std::string n = yamlr::as_string(*name);
    if (!reg.metrics.contains(n)) yamlr::fail(*name, "unknown metric '" + n + "'");
    r.metrics.emplace_back(n, typed_params(params, reg.metrics.get(n).schema, "metric '" + n + "'"));
  }
  return r;
}

json read_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw DataError(path, "", "cannot read");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw DataError(path, "", std::string("not valid JSON: ") + e.what());
  }
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::vector<std::string> task_tags(const std::vector<std::string>& tags) {
  std::vector<std::string> out;
  for (const auto& t : tags)
    if (t.rfind("task:", 0) == 0) out.push_back(t);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Note [rescoring top-k runs]: a top-k file keeps each row's k best classes in rank order, which
// fixes every rank below k exactly (to_prediction). Metrics that only ask "is the true class
// ranked below k" (k <= stored k) or "which class is first" are exact; anything that reads score
// values or ranks further down (GZSL calibration, mAP, retrieval over dense scores) is not.
int64_t ranks_needed(const std::string& metric, const Params& p, const StoredPredictions& sp) {
  if (metric == "top1" || metric == "mean_per_class") return 1;
  if (metric == "top5") return 5;
  if (metric == "topk") return p.get_int("k");
  for (const char* ov : {"cacc", "sacc", "nmi", "ari", "name_exact"})
    if (metric == ov) return 1;
  // Group and retrieval metrics read the embeddings when both are stored.
  if (sp.aux.count("image_emb") && sp.aux.count("text_emb")) return 0;
  return -1;
}

struct Planned {
  std::string dir, key16, label;
  json metrics_json;
  std::vector<std::string> lines;
  std::map<std::string, std::pair<double, bool>> added;  // value name -> value, higher is better
  bool reproduced = true;
};

}  // namespace

RescoreSummary rescore_experiment(const std::string& experiment_dir, const RescoreOptions& opts,
                                  const Registries& reg, std::ostream& out) {
  if (!fs::is_directory(experiment_dir))
    throw DataError(experiment_dir, "", "not a results directory");
  for (const auto& m : opts.extra_metrics) reg.metrics.get(m);  // unknown name: did-you-mean error
  RescoreSummary sum;
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(experiment_dir)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && name.size() == 16 && name.find_first_not_of("0123456789abcdef") == std::string::npos &&
        fs::exists(e.path() / "metrics.json"))
      dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  SourceContext sctx;
  sctx.cache_dir = (fs::path(experiment_dir).lexically_normal().parent_path() / ".cache").string();
  std::map<std::string, std::shared_ptr<const Dataset>> datasets;

  // Phase 1: recompute everything; any bad input throws before a file is touched.
  std::vector<Planned> planned;
  for (const auto& dir : dirs) {
    const std::string mpath = dir + "/metrics.json";
    json mj = read_json(mpath);
    const std::string key = mj.value("run_key", "");
    if (mj.value("status", "") != "ok" || (opts.keys && !opts.keys->count(key))) {
      ++sum.skipped;
      continue;
    }
    const std::string ppath = dir + "/predictions.h5";
    if (!fs::exists(ppath))
      throw DataError(dir, "", "run has no predictions.h5 (ran with runtime.predictions: none or "
                               "before predictions were kept): rerun with --force");
    ResolvedRun rr = read_resolved(dir + "/config.resolved.yaml", reg);
    StoredPredictions sp = read_predictions(ppath);
    if (sp.run_key != key)
      throw DataError(ppath, "/@run_key", fmt::format("belongs to run {}, not to this run {}",
                                                      sp.run_key.substr(0, 16), key.substr(0, 16)));

    std::string id = rr.dataset_source;
    for (const auto& [k, v] : rr.dataset_params.values()) id += "\n" + k + "=" + format_value(v);
    auto it = datasets.find(id);
    if (it == datasets.end()) {
      auto ds = std::make_shared<Dataset>(
          reg.datasets.create(rr.dataset_source, rr.dataset_params)->load(sctx));
      it = datasets.emplace(id, std::move(ds)).first;
    }
    const Dataset& ds = *it->second;
    const std::string stored_fp = mj.value("dataset_fingerprint", "");
    if (ds.fingerprint != stored_fp || sp.dataset_fingerprint != stored_fp)
      throw DataError(mpath, "dataset_fingerprint",
                      fmt::format("the run saw dataset {} but source '{}' now gives {}: the data "
                                  "changed, so its metrics cannot be recomputed (rerun with --force)",
                                  stored_fp.substr(0, 16), rr.dataset_source,
                                  ds.fingerprint.substr(0, 16)));
    DataView eval = make_view(ds, rr.eval_split);
    if (!eval.rows.equal(sp.rows))
      throw DataError(ppath, "/rows", fmt::format("the stored rows are not split '{}' of the dataset",
                                                  rr.eval_split));
    Targets targets{eval.label(), eval.labels(), ds.num_classes(), &ds, eval.rows};
    Prediction pred = to_prediction(sp);

    // The run's own metrics, then the requested ones (default params) it does not list.
    const auto method_tasks = task_tags(reg.methods.get(rr.method).tags);
    auto todo = rr.metrics;
    std::set<std::string> own;
    for (const auto& m : rr.metrics) own.insert(m.first);
    for (const auto& name : opts.extra_metrics) {
      if (own.count(name)) continue;
      const auto mt = task_tags(reg.metrics.get(name).tags);
      bool fits = mt.empty();
      for (const auto& t : mt) fits |= std::find(method_tasks.begin(), method_tasks.end(), t) != method_tasks.end();
      if (!fits)
        throw ConfigError(fmt::format("{}: --metrics {}: metric '{}' scores {} but the run's method "
                                      "'{}' is {}", dir, name, name, join(mt), rr.method,
                                      join(method_tasks)));
      todo.emplace_back(name, reg.metrics.get(name).schema.defaults());
      own.insert(name);
    }

    Planned pl;
    pl.dir = dir;
    pl.key16 = key.substr(0, 16);
    pl.label = rr.method;
    const json& stored = mj.contains("metrics") ? mj["metrics"] : json::object();
    std::set<std::string> seen_values;
    for (const auto& [name, params] : todo) {
      if (sp.mode == "topk") {
        int64_t need = ranks_needed(name, params, sp);
        const int64_t have = sp.topk_ids.size(1);
        if (need < 0 || need > have)
          throw DataError(ppath, "/topk",
                          fmt::format("metric '{}' needs {} but this run kept only the top {} of "
                                      "each row (runtime.predictions topk, or auto above "
                                      "predictions_max_mb): rerun with runtime.predictions: full "
                                      "--force",
                                      name, need < 0 ? std::string("the full scores")
                                                     : fmt::format("the top {}", need),
                                      have));
      }
      auto metric = reg.metrics.create(name, params);
      metric->reset();
      metric->update(pred, targets);
      for (const auto& v : metric->compute()) {
        seen_values.insert(v.name);
        if (stored.contains(v.name)) {
          const json& w = stored[v.name];
          const double was = w.is_number() ? w.get<double>() : std::nan("");
          if (!w.is_number()) {
            pl.reproduced = false;
            pl.lines.push_back(fmt::format("{} stored {} recomputed {}", v.name, w.dump(), v.value));
          } else if (!same_bits(was, v.value)) {
            pl.reproduced = false;
            pl.lines.push_back(fmt::format("{} stored {} recomputed {}", v.name, was, v.value));
          }
        } else {
          pl.added[v.name] = {v.value, v.higher_is_better};
        }
      }
    }
    for (const auto& item : stored.items()) {
      if (seen_values.count(item.key())) continue;
      pl.reproduced = false;
      pl.lines.push_back(fmt::format("{} stored but no metric recomputes it", item.key()));
    }
    pl.metrics_json = std::move(mj);
    planned.push_back(std::move(pl));
  }

  // Phase 2: report, and add the new values (existing values are never rewritten).
  for (auto& pl : planned) {
    ++sum.runs;
    std::string line = fmt::format("{} {}: ", pl.key16, pl.label);
    if (pl.reproduced) {
      ++sum.identical;
      line += "identical";
    } else {
      ++sum.not_reproduced;
      line += "DIFFERS: " + join(pl.lines);
    }
    if (!pl.added.empty()) {
      json& mj = pl.metrics_json;
      std::vector<std::string> names;
      for (const auto& [name, v] : pl.added) {
        mj["metrics"][name] = v.first;
        mj["higher_is_better"][name] = v.second;
        names.push_back(fmt::format("{} = {}", name, v.first));
      }
      const fs::path final_path = fs::path(pl.dir) / "metrics.json";
      const fs::path tmp = fs::path(pl.dir) / fmt::format(".metrics.json.rescore-{}", getpid());
      {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << mj.dump(2) << "\n";
        f.flush();
        if (!f) throw DataError(tmp.string(), "", "write failed");
      }
      fs::rename(tmp, final_path);
      sum.added += static_cast<int>(pl.added.size());
      line += "; added " + join(names);
    }
    out << line << "\n";
  }
  out << fmt::format("{}: {} runs rescored: {} identical, {} not reproduced, {} values added{}\n",
                     experiment_dir, sum.runs, sum.identical, sum.not_reproduced, sum.added,
                     sum.skipped ? fmt::format(" ({} skipped: failed or not in the current plan)",
                                               sum.skipped)
                                 : std::string());
  return sum;
}

}  // namespace vlb
