// Regression gate: compare a leaderboard with a checked-in baseline file, and bless new values.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/core/clock.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

using Json = nlohmann::ordered_json;  // keeps the file's key order when blessing

// Which way a cell may move before the entry fails: one-sided (the bad direction only), both ways
// beyond the tolerance, or not at all.
enum class Direction { kHigherIsBetter, kLowerIsBetter, kBoth, kExact };

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::kHigherIsBetter: return "higher_is_better";
    case Direction::kLowerIsBetter: return "lower_is_better";
    case Direction::kBoth: return "both";
    case Direction::kExact: return "exact";
  }
  return "";
}

struct Entry {
  std::string row, column, metric;
  double expected = 0.0;
  Direction direction = Direction::kHigherIsBetter;
  double abs_tol = 0.0;
  double rel_tol = 0.0;
  bool gate = true;
};

const std::set<std::string> kEntryKeys = {"row",     "column",  "metric", "expected", "direction",
                                          "abs_tol", "rel_tol", "gate",   "note"};

struct Baseline {
  Json doc;
  std::vector<Entry> entries;  // parallel to doc["entries"]
};

Baseline parse_baseline(const std::string& file) {
  Baseline b;
  try {
    b.doc = Json::parse(read_file(file));
  } catch (const Json::parse_error& e) {
    throw DataError(file, "byte " + std::to_string(e.byte), std::string("malformed JSON: ") + e.what());
  }
  if (!b.doc.is_object()) throw DataError(file, "", "expected a JSON object with \"entries\"");
  if (!b.doc.contains("entries") || !b.doc["entries"].is_array()) {
    throw DataError(file, "entries", "missing or not an array");
  }
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  const Json& arr = b.doc["entries"];
  for (size_t i = 0; i < arr.size(); ++i) {
    const Json& e = arr[i];
    std::string at = "entries[" + std::to_string(i) + "]";
    if (!e.is_object()) throw DataError(file, at, "expected an object");
    for (const auto& kv : e.items()) {
      // A misspelt tolerance would otherwise silently become 0.
      if (!kEntryKeys.count(kv.key())) throw DataError(file, at + "." + kv.key(), "unknown key");
    }
    auto str = [&](const char* key, bool required, const std::string& def) {
      if (!e.contains(key)) {
        if (required) throw DataError(file, at + "." + key, "missing");
        return def;
      }
      if (!e[key].is_string()) throw DataError(file, at + "." + key, "expected a string");
      return e[key].get<std::string>();
    };
    auto num = [&](const char* key, bool required, double def) {
      if (!e.contains(key)) {
        if (required) throw DataError(file, at + "." + key, "missing");
        return def;
      }
      if (!e[key].is_number()) throw DataError(file, at + "." + key, "expected a number");
      return e[key].get<double>();
    };
    Entry en;
    en.row = str("row", true, "");
    en.column = str("column", true, "");
    en.metric = str("metric", true, "");
    en.expected = num("expected", true, 0.0);
    std::string dir = str("direction", true, "");
    bool known = false;
    for (Direction d : {Direction::kHigherIsBetter, Direction::kLowerIsBetter, Direction::kBoth,
                        Direction::kExact}) {
      if (dir == direction_name(d)) en.direction = d, known = true;
    }
    if (!known) {
      throw DataError(file, at + ".direction",
                      "expected \"higher_is_better\", \"lower_is_better\", \"both\" or \"exact\", "
                      "got \"" + dir + "\"");
    }
    en.abs_tol = num("abs_tol", false, 0.0);
    en.rel_tol = num("rel_tol", false, 0.0);
    if (en.abs_tol < 0) throw DataError(file, at + ".abs_tol", "must be >= 0");
    if (en.rel_tol < 0) throw DataError(file, at + ".rel_tol", "must be >= 0");
    // A tolerance on an exact entry would be silently ignored: refuse it instead.
    if (en.direction == Direction::kExact && (en.abs_tol != 0 || en.rel_tol != 0)) {
      throw DataError(file, at + ".direction", "\"exact\" takes no abs_tol or rel_tol (use \"both\")");
    }
    if (e.contains("gate")) {
      if (!e["gate"].is_boolean()) throw DataError(file, at + ".gate", "expected true or false");
      en.gate = e["gate"].get<bool>();
    }
    str("note", false, "");  // type check only
    if (!seen.insert({en.row, en.column, en.metric}).second) {
      throw DataError(file, at, "duplicate entry for row '" + en.row + "', column '" + en.column +
                                    "', metric '" + en.metric + "'");
    }
    b.entries.push_back(std::move(en));
  }
  return b;
}


