// Pivoting run records into a leaderboard: rows = methods (+ ablation, varying method params),
// columns = other varying settings, cells = mean/std/n over seeds.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/reports/report.h"
#include "vlb/reports/selection.h"

namespace vlb {
namespace {

const char* kAbsent = "<absent>";

std::string last_component(const std::string& key) {
  size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

using Axes = std::map<std::string, std::string>;

std::string value_of(const Axes& a, const std::string& key) {
  auto it = a.find(key);
  return it == a.end() ? kAbsent : it->second;
}

// The settings labels are drawn from: the config without paths and runtime.predictions* (where a
// run stores its outputs changes none of its numbers), with dataset.name set to the run's dataset
// name. `names_of` disambiguates names shared by datasets of different content.
Axes axes_of(const RunRecord& r, const std::map<std::string, std::string>& name_of_run) {
  Axes a;
  for (const auto& [k, v] : r.config) {
    if (k.rfind("runtime.predictions", 0) == 0 || k == "dataset.name") continue;
    if (k.rfind("select.", 0) == 0) continue;  // the protocol: the report's header says it
    if (is_path_setting(k, v)) continue;
    a[k] = v;
  }
  a["dataset.name"] = name_of_run.at(r.dir);
  return a;
}

/// Display names for a set of keys: the last path component, or the full key when two keys of
/// the set share it (dataset.params.k vs method.params.k).
std::map<std::string, std::string> short_names(const std::vector<std::string>& keys) {
  std::map<std::string, int> count;
  for (const auto& k : keys) ++count[last_component(k)];
  std::map<std::string, std::string> out;
  for (const auto& k : keys) out[k] = count[last_component(k)] > 1 ? k : last_component(k);
  return out;
}

// "dtd, shots=1": the dataset by its name alone, other settings as short key=value.
std::string join_kv(const Axes& a, const std::vector<std::string>& keys,
                    const std::map<std::string, std::string>& names) {
  std::string s;
  for (const auto& k : keys) {
    std::string part = k == "dataset.name" ? value_of(a, k) : names.at(k) + "=" + value_of(a, k);
    s += (s.empty() ? "" : ", ") + part;
  }
  return s;
}

bool is_row_key(const std::string& k) {
  return k == "ablation" || k.rfind("method.", 0) == 0;
}

Cell aggregate(const std::vector<double>& v) {
  Cell c;
  c.n = static_cast<int>(v.size());
  double sum = 0.0;
  for (double x : v) sum += x;
  c.mean = sum / c.n;
  if (c.n > 1) {
    double ss = 0.0;
    for (double x : v) ss += (x - c.mean) * (x - c.mean);
    c.std = std::sqrt(ss / (c.n - 1));
  }
  return c;
}

/// Labels ordered by the smallest plan_index among their runs (ties: label text).
std::vector<std::string> ordered(const std::map<std::string, int64_t>& first_plan) {
  std::vector<std::pair<int64_t, std::string>> v;
  for (const auto& [label, plan] : first_plan) v.emplace_back(plan, label);
  std::sort(v.begin(), v.end());
  std::vector<std::string> out;
  for (auto& p : v) out.push_back(p.second);
  return out;
}

}  // namespace

std::vector<std::string> metric_order(const Leaderboard& lb) {
  std::vector<std::string> out;
  if (lb.cells.count(lb.primary_metric)) out.push_back(lb.primary_metric);
  for (const auto& kv : lb.cells) {
    if (kv.first != lb.primary_metric) out.push_back(kv.first);
  }
  return out;
}

Leaderboard build_leaderboard(const std::vector<RunRecord>& all_runs, const std::string& experiment,
                              const std::string& primary_metric) {
  Leaderboard lb;
  lb.experiment = experiment;
  SelectionInfo selection;
  const std::vector<RunRecord> runs = apply_selection(all_runs, &selection);

  std::vector<const RunRecord*> ok;
  for (const auto& r : runs) {
    if (r.stale) ++lb.stale_runs;
    if (r.status == "ok") {
      ok.push_back(&r);
    } else {
      ++lb.failed_runs;
      std::string name = r.dir.substr(r.dir.find_last_of('/') + 1);
      lb.failures.push_back(name + (r.stale ? kStaleMarker : "") + ": " +
                            (r.error.empty() ? "(no error message)" : r.error));
    }
  }
  lb.ok_runs = static_cast<int>(ok.size());

  // A dataset name shared by different contents (two dtd.h5 in two folders) gets the start of
  // its fingerprint, so that their cells never merge.
  std::map<std::string, std::set<std::string>> prints_of_name;
  for (const auto* r : ok) prints_of_name[r->dataset_name].insert(r->dataset_fingerprint);
  std::map<std::string, std::string> name_of_run;
  for (const auto* r : ok) {
    std::string n = r->dataset_name.empty() ? std::string("(dataset)") : r->dataset_name;
    if (prints_of_name[r->dataset_name].size() > 1) n += "@" + r->dataset_fingerprint.substr(0, 8);
    name_of_run[r->dir] = n;
  }
  std::map<const RunRecord*, Axes> axes;
  for (const auto* r : ok) axes[r] = axes_of(*r, name_of_run);

  // Varying keys: more than one distinct value (absence counts as a value) across ok runs.
  std::set<std::string> all_keys;
  for (const auto* r : ok)
    for (const auto& kv : axes[r]) all_keys.insert(kv.first);
  std::vector<std::string> other_row_keys;
  bool method_varies = false, ablation_varies = false;
  for (const auto& k : all_keys) {
    if (k == "runtime.seed" || k == "experiment" || k.rfind("experiment.", 0) == 0) continue;
    std::set<std::string> values;
    for (const auto* r : ok) values.insert(value_of(axes[r], k));
    if (values.size() < 2) continue;
    if (k == "method.name") {
      method_varies = true;
    } else if (k == "ablation") {
      ablation_varies = true;
    } else if (is_row_key(k)) {
      other_row_keys.push_back(k);
    } else {
      lb.column_keys.push_back(k);
    }
  }
  // The dataset comes first in a column label: "dtd, shots=1".
  std::stable_partition(lb.column_keys.begin(), lb.column_keys.end(),
                        [](const std::string& k) { return k == "dataset.name"; });
  // Row keys in label order: method name, ablation, then method parameters.
  if (method_varies) lb.row_keys.push_back("method.name");
  if (ablation_varies) lb.row_keys.push_back("ablation");

  // Note [row labels]: a method parameter names a row only where it varies among the runs of
  // that same method; parameters that merely differ between methods (one has `l2`, another has
  // not) would only clutter every label.
  std::map<std::string, std::vector<std::string>> keys_of_method;
  for (const auto& k : other_row_keys) {
    std::map<std::string, std::set<std::string>> per_method;
    for (const auto* r : ok) per_method[r->method].insert(value_of(axes[r], k));
    for (const auto& [m, vals] : per_method)
      if (vals.size() > 1) keys_of_method[m].push_back(k);
  }
  for (const auto& k : other_row_keys)
    for (const auto& [m, keys] : keys_of_method)
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) {
        lb.row_keys.push_back(k);
        break;
      }
  auto col_names = short_names(lb.column_keys);
  auto row_label = [&](const RunRecord& r) {
    std::string s = r.method.empty() ? std::string("(no method)") : r.method;
    if (!r.ablation.empty()) s += " [" + r.ablation + "]";
    auto it = keys_of_method.find(r.method);
    if (it != keys_of_method.end())
      s += " (" + join_kv(axes[&r], it->second, short_names(it->second)) + ")";
    if (r.stale) s += kStaleMarker;
    return s;
  };

