// From expanded run configurations to a plan: the canonical config.resolved.yaml text, the run
// key that names each run's directory (experiments/SPEC.md "Run key"), and the datasets, loaded
// once each, whose fingerprints the keys hash.
#include "vlb/experiments/spec.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "select_detail.h"
#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/experiments/needs.h"

namespace vlb {
namespace {

std::string float_text(double d) {
  std::string s = fmt::format("{}", d);  // shortest round-trip
  // Keep floats visibly floats in YAML ("1.0", not "1").
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

void emit_params(YAML::Emitter& y, const Params& p) {
  y << YAML::BeginMap;
  for (const auto& [k, v] : p.values()) {  // std::map: sorted
    y << YAML::Key << k << YAML::Value;
    if (auto i = std::get_if<int64_t>(&v)) {
      y << *i;
    } else if (auto d = std::get_if<double>(&v)) {
      y << float_text(*d);
    } else if (auto b = std::get_if<bool>(&v)) {
      y << (*b ? "true" : "false");
    } else {
      y << YAML::DoubleQuoted << std::get<std::string>(v);
    }
  }
  y << YAML::EndMap;
}

nlohmann::json params_json(const Params& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : p.values()) {
    std::visit([&](const auto& x) { j[k] = x; }, v);
  }
  return j;
}

}  // namespace

std::string resolved_config_yaml(const RunConfig& c) {
  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "ablation" << YAML::Value << YAML::DoubleQuoted << c.ablation;
  y << YAML::Key << "dataset" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "eval_split" << YAML::Value << c.eval_split;
  if (!c.dataset_name.empty()) y << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << c.dataset_name;
  y << YAML::Key << "params" << YAML::Value;
  emit_params(y, c.dataset_params);
  y << YAML::Key << "shots" << YAML::Value << c.shots;
  y << YAML::Key << "source" << YAML::Value << c.dataset_source;
  y << YAML::Key << "train_split" << YAML::Value << c.train_split;
  y << YAML::EndMap;
  y << YAML::Key << "experiment" << YAML::Value << c.experiment;
  y << YAML::Key << "method" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << c.method;
  y << YAML::Key << "params" << YAML::Value;
  emit_params(y, c.method_params);
  y << YAML::EndMap;
  y << YAML::Key << "metrics" << YAML::Value << YAML::BeginSeq;
  for (const auto& m : c.metrics) {
    if (m.params.values().empty()) {
      y << m.name;
    } else {
      y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << m.name;
      y << YAML::Key << "params" << YAML::Value;
      emit_params(y, m.params);
      y << YAML::EndMap;
    }
  }
  y << YAML::EndSeq;
  y << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "predictions" << YAML::Value << c.predictions;
  y << YAML::Key << "predictions_max_mb" << YAML::Value << float_text(c.predictions_max_mb);
  y << YAML::Key << "predictions_topk" << YAML::Value << c.predictions_topk;
  y << YAML::Key << "seed" << YAML::Value << c.seed;
  if (c.device != "cpu") y << YAML::Key << "device" << YAML::Value << c.device;
  // No threads: they change no number, and reports pivot on every setting that varies between
  // runs, so runs of one plan done at different thread counts must not look different here.
  y << YAML::EndMap;
  if (c.select.active) {  // only then: runs of specs without select keep their files
    y << YAML::Key << "select" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "metric" << YAML::Value << c.select.metric;
    y << YAML::Key << "over" << YAML::Value << YAML::Flow << c.select.over;
    if (!c.select.split.empty()) {
      y << YAML::Key << "split" << YAML::Value << c.select.split;
    } else {
      y << YAML::Key << "val_shots" << YAML::Value;
      if (c.select.val_shots == kValShotsFromShots)
        y << "shots";
      else
        y << c.select.val_shots;
    }
    y << YAML::EndMap;
  }
  y << YAML::EndMap;
  return std::string(y.c_str()) + "\n";
}

// Note [Run key contents]: the key hashes what determines a run's numbers: the dataset's content
// fingerprint (not its params or path, so the same bytes reached two ways share runs), the
// component names, versions and typed params, seed and ablation. The git SHA is recorded in
// env.json but not hashed: a comment edit must not invalidate every result. Threads are not
// hashed either (since vlb-runkey/2): results do not depend on the thread count (the e2e tests
// run the same plan at several counts and compare bit for bit), so a run done at 1 thread is
// the same run at 4, and `--jobs` may divide the cores without redoing anything. Runs keyed
// under vlb-runkey/1 (which hashed threads) are redone once.
std::string run_key_json(const RunConfig& c, const std::string& fingerprint,
                         const Registries& reg) {
  nlohmann::json j;
  j["harness"] = "vlb-runkey/2";
  j["dataset_fingerprint"] = fingerprint;
  j["train_split"] = c.train_split;
  j["eval_split"] = c.eval_split;
  j["shots"] = c.shots;
  j["dataset_source"] = c.dataset_source;
  j["dataset_source_version"] = reg.datasets.get(c.dataset_source).version;
  j["method"] = c.method;
  j["method_version"] = reg.methods.get(c.method).version;
  j["method_params"] = params_json(c.method_params);
  nlohmann::json ms = nlohmann::json::array();
  for (const auto& m : c.metrics)
    ms.push_back({{"name", m.name},
                  {"version", reg.metrics.get(m.name).version},
                  {"params", params_json(m.params)}});
  j["metrics"] = ms;
  j["seed"] = c.seed;
  j["ablation"] = c.ablation;
  // GPU kernels round differently: a run on one is another run. CPU keys are as before devices.
  if (c.device != "cpu") j["device"] = c.device;
  // Note [Select in the run key]: a run with select also predicts on its selection rows and
  // records the protocol its report applies, so every select setting is hashed; without select
  // (absent or `none`) the key is what it was before selection existed.
  if (c.select.active) j["select"] = select_detail::select_key_json(c.select);
  return j.dump();  // nlohmann::json objects are std::map-backed: keys come out sorted
}

std::string dataset_display_name(const RunConfig& c, const Dataset& ds) {
  if (!c.dataset_name.empty()) return c.dataset_name;
  if (!ds.name.empty()) return ds.name;
  if (!ds.path.empty()) return std::filesystem::path(ds.path).stem().string();
  return c.dataset_source;
}

std::string run_key(const RunConfig& c, const std::string& fingerprint, const Registries& reg) {
  return sha256_hex(run_key_json(c, fingerprint, reg));
}

Plan make_plan(const std::string& spec_path, const RunOptions& opts, const Registries& reg) {
  ExpandedSpec spec = expand_spec(spec_path, opts.overrides, reg);
  Plan plan;
  plan.spec_threads = spec.threads;
  plan.threads = choose_threads(spec.threads, opts.threads, opts.jobs);
  plan.experiment = spec.experiment;
  plan.spec_path = spec_path;
  plan.experiment_dir = opts.results_root + "/" + spec.experiment;
  plan.overrides = opts.overrides;
  SourceContext sctx;
  sctx.cache_dir = opts.results_root + "/.cache";
  // Loading is what gives the fingerprint, so each distinct dataset is loaded once per sweep.
  std::map<std::string, std::shared_ptr<const Dataset>> loaded;
  for (size_t i = 0; i < spec.runs.size(); ++i) {
    const RunConfig& c = spec.runs[i];
    std::string id = c.dataset_source + "\n" + params_json(c.dataset_params).dump();
    auto it = loaded.find(id);
    if (it == loaded.end()) {
      auto source = reg.datasets.create(c.dataset_source, c.dataset_params);
      auto ds = std::make_shared<Dataset>(source->load(sctx));
      if (ds->fingerprint.empty())
        throw Error("dataset source '" + c.dataset_source + "' returned no fingerprint");
      it = loaded.emplace(id, std::move(ds)).first;
    }
    PlannedRun r;
    r.index = i;
    r.config = c;
    r.dataset = it->second;
    r.key = run_key(c, r.dataset->fingerprint, reg);
    plan.runs.push_back(std::move(r));
  }
  // Every missing input of every (method, dataset) at once, before a run directory is written.
  validate_plan(plan, reg);
  select_detail::check_selection(plan, spec.select);
  return plan;
}

}  // namespace vlb
