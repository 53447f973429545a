#pragma once
// The baseline file as check and bless read it, and how its entries find their cells. Internal to
// vlb_reports.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "vlb/reports/gate.h"

namespace vlb::baseline {

using Json = nlohmann::ordered_json;  // keeps the file's key order when blessing

inline constexpr const char* kFormat = "vlb-baseline/2";

// Which way a cell may move before the entry fails: one-sided (the bad direction only), both ways
// beyond the tolerance, or not at all.
enum class Direction { kHigherIsBetter, kLowerIsBetter, kBoth, kExact };
const char* direction_name(Direction d);

struct Entry {
  std::string row, column, metric;  // labels (old format: what the entry matches on)
  Identity identity;                // empty in the old format
  bool has_identity = false;
  double expected = 0.0;
  Direction direction = Direction::kHigherIsBetter;
  double abs_tol = 0.0;
  double rel_tol = 0.0;
  bool gate = true;
};

struct File {
  Json doc;
  bool old_format = false;     // no "format": entries name cells by labels
  std::vector<Entry> entries;  // parallel to doc["entries"]
};

/// DataError naming the file and e.g. "entries[2].expected".
File parse(const std::string& file);

double allowed_of(const Entry& e);
bool one_sided_at_bound(Direction d, double expected, double allowed);
std::string at_bound_warning(const std::string& file, const Entry& e, double expected);
/// "method 'ncm', dataset 'dtd', metric 'cls/top1'" (old format: row and column).
std::string describe(const Entry& e);

/// Where an entry's cell is in a leaderboard.
struct Match {
  enum Kind { kExact, kChanged, kNone } kind = kNone;
  std::string row, column;
  std::vector<IdentityChange> changes;  // kChanged
  // kExact by Note [generated datasets]: the fingerprint change, for a warning.
  std::optional<IdentityChange> regenerated;
};
/// Identity entries: the cell with the same identity (current rows before stale ones), else the
/// nearest cell of the same method.name, dataset.name and metric. Old-format entries: the cell
/// with the entry's row and column labels.
// Note [generated datasets]: a dataset generated from its parameters (no path among its
// settings: synth and the other seeded sources) is pinned by those parameters, which the identity
// holds. Its bytes come from floating-point code (random draws, QR) that another CPU or BLAS may
// round differently, giving another fingerprint for the same parameters. A cell that differs
// from the entry only in such a fingerprint is compared (the tolerance decides), with a warning;
// a file dataset whose fingerprint changed is a changed parameter.
Match find_match(const Entry& e, const Leaderboard& lb);

/// An entry object as bless writes it (identity first, labels last).
Json entry_json(const Entry& e, const std::string& note);

}  // namespace vlb::baseline