  std::map<std::string, int64_t> row_first, col_first;
  // metric -> row -> column -> values over seeds
  std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> values;
  std::set<int64_t> seeds;
  std::map<std::string, std::map<std::string, std::vector<double>>> walls;
  std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> aux_values;
  std::set<std::string> shas, threads, cpus;
  std::map<std::string, std::set<std::string>> versions;
  for (const auto* r : ok) {
    std::string row = row_label(*r);
    std::string col = join_kv(axes[r], lb.column_keys, col_names);
    for (const auto& k : lb.row_keys) lb.row_config[row][k] = value_of(axes[r], k);
    for (const auto& k : lb.column_keys) lb.column_config[col][k] = value_of(axes[r], k);
    lb.run_dirs[row][col].push_back(r->dir);
    if (!lb.identity[row].count(col)) lb.identity[row][col] = run_identity(*r);
    if (r->stale) lb.stale_rows.insert(row);
    lb.runs.push_back({row, col, *r});
    for (const auto& [name, v] : r->aux) aux_values[name][row][col].push_back(v);
    if (r->wall_seconds >= 0.0) {
      walls[row][col].push_back(r->wall_seconds);
      lb.env.total_wall_seconds += r->wall_seconds;
    }
    auto env = [&](const std::string& k) {
      auto it = r->env.find(k);
      return it == r->env.end() ? std::string() : it->second;
    };
    if (!env("git_sha").empty()) shas.insert(env("git_sha"));
    if (env("git_dirty") == "true") lb.env.any_dirty = true;
    if (!env("threads").empty()) threads.insert(env("threads"));
    if (!env("cpu_model").empty()) cpus.insert(env("cpu_model"));
    for (const char* v : {"vlb", "torch", "hdf5"})
      if (!env(std::string(v) + "_version").empty()) versions[v].insert(env(std::string(v) + "_version"));
    if (!env("compiler").empty()) versions["compiler"].insert(env("compiler"));
    if (!env("dataset.fingerprint").empty()) {
      std::string name = env("dataset.path").empty() ? env("dataset.source") : env("dataset.path");
      lb.env.datasets[name.empty() ? "(dataset)" : name] = env("dataset.fingerprint");
      lb.dataset_paths[name_of_run[r->dir]] = name;
    }
    std::string started = env("started_at");
    if (!started.empty()) {
      if (lb.env.first_started.empty() || started < lb.env.first_started) lb.env.first_started = started;
      if (started > lb.env.last_started) lb.env.last_started = started;
    }
    auto update_first = [&](std::map<std::string, int64_t>& m, const std::string& label) {
      auto it = m.find(label);
      if (it == m.end() || r->plan_index < it->second) m[label] = r->plan_index;
    };
    update_first(row_first, row);
    update_first(col_first, col);
    seeds.insert(r->seed);
    for (const auto& [metric, v] : r->metrics) {
      values[metric][row][col].push_back(v);
      lb.seed_values[metric][row][col][r->seed] = v;
      auto dir = r->higher_is_better.find(metric);
      bool hib = dir == r->higher_is_better.end() ? true : dir->second;
      auto known = lb.higher_is_better.find(metric);
      if (known != lb.higher_is_better.end() && known->second != hib) {
        throw Error("runs disagree on the direction of metric '" + metric + "' (" + r->dir +
                    " says " + (hib ? "higher" : "lower") + " is better, an earlier run the "
                    "opposite)");
      }
      lb.higher_is_better[metric] = hib;
    }
  }
  lb.rows = ordered(row_first);
  lb.columns = ordered(col_first);
  lb.seeds.assign(seeds.begin(), seeds.end());
  lb.env.git_shas.assign(shas.begin(), shas.end());
  lb.env.threads.assign(threads.begin(), threads.end());
  lb.env.cpu_models.assign(cpus.begin(), cpus.end());
  for (const auto& [name, vals] : versions) {
    std::string joined;
    for (const auto& v : vals) joined += (joined.empty() ? "" : ", ") + v;
    lb.env.versions[name] = joined;
  }
  for (const auto& [row, by_col] : walls)
    for (const auto& [col, v] : by_col) lb.wall_seconds[row][col] = aggregate(v);
  for (const auto& [metric, by_row] : values)
    for (const auto& [row, by_col] : by_row)
      for (const auto& [col, v] : by_col) lb.cells[metric][row][col] = aggregate(v);
  for (const auto& [name, by_row] : aux_values)
    for (const auto& [row, by_col] : by_row)
      for (const auto& [col, v] : by_col) lb.aux[name][row][col] = aggregate(v);

  if (!primary_metric.empty()) {
    if (!lb.cells.count(primary_metric)) {
      std::string avail;
      for (const auto& kv : lb.cells) avail += (avail.empty() ? "" : ", ") + kv.first;
      throw Error("primary metric '" + primary_metric + "' is not in any successful run of '" +
                  experiment + "' (available: " + (avail.empty() ? "none" : avail) + ")");
    }
    lb.primary_metric = primary_metric;
  } else if (lb.cells.count("cls/top1")) {
    lb.primary_metric = "cls/top1";
  } else if (!lb.cells.empty()) {
    lb.primary_metric = lb.cells.begin()->first;  // alphabetically first
  }
  finish_selection(lb, std::move(selection));
  return lb;
}

const Cell* find_cell(const Leaderboard& lb, const std::string& metric, const std::string& row,
                      const std::string& column) {
  auto m = lb.cells.find(metric);
  if (m == lb.cells.end()) return nullptr;
  auto r = m->second.find(row);
  if (r == m->second.end()) return nullptr;
  auto c = r->second.find(column);
  return c == r->second.end() ? nullptr : &c->second;
}

}  // namespace vlb
