// Regression gate: reading baseline files and comparing their entries with a leaderboard.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "baseline_file.h"
#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/reports/gate.h"

namespace fs = std::filesystem;

namespace vlb::baseline {

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::kHigherIsBetter: return "higher_is_better";
    case Direction::kLowerIsBetter: return "lower_is_better";
    case Direction::kBoth: return "both";
    case Direction::kExact: return "exact";
  }
  return "";
}

namespace {

const std::set<std::string> kEntryKeys = {"row",     "column",  "metric", "expected", "direction",
                                          "abs_tol", "rel_tol", "gate",   "note",     "identity",
                                          "samples"};

const char* kAbsent = "<absent>";

std::string value_or_absent(const Identity& id, const std::string& k) {
  auto it = id.find(k);
  return it == id.end() ? kAbsent : it->second;
}

}  // namespace

File parse(const std::string& file) {
  File b;
  try {
    b.doc = Json::parse(read_file(file));
  } catch (const Json::parse_error& e) {
    throw DataError(file, "byte " + std::to_string(e.byte), std::string("malformed JSON: ") + e.what());
  } catch (const Json::exception& e) {  // e.g. a number too large for a double
    throw DataError(file, "", std::string("malformed JSON: ") + e.what());
  }
  if (!b.doc.is_object()) throw DataError(file, "", "expected a JSON object with \"entries\"");
  bool with_samples = false;  // "vlb-baseline/3": entries may hold "samples"
  if (b.doc.contains("format")) {
    with_samples = b.doc["format"] == kFormatSamples;
    if (b.doc["format"] != kFormat && !with_samples)
      throw DataError(file, "format", std::string("expected \"") + kFormat + "\" or \"" + kFormatSamples +
                                          "\", got " + b.doc["format"].dump());
  } else {
    b.old_format = true;
  }
  if (!b.doc.contains("entries") || !b.doc["entries"].is_array()) {
    throw DataError(file, "entries", "missing or not an array");
  }
  std::set<std::tuple<std::string, std::string, std::string>> seen_labels;
  std::set<std::pair<Identity, std::string>> seen_ids;
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
    if (e.contains("identity")) {
      if (b.old_format)
        throw DataError(file, at + ".identity", std::string("needs \"format\": \"") + kFormat + "\" at the top");
      if (!e["identity"].is_object()) throw DataError(file, at + ".identity", "expected an object");
      for (const auto& [k, v] : e["identity"].items()) {
        if (!v.is_string()) throw DataError(file, at + ".identity." + k, "expected a string");
        en.identity[k] = v.get<std::string>();
      }
      if (!en.identity.count("method.name"))
        throw DataError(file, at + ".identity.method.name", "missing");
      en.has_identity = true;
    } else if (!b.old_format) {
      throw DataError(file, at + ".identity", "missing");
    }
    en.row = str("row", !en.has_identity, "");
    en.column = str("column", !en.has_identity, "");
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
    if (e.contains("samples")) {
      if (!with_samples)
        throw DataError(file, at + ".samples", std::string("needs \"format\": \"") + kFormatSamples + "\" at the top");
      if (en.direction == Direction::kExact)
        throw DataError(file, at + ".samples", "an \"exact\" entry takes no per-sample data");
      en.samples = parse_samples(file, at + ".samples", e["samples"]);
      b.any_samples = true;
    }
    bool dup = en.has_identity ? !seen_ids.insert({en.identity, en.metric}).second
                               : !seen_labels.insert({en.row, en.column, en.metric}).second;
    if (dup) throw DataError(file, at, "duplicate entry for " + describe(en));
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

std::string describe(const Entry& e) {
  if (!e.has_identity)
    return fmt::format("row '{}', column '{}', metric '{}'", e.row, e.column, e.metric);
  return fmt::format("method '{}', dataset '{}', metric '{}'", value_or_absent(e.identity, "method.name"),
                     value_or_absent(e.identity, "dataset.name"), e.metric);
}

std::string at_bound_warning(const std::string& file, const Entry& e, double expected) {
  std::string what = describe(e);
  if (e.has_identity && !e.row.empty()) what += " (row '" + e.row + "', column '" + e.column + "')";
  return fmt::format("{}: {}: expected {:.6g} sits at the bound of a {} metric, where a one-sided "
                     "check cannot fail",
                     file, what, expected, direction_name(e.direction));
}

namespace {

// See Note [generated datasets].
bool generated(const Leaderboard& lb, const std::string& row, const std::string& col) {
  for (const auto& run : lb.runs) {
    if (run.row != row || run.column != col) continue;
    // A generator source is generated even when it reads a real file (synth_multilabel draws
    // features over a real label matrix); only a stored feature file is not.
    auto src = run.record.config.find("dataset.source");
    if (src != run.record.config.end()) return src->second != "h5";
    for (const auto& [k, v] : run.record.config)
      if (k.rfind("dataset.", 0) == 0 && is_path_setting(k, v)) return false;
    return true;
  }
  return false;
}

}  // namespace

Match find_match(const Entry& e, const Leaderboard& lb) {
  Match m;
  auto has_cell = [&](const std::string& row, const std::string& col) {
    return find_cell(lb, e.metric, row, col) != nullptr;
  };
  if (!e.has_identity) {
    if (has_cell(e.row, e.column)) m.kind = Match::kExact, m.row = e.row, m.column = e.column;
    return m;
  }
  auto identity_of = [&](const std::string& row, const std::string& col) -> const Identity* {
    auto r = lb.identity.find(row);
    if (r == lb.identity.end()) return nullptr;
    auto c = r->second.find(col);
    return c == r->second.end() ? nullptr : &c->second;
  };
  // Rows in leaderboard order, current rows before stale ones.
  std::vector<std::string> rows;
  for (const auto& row : lb.rows) if (!lb.stale_rows.count(row)) rows.push_back(row);
  for (const auto& row : lb.rows) if (lb.stale_rows.count(row)) rows.push_back(row);
  size_t best = SIZE_MAX;
  for (const auto& row : rows)
    for (const auto& col : lb.columns) {
      const Identity* id = identity_of(row, col);
      if (!id || !has_cell(row, col)) continue;
      if (*id == e.identity) {
        m = Match{Match::kExact, row, col, {}, std::nullopt};
        return m;
      }
      if (value_or_absent(*id, "method.name") != value_or_absent(e.identity, "method.name") ||
          value_or_absent(*id, "dataset.name") != value_or_absent(e.identity, "dataset.name"))
        continue;
      std::set<std::string> keys;
      for (const auto& kv : *id) keys.insert(kv.first);
      for (const auto& kv : e.identity) keys.insert(kv.first);
      std::vector<IdentityChange> changes;
      for (const auto& k : keys) {
        std::string a = value_or_absent(e.identity, k), b = value_or_absent(*id, k);
        if (a != b) changes.push_back({k, a, b});
      }
      if (changes.size() == 1 && changes[0].key == "dataset.fingerprint" && generated(lb, row, col)) {
        m = Match{Match::kExact, row, col, {}, std::nullopt};
        m.regenerated = changes[0];
        return m;
      }
      if (changes.size() < best) {
        best = changes.size();
        m = Match{Match::kChanged, row, col, std::move(changes), std::nullopt};
      }
    }
  return m;
}

Json entry_json(const Entry& e, const std::string& note) {
  Json j = Json::object();
  Json id = Json::object();
  for (const auto& [k, v] : e.identity) id[k] = v;
  j["identity"] = id;
  j["metric"] = e.metric;
  j["expected"] = e.expected;
  j["direction"] = direction_name(e.direction);
  j["abs_tol"] = e.abs_tol;
  j["rel_tol"] = e.rel_tol;
  if (e.rel_tol == 0) j["rel_tol"] = 0;  // written as a literal: the file keeps "rel_tol": 0
  j["gate"] = e.gate;
  j["note"] = note;
  j["row"] = e.row;
  j["column"] = e.column;
  if (e.samples) j["samples"] = samples_json(*e.samples);
  return j;
}

}  // namespace vlb::baseline
