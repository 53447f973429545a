// Reading run directories back: config.resolved.yaml (flattened) + metrics.json.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "selection_detail.h"
#include "vlb/reports/current_plan.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

std::string render_inline(const YAML::Node& n);

// Lists and maps nested inside a list are rendered inline, flow style, so the value stays one
// comparable string.
std::string render_inline(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return n.Scalar();
    case YAML::NodeType::Sequence: {
      std::string s = "[";
      bool first = true;
      for (const auto& item : n) {
        s += (first ? "" : ", ") + render_inline(item);
        first = false;
      }
      return s + "]";
    }
    case YAML::NodeType::Map: {
      std::string s = "{";
      bool first = true;
      for (const auto& kv : n) {
        s += (first ? "" : ", ") + kv.first.Scalar() + ": " + render_inline(kv.second);
        first = false;
      }
      return s + "}";
    }
    default:
      return "";  // null / undefined
  }
}

void flatten(const YAML::Node& n, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
      flatten(kv.second, key, out);
    }
    return;
  }
  out[prefix] = render_inline(n);
}

std::map<std::string, std::string> read_config(const std::string& file) {
  if (!fs::exists(file)) throw DataError(file, "", "missing (not a complete run directory?)");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    // yaml-cpp marks are 0-based.
    std::string where = e.mark.is_null() ? std::string()
                                         : "line " + std::to_string(e.mark.line + 1) +
                                               ", column " + std::to_string(e.mark.column + 1);
    throw DataError(file, where, "malformed YAML: " + e.msg);
  }
  if (!root.IsMap()) throw DataError(file, "", "expected a mapping at the top level");
  std::map<std::string, std::string> out;
  flatten(root, "", out);
  return out;
}

const nlohmann::json& require(const nlohmann::json& obj, const std::string& file,
                              const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end()) throw DataError(file, key, "missing");
  return *it;
}