double allowed_of(const Entry& e) {
  if (e.direction == Direction::kExact) return 0.0;
  return std::max(e.abs_tol, e.rel_tol * std::fabs(e.expected));
}

// A one-sided entry whose expected value sits within its tolerance of the metric's bound in the
// bad direction can never fail: an accuracy of 0 cannot drop further. The bounds are 0 below
// (higher is better) and 1 or 100 above (lower is better: a fraction or a percentage).
bool one_sided_at_bound(Direction d, double expected, double allowed) {
  if (d == Direction::kHigherIsBetter) return expected >= 0 && expected <= allowed;
  if (d == Direction::kLowerIsBetter) {
    for (double top : {1.0, 100.0})
      if (expected <= top && expected >= top - allowed) return true;
  }
  return false;
}

std::string at_bound_warning(const std::string& file, const Entry& e, double expected) {
  return fmt::format("{}: row '{}', column '{}', metric '{}': expected {:.6g} sits at the bound of a "
                     "{} metric, where a one-sided check cannot fail",
                     file, e.row, e.column, e.metric, expected, direction_name(e.direction));
}

std::string md(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}


}  // namespace

CheckResult check_baseline(const std::string& baseline_file, const Leaderboard& lb) {
  if (!fs::exists(baseline_file)) {
    throw DataError(baseline_file, "", "baseline file not found (create it with `vlb bless`)");
  }
  Baseline b = parse_baseline(baseline_file);
  CheckResult res;
  std::string& t = res.table_markdown;
  t = "| row | column | metric | expected | actual | Δ | allowed | status |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const Entry& e : b.entries) {
    const double allowed = allowed_of(e);
    if (e.gate && one_sided_at_bound(e.direction, e.expected, allowed)) {
      res.warnings.push_back(at_bound_warning(baseline_file, e, e.expected) +
                             " (set \"direction\": \"both\")");
    }
    const Cell* c = find_cell(lb, e.metric, e.row, e.column);
    std::string actual = "—", delta = "—", status;
    const bool two_sided = e.direction == Direction::kBoth || e.direction == Direction::kExact;
    if (!c) {
      status = e.gate ? "FAIL: missing" : "info: missing";
      if (e.gate) ++res.failures;
    } else {
      double d = c->mean - e.expected;
      actual = fmt::format("{:.6g}", c->mean);
      delta = fmt::format("{:+.3g}", d);
      if (std::isnan(c->mean)) {
        status = e.gate ? "FAIL: not a number" : "info: not a number";
        if (e.gate) ++res.failures;
      } else if (two_sided) {
        const bool moved = e.direction == Direction::kExact ? c->mean != e.expected
                                                            : std::fabs(d) > allowed;
        if (moved) {
          status = e.gate ? "FAIL: changed" : "info: changed (not gated)";
          if (e.gate) ++res.failures;
        } else {
          status = "ok";
        }
      } else {
        const double gain = e.direction == Direction::kHigherIsBetter ? d : -d;  // > 0: better
        if (gain < -allowed) {
          status = e.gate ? "FAIL: regression" : "info: regression (not gated)";
          if (e.gate) ++res.failures;
        } else if (gain > allowed) {
          status = "improved: consider `vlb bless`";
          ++res.improvements;
        } else {
          status = "ok";
        }
      }
    }
    t += "| " + md(e.row) + " | " + md(e.column.empty() ? "result" : e.column) + " | " +
         md(e.metric) + " | " + fmt::format("{:.6g}", e.expected) + " | " + actual + " | " +
         delta + " | " + fmt::format("{:.3g}", allowed) + " | " + status + " |\n";
  }
  return res;
}

