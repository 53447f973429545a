// `vlb bless`: rewrite a baseline's expected values (and identities) from a leaderboard, and with
// --stat the per-sample evidence `vlb check --stat` tests against.
#include <fmt/format.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "baseline_file.h"
#include "vlb/core/clock.h"
#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/reports/gate.h"

namespace fs = std::filesystem;

namespace vlb {

using namespace baseline;

std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const std::vector<std::string>& metrics, bool add_missing) {
  BlessOptions opt;
  opt.metrics = metrics;
  opt.add_missing = add_missing;
  return bless_baseline(baseline_file, lb, opt);
}

std::vector<std::string> bless_baseline(const std::string& baseline_file, const Leaderboard& lb,
                                        const BlessOptions& opt) {
  if (opt.abs_tol < 0 || opt.rel_tol < 0) throw Error("bless: tolerances must be >= 0");
  if (opt.stat && opt.migrate)
    throw Error("bless: --stat cannot be combined with --migrate (migrate keeps the old expected "
                "values, which per-sample data of the current results would not describe)");
  std::vector<std::string> warnings;
  // A value at its bound is kept, but made two-sided so that the entry can still fail.
  auto guard_bound = [&](const Entry& e, Json& out) {
    if (!e.gate || !one_sided_at_bound(e.direction, e.expected, allowed_of(e))) return;
    warnings.push_back(at_bound_warning(baseline_file, e, e.expected) +
                       ": written as \"direction\": \"both\" (a change either way now fails)");
    out["direction"] = direction_name(Direction::kBoth);
  };
  auto identity_of = [&](const std::string& row, const std::string& col) {
    auto r = lb.identity.find(row);
    if (r == lb.identity.end() || !r->second.count(col))
      throw Error("bless: the leaderboard has no identity for row '" + row + "', column '" + col + "'");
    return r->second.at(col);
  };
  File b;
  bool add_missing = opt.add_missing;
  if (fs::exists(baseline_file)) {
    b = parse(baseline_file);
  } else {
    b.doc = Json::object();
    b.doc["entries"] = Json::array();
    add_missing = true;  // a new file starts with every cell
  }
  // Evidence, once in a file, is rewritten with every expected value (see BlessOptions::stat).
  const bool with_samples = opt.stat || (b.any_samples && !opt.migrate);
  if (with_samples && !opt.samples)
    throw Error("bless: " + baseline_file + " holds per-sample data, which needs a source of it");
  bool any_samples = false;
  auto add_samples = [&](Entry& e, const std::string& row, const std::string& col) {
    if (with_samples) e.samples.reset();
    if (with_samples && e.direction != Direction::kExact)
      e.samples = samples_of(opt.samples(row, col, e.metric, true));
    any_samples |= e.samples.has_value();
  };

  // Refuse before touching anything: a silently dropped or re-pointed entry would weaken the gate.
  std::vector<Match> matches;
  std::vector<std::string> problems;
  for (size_t i = 0; i < b.entries.size(); ++i) {
    const Entry& e = b.entries[i];
    matches.push_back(find_match(e, lb));
    const Match& m = matches.back();
    if (m.kind == Match::kNone) {
      problems.push_back(fmt::format("entries[{}]: {}: no cell in the leaderboard", i, describe(e)));
    } else if (m.kind == Match::kChanged && !opt.accept_changed) {
      std::string what;
      for (const auto& c : m.changes) what += (what.empty() ? "" : "; ") + c.key + ": " + c.expected + " → " + c.actual;
      problems.push_back(fmt::format("entries[{}]: {}: parameters changed ({}); bless with "
                                     "--accept-changed to re-point it",
                                     i, describe(e), what));
    }
  }
  if (!problems.empty()) {
    std::string msg = baseline_file + ": cannot bless: " + std::to_string(problems.size()) +
                      " baseline entr" + (problems.size() == 1 ? "y has" : "ies have") +
                      " no matching cell (file left unchanged; remove the entries or re-run the "
                      "missing runs):";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(msg);
  }

  // The file becomes the identity format: "format" first, other top-level keys kept.
  Json doc = Json::object();
  doc["format"] = kFormat;  // kFormatSamples once an entry holds evidence (set below)
  for (const auto& [k, v] : b.doc.items())
    if (k != "format") doc[k] = v;
  Json& arr = doc["entries"];
  std::set<std::pair<Identity, std::string>> have;
  for (size_t i = 0; i < b.entries.size(); ++i) {
    Entry e = b.entries[i];
    const Match& m = matches[i];
    if (!opt.migrate) e.expected = find_cell(lb, e.metric, m.row, m.column)->mean;
    if (opt.set_existing_tolerances && e.direction != Direction::kExact) {
      e.abs_tol = opt.abs_tol;
      e.rel_tol = opt.rel_tol;
    }
    e.identity = identity_of(m.row, m.column);
    e.has_identity = true;
    e.row = m.row;
    e.column = m.column;
    add_samples(e, m.row, m.column);
    const Json& old = b.doc["entries"][i];
    Json out = entry_json(e, old.value("note", std::string()));
    if (!old.contains("note")) out.erase("note");
    if (!old.contains("gate")) out.erase("gate");
    guard_bound(e, out);
    if (!have.insert({e.identity, e.metric}).second)
      throw Error(baseline_file + ": cannot bless: two entries name the same cell (" + describe(e) +
                  ", row '" + e.row + "', column '" + e.column + "'); file left unchanged");
    arr[i] = std::move(out);
  }

  if (add_missing) {
    std::vector<std::string> wanted = opt.metrics;
    if (wanted.empty()) wanted = metric_order(lb);
    for (const auto& m : wanted) {
      if (!lb.cells.count(m)) {
        std::string avail;
        for (const auto& kv : lb.cells) avail += (avail.empty() ? "" : ", ") + kv.first;
        throw Error(baseline_file + ": cannot bless metric '" + m +
                    "': not in the leaderboard (available: " + avail + ")");
      }
    }
    std::string note = "blessed " + utc_now("%Y-%m-%d");
    for (const auto& row : lb.rows) {
      if (lb.stale_rows.count(row)) continue;  // runs of an earlier plan never become a baseline
      for (const auto& col : lb.columns)
        for (const auto& m : wanted) {
          const Cell* c = find_cell(lb, m, row, col);
          if (!c) continue;
          Entry en;
          en.identity = identity_of(row, col);
          en.has_identity = true;
          if (have.count({en.identity, m})) continue;
          have.insert({en.identity, m});
          auto hib = lb.higher_is_better.find(m);
          bool higher = hib == lb.higher_is_better.end() ? true : hib->second;
          en.row = row;
          en.column = col;
          en.metric = m;
          en.expected = c->mean;
          en.direction = higher ? Direction::kHigherIsBetter : Direction::kLowerIsBetter;
          en.abs_tol = opt.abs_tol;
          en.rel_tol = opt.rel_tol;
          add_samples(en, row, col);
          Json e = entry_json(en, note);
          guard_bound(en, e);
          arr.push_back(std::move(e));
        }
    }
  }
  if (any_samples) doc["format"] = kFormatSamples;
  write_file_atomic(baseline_file, doc.dump(2) + "\n");
  return warnings;
}

}  // namespace vlb
