// Tidy export: one row per (run, metric), every setting a column, for pandas/R/SQL. The same rows
// as CSV (leaderboard.tidy.csv) and JSON Lines (leaderboard.tidy.jsonl, typed values).
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "format.h"
#include "vlb/reports/report.h"

namespace vlb {
namespace {

// Columns that every tidy row has, before the axes.
const std::vector<std::string> kFixed = {"experiment", "run_key", "run_dir", "stale", "row", "column",
                                         "method", "ablation", "dataset", "dataset_fingerprint", "seed"};

// Settings that are not columns of their own: covered by a fixed column, or a path / storage
// option that changes no number (the run directory and the JSON Lines dataset_path say where).
bool axis_column(const std::string& k, const std::string& v) {
  if (k == "experiment" || k == "method.name" || k == "ablation" || k == "runtime.seed" ||
      k == "dataset.name" || k.rfind("runtime.predictions", 0) == 0)
    return false;
  return !is_path_setting(k, v);
}

std::vector<std::string> axis_columns(const Leaderboard& lb) {
  std::set<std::string> keys;
  for (const auto& run : lb.runs)
    for (const auto& [k, v] : run.record.config)
      if (axis_column(k, v)) keys.insert(k);
  return {keys.begin(), keys.end()};
}

struct TidyRow {
  const Leaderboard::Run* run;
  std::string kind, metric;  // kind: "metric" | "aux"
  double value;
  bool higher_is_better;     // aux values have no direction: true
};

std::vector<TidyRow> tidy_rows(const Leaderboard& lb) {
  std::vector<TidyRow> rows;
  for (const auto& run : lb.runs) {
    for (const auto& [m, v] : run.record.metrics) {
      auto d = run.record.higher_is_better.find(m);
      rows.push_back({&run, "metric", m, v, d == run.record.higher_is_better.end() || d->second});
    }
    for (const auto& [m, v] : run.record.aux) rows.push_back({&run, "aux", m, v, true});
  }
  return rows;
}

std::vector<std::string> fixed_values(const Leaderboard& lb, const Leaderboard::Run& run) {
  const RunRecord& r = run.record;
  return {lb.experiment, r.run_key,     r.dir,          r.stale ? "true" : "false", run.row, run.column,
          r.method,      r.ablation,    r.dataset_name, r.dataset_fingerprint,      std::to_string(r.seed)};
}

class TidyCsvWriter : public ReportWriter {
 public:
  std::string extension() const override { return "tidy.csv"; }
  std::string render(const Leaderboard& lb) const override {
    const auto axes = axis_columns(lb);
    std::string out;
    auto add_line = [&](const std::vector<std::string>& cells) {
      for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + report_format::csv_field(cells[i]);
      out += "\n";
    };
    std::vector<std::string> header = kFixed;
    header.insert(header.end(), axes.begin(), axes.end());
    for (const char* c : {"kind", "metric", "value", "higher_is_better"}) header.push_back(c);
    add_line(header);
    for (const auto& t : tidy_rows(lb)) {
      std::vector<std::string> cells = fixed_values(lb, *t.run);
      for (const auto& k : axes) {
        auto it = t.run->record.config.find(k);
        cells.push_back(it == t.run->record.config.end() ? "" : it->second);
      }
      cells.push_back(t.kind);
      cells.push_back(t.metric);
      cells.push_back(std::isfinite(t.value) ? fmt::format("{}", t.value) : "");  // shortest round trip
      cells.push_back(t.higher_is_better ? "true" : "false");
      add_line(cells);
    }
    return out;
  }
};

class TidyJsonlWriter : public ReportWriter {
 public:
  std::string extension() const override { return "tidy.jsonl"; }
  std::string render(const Leaderboard& lb) const override {
    const auto axes = axis_columns(lb);
    std::string out;
    for (const auto& t : tidy_rows(lb)) {
      const RunRecord& r = t.run->record;
      nlohmann::ordered_json j;
      std::vector<std::string> v = fixed_values(lb, *t.run);
      for (size_t i = 0; i < kFixed.size(); ++i) j[kFixed[i]] = v[i];
      j["stale"] = r.stale;
      j["seed"] = r.seed;
      auto env = r.env.find("dataset.path");
      j["dataset_path"] = env == r.env.end() ? "" : env->second;
      for (const auto& k : axes) {
        auto it = r.config.find(k);
        j[k] = it == r.config.end() ? nlohmann::ordered_json() : nlohmann::ordered_json(it->second);
      }
      j["kind"] = t.kind;
      j["metric"] = t.metric;
      j["value"] = std::isfinite(t.value) ? nlohmann::ordered_json(t.value) : nlohmann::ordered_json();
      j["higher_is_better"] = t.higher_is_better;
      out += j.dump() + "\n";
    }
    return out;
  }
};

template <class W>
RegistryEntry<ReportWriter> entry(const std::string& name, const std::string& help) {
  RegistryEntry<ReportWriter> e;
  e.name = name;
  e.help = help;
  e.factory = [](const Params&) -> std::unique_ptr<ReportWriter> { return std::make_unique<W>(); };
  return e;
}

}  // namespace

void register_tidy_writers(ReportWriterRegistry& reg) {
  reg.add(entry<TidyCsvWriter>(
      "tidy", "leaderboard.tidy.csv: one row per (run, metric) with every setting, seed, run key "
              "and directory (`--format tidy` also writes tidy-jsonl)"));
  reg.add(entry<TidyJsonlWriter>("tidy-jsonl", "leaderboard.tidy.jsonl: the tidy rows as JSON Lines"));
}

}  // namespace vlb
