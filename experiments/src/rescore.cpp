// `vlb rescore` (rescore.h): each run's evaluation rebuilt by load_run_evaluation
// (run_evaluation.h), and the metrics recomputed on exactly the Targets the runner built.
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
#include "vlb/experiments/run_evaluation.h"
#include "vlb/metrics/metric.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace vlb {
namespace {

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
  DatasetCache datasets;

  // Phase 1: recompute everything; any bad input throws before a file is touched.
  std::vector<Planned> planned;
  for (const auto& dir : dirs) {
    const std::string mpath = dir + "/metrics.json";
    json mj = read_json_file(mpath);
    const std::string key = mj.value("run_key", "");
    if (mj.value("status", "") != "ok" || (opts.keys && !opts.keys->count(key))) {
      ++sum.skipped;
      continue;
    }
    RunEvaluation ev = load_run_evaluation(dir, reg, datasets);
    const StoredPredictions& sp = ev.stored;
    const std::string& ppath = sp.path;
    const Targets& targets = ev.targets;
    const Prediction& pred = ev.prediction;

    // The run's own metrics, then the requested ones (default params) it does not list.
    const auto method_tasks = task_tags(reg.methods.get(ev.method).tags);
    auto todo = ev.metrics;
    std::set<std::string> own;
    for (const auto& m : ev.metrics) own.insert(m.first);
    for (const auto& name : opts.extra_metrics) {
      if (own.count(name)) continue;
      const auto mt = task_tags(reg.metrics.get(name).tags);
      bool fits = mt.empty();
      for (const auto& t : mt) fits |= std::find(method_tasks.begin(), method_tasks.end(), t) != method_tasks.end();
      if (!fits)
        throw ConfigError(fmt::format("{}: --metrics {}: metric '{}' scores {} but the run's method "
                                      "'{}' is {}", dir, name, name, join(mt), ev.method,
                                      join(method_tasks)));
      todo.emplace_back(name, reg.metrics.get(name).schema.defaults());
      own.insert(name);
    }

    Planned pl;
    pl.dir = dir;
    pl.key16 = key.substr(0, 16);
    pl.label = ev.method;
    const json& stored = mj.contains("metrics") ? mj["metrics"] : json::object();
    std::set<std::string> seen_values;
    for (const auto& [name, params] : todo) {
      if (sp.mode == "topk") {
        int64_t need = topk_ranks_needed(name, params, sp);
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
