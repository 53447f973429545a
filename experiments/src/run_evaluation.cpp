// A run's evaluation rebuilt from its directory (run_evaluation.h): config.resolved.yaml for the
// dataset, split and metrics, predictions.h5 for the Prediction, and the dataset itself through
// the registries, checked against the fingerprint and rows the run recorded.
#include "vlb/experiments/run_evaluation.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vlb/core/error.h"
#include "vlb/experiments/yaml_reader.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace vlb {
namespace {

using yamlr::Node;

/// What an evaluation needs of config.resolved.yaml.
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

}  // namespace

json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw DataError(path, "", "cannot read");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw DataError(path, "", std::string("not valid JSON: ") + e.what());
  }
}

std::shared_ptr<const Dataset> DatasetCache::get(const Registries& reg, const std::string& source,
                                                 const Params& params, const SourceContext& ctx) {
  std::string id = ctx.cache_dir + "\n" + source;
  for (const auto& [k, v] : params.values()) id += "\n" + k + "=" + format_value(v);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = loaded_.find(id);
  if (it == loaded_.end()) {
    auto ds = std::make_shared<const Dataset>(reg.datasets.create(source, params)->load(ctx));
    it = loaded_.emplace(id, std::move(ds)).first;
  }
  return it->second;
}

RunEvaluation load_run_evaluation(const std::string& run_dir, const Registries& reg,
                                  DatasetCache& datasets) {
  const fs::path dir = fs::path(run_dir).lexically_normal();
  const std::string mpath = (dir / "metrics.json").string();
  json mj = read_json_file(mpath);
  RunEvaluation ev;
  ev.dir = run_dir;
  ev.run_key = mj.value("run_key", "");
  const std::string ppath = (dir / "predictions.h5").string();
  if (!fs::exists(ppath))
    throw DataError(run_dir, "", "run has no predictions.h5 (ran with runtime.predictions: none or "
                                 "before predictions were kept): rerun with --force");
  ResolvedRun rr = read_resolved((dir / "config.resolved.yaml").string(), reg);
  ev.method = rr.method;
  ev.eval_split = rr.eval_split;
  ev.metrics = rr.metrics;
  ev.stored = read_predictions(ppath);
  const StoredPredictions& sp = ev.stored;
  if (sp.run_key != ev.run_key)
    throw DataError(ppath, "/@run_key", fmt::format("belongs to run {}, not to this run {}",
                                                    sp.run_key.substr(0, 16), ev.run_key.substr(0, 16)));

  // <results>/<experiment>/<run>: generated datasets live in <results>/.cache, as in the plan.
  SourceContext sctx;
  sctx.cache_dir = (dir.parent_path().parent_path() / ".cache").string();
  ev.dataset = datasets.get(reg, rr.dataset_source, rr.dataset_params, sctx);
  const Dataset& ds = *ev.dataset;
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
  ev.targets = Targets{eval.label(), eval.labels(), ds.num_classes(), &ds, eval.rows};
  ev.prediction = to_prediction(sp);
  return ev;
}

// Note [rescoring top-k runs]: a top-k file keeps each row's k best classes in rank order, which
// fixes every rank below k exactly (to_prediction). Metrics that only ask "is the true class
// ranked below k" (k <= stored k) or "which class is first" are exact; anything that reads score
// values or ranks further down (GZSL calibration, mAP, retrieval over dense scores) is not.
int64_t topk_ranks_needed(const std::string& metric, const Params& p, const StoredPredictions& sp) {
  if (metric == "top1" || metric == "mean_per_class") return 1;
  if (metric == "top5") return 5;
  if (metric == "topk") return p.get_int("k");
  for (const char* ov : {"cacc", "sacc", "nmi", "ari", "name_exact"})
    if (metric == ov) return 1;
  // Group and retrieval metrics read the embeddings when both are stored.
  if (sp.aux.count("image_emb") && sp.aux.count("text_emb")) return 0;
  return -1;
}

}  // namespace vlb