std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const std::vector<std::string>& metrics, bool add_missing) {
  std::vector<std::string> warnings;
  // A value at its bound is kept, but made two-sided so that the entry can still fail.
  auto guard_bound = [&](const Entry& e, Json& out) {
    if (!e.gate || !one_sided_at_bound(e.direction, e.expected, allowed_of(e))) return;
    warnings.push_back(at_bound_warning(baseline_file, e, e.expected) +
                       ": written as \"direction\": \"both\" (a change either way now fails)");
    out["direction"] = direction_name(Direction::kBoth);
  };
  Baseline b;
  if (fs::exists(baseline_file)) {
    b = parse_baseline(baseline_file);
  } else {
    b.doc = Json::object();
    b.doc["entries"] = Json::array();
    add_missing = true;  // a new file starts with every cell
  }

  // Refuse before touching anything: a silently dropped entry would weaken the gate.
  std::vector<std::string> missing;
  for (const Entry& e : b.entries) {
    if (!find_cell(lb, e.metric, e.row, e.column)) {
      missing.push_back("row '" + e.row + "', column '" + e.column + "', metric '" + e.metric + "'");
    }
  }
  if (!missing.empty()) {
    std::string msg = baseline_file + ": cannot bless: " + std::to_string(missing.size()) +
                      " baseline entr" + (missing.size() == 1 ? "y has" : "ies have") +
                      " no cell in the leaderboard (file left unchanged; remove the entries or "
                      "re-run the missing runs):";
    for (const auto& m : missing) msg += "\n  " + m;
    throw Error(msg);
  }

  Json& arr = b.doc["entries"];
  for (size_t i = 0; i < b.entries.size(); ++i) {
    Entry e = b.entries[i];
    e.expected = find_cell(lb, e.metric, e.row, e.column)->mean;
    arr[i]["expected"] = e.expected;
    guard_bound(e, arr[i]);
  }

  if (add_missing) {
    std::vector<std::string> wanted = metrics;
    if (wanted.empty()) wanted = metric_order(lb);
    for (const auto& m : wanted) {
      if (!lb.cells.count(m)) {
        std::string avail;
        for (const auto& kv : lb.cells) avail += (avail.empty() ? "" : ", ") + kv.first;
        throw Error(baseline_file + ": cannot bless metric '" + m +
                    "': not in the leaderboard (available: " + avail + ")");
      }
    }
    std::set<std::tuple<std::string, std::string, std::string>> have;
    for (const Entry& e : b.entries) have.insert({e.row, e.column, e.metric});
    std::string note = "blessed " + utc_now("%Y-%m-%d");
    for (const auto& row : lb.rows)
      for (const auto& col : lb.columns)
        for (const auto& m : wanted) {
          const Cell* c = find_cell(lb, m, row, col);
          if (!c || have.count({row, col, m})) continue;
          auto hib = lb.higher_is_better.find(m);
          bool higher = hib == lb.higher_is_better.end() ? true : hib->second;
          Entry en{row, col, m, c->mean,
                   higher ? Direction::kHigherIsBetter : Direction::kLowerIsBetter, 1e-6, 0.0, true};
          Json e = Json::object();
          e["row"] = row;
          e["column"] = col;
          e["metric"] = m;
          e["expected"] = c->mean;
          e["direction"] = direction_name(en.direction);
          e["abs_tol"] = 1e-6;  // written as literals: the file keeps "rel_tol": 0, not 0.0
          e["rel_tol"] = 0;
          e["gate"] = true;
          e["note"] = note;
          guard_bound(en, e);
          arr.push_back(std::move(e));
        }
  }
  write_file_atomic(baseline_file, b.doc.dump(2) + "\n");
  return warnings;
}

}  // namespace vlb