void read_metrics(const std::string& file, RunRecord& r) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(file, "byte " + std::to_string(e.byte), std::string("malformed JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
    throw DataError(file, "", std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw DataError(file, "", "expected a JSON object");

  const auto& status = require(j, file, "status");
  if (!status.is_string() || (status != "ok" && status != "failed")) {
    throw DataError(file, "status", "expected \"ok\" or \"failed\", got " + status.dump());
  }
  r.status = status.get<std::string>();
  const auto& key = require(j, file, "run_key");
  if (!key.is_string()) throw DataError(file, "run_key", "expected a string");
  r.run_key = key.get<std::string>();
  const auto& plan = require(j, file, "plan_index");
  if (!plan.is_number_integer()) throw DataError(file, "plan_index", "expected an integer");
  r.plan_index = plan.get<int64_t>();
  if (j.contains("n_eval") && j["n_eval"].is_number_integer()) r.n_eval = j["n_eval"].get<int64_t>();

  if (r.status == "failed") {
    if (j.contains("error") && j["error"].is_string()) r.error = j["error"].get<std::string>();
    return;  // a failed run's metrics are not read
  }
  const auto& metrics = require(j, file, "metrics");
  if (!metrics.is_object()) throw DataError(file, "metrics", "expected an object");
  const auto& hib = require(j, file, "higher_is_better");
  if (!hib.is_object()) throw DataError(file, "higher_is_better", "expected an object");
  for (const auto& [name, v] : metrics.items()) {
    // NaN is written as null by JSON encoders: refuse it rather than rank it.
    if (!v.is_number()) throw DataError(file, "metrics." + name, "expected a number, got " + v.dump());
    r.metrics[name] = v.get<double>();
    auto d = hib.find(name);
    if (d == hib.end() || !d->is_boolean()) {
      throw DataError(file, "higher_is_better." + name, "missing or not a boolean");
    }
    r.higher_is_better[name] = d->get<bool>();
  }
  if (j.contains("aux")) {
    const auto& aux = j["aux"];
    if (!aux.is_object()) throw DataError(file, "aux", "expected an object of numbers");
    for (const auto& [name, v] : aux.items()) {
      if (!v.is_number()) throw DataError(file, "aux." + name, "expected a number, got " + v.dump());
      r.aux[name] = v.get<double>();
    }
  }
  if (j.contains("selection")) selection_detail::read_selection_json(j["selection"], file, r);
}

void flatten_json(const nlohmann::json& j, const std::string& prefix,
                  std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten_json(v, prefix.empty() ? k : prefix + "." + k, out);
  } else if (j.is_string()) {
    out[prefix] = j.get<std::string>();
  } else {
    out[prefix] = j.dump();
  }
}

// env.json is optional (runs written before it existed still report), but a present one must parse.
void read_env(const std::string& file, RunRecord& r) {
  if (!fs::exists(file)) return;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::parse_error& e) {
    throw DataError(file, "byte " + std::to_string(e.byte), std::string("malformed JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
    throw DataError(file, "", std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) throw DataError(file, "", "expected a JSON object");
  flatten_json(j, "", r.env);
  if (j.contains("wall_seconds")) {
    if (!j["wall_seconds"].is_number()) {
      throw DataError(file, "wall_seconds", "expected a number, got " + j["wall_seconds"].dump());
    }
    r.wall_seconds = j["wall_seconds"].get<double>();
  }
}


RunRecord read_run(const fs::path& d) {
  RunRecord r;
  r.dir = d.string();
  std::string metrics_file = (d / "metrics.json").string();
  if (!fs::exists(metrics_file)) {
    throw DataError(metrics_file, "", "missing: not a run directory, or a run that was "
                                      "interrupted (remove it or re-run the experiment)");
  }
  read_metrics(metrics_file, r);
  std::string config_file = (d / "config.resolved.yaml").string();
  r.config = read_config(config_file);
  // The runner always writes these: a file without them was cut short.
  for (const char* k : {"experiment", "method.name", "runtime.seed"}) {
    if (!r.config.count(k)) throw DataError(config_file, k, "missing (truncated file?)");
  }
  read_env((d / "env.json").string(), r);
  auto get = [&](const std::string& k) {
    auto it = r.config.find(k);
    return it == r.config.end() ? std::string() : it->second;
  };
  r.method = get("method.name");
  r.ablation = get("ablation");
  std::string seed = get("runtime.seed");
  try {
    size_t used = 0;
    r.seed = std::stoll(seed, &used);
    if (used != seed.size()) throw std::invalid_argument(seed);
  } catch (const std::exception&) {
    throw DataError(config_file, "runtime.seed", "expected an integer, got '" + seed + "'");
  }
  auto env = [&](const std::string& k) {
    auto it = r.env.find(k);
    return it == r.env.end() ? std::string() : it->second;
  };
  r.dataset_fingerprint = env("dataset.fingerprint");
  r.dataset_name = env("dataset.name");
  if (r.dataset_name.empty()) r.dataset_name = get("dataset.name");
  if (r.dataset_name.empty()) {
    // Runs written before env.json named the dataset: the stem of its path, else the source.
    for (const auto& [k, v] : r.config)
      if (k.rfind("dataset.", 0) == 0 && !v.empty() && is_path_setting(k, v)) {
        r.dataset_name = fs::path(v).stem().string();
        break;
      }
  }
  if (r.dataset_name.empty()) r.dataset_name = get("dataset.source");
  return r;
}

}  // namespace

std::vector<RunRecord> load_runs(const std::string& experiment_dir,
                                 std::vector<DamagedRun>* damaged) {
  std::error_code ec;
  if (!fs::is_directory(experiment_dir, ec)) {
    throw DataError(experiment_dir, "", "not a directory (no runs for this experiment yet?)");
  }
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(experiment_dir)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // temp dirs, caches
    if (!entry.is_directory()) continue;           // reports written next to the runs
    dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());

  std::vector<RunRecord> runs;
  for (const auto& d : dirs) {
    if (!damaged) {
      runs.push_back(read_run(d));
      continue;
    }
    try {
      runs.push_back(read_run(d));
    } catch (const DataError& e) {
      // Every DataError of read_run starts with the path of the file it is about.
      std::string msg = e.what(), file;
      for (const char* f : {"metrics.json", "config.resolved.yaml", "env.json"})
        if (msg.find((d / f).string()) != std::string::npos) file = (d / f).string();
      damaged->push_back({d.string(), file, msg});
    }
  }
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.plan_index != b.plan_index ? a.plan_index < b.plan_index : a.run_key < b.run_key;
  });
  return runs;
}

RunSelection select_current(std::vector<RunRecord>& runs, const std::string& experiment_dir,
                            bool keep_stale) {
  RunSelection sel;
  auto plan = read_current_plan(experiment_dir);
  if (!plan) {
    sel.current = static_cast<int>(runs.size());
    return sel;
  }
  sel.have_plan = true;
  const std::set<std::string> keys = plan->key_set();
  std::vector<RunRecord> kept;
  for (auto& r : runs) {
    r.stale = !keys.count(r.run_key);
    if (!r.stale) {
      ++sel.current;
    } else {
      ++sel.stale;
      if (!keep_stale) continue;
      ++sel.stale_kept;
    }
    kept.push_back(std::move(r));
  }
  runs = std::move(kept);
  return sel;
}

}  // namespace vlb
