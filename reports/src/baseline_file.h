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
inline constexpr const char* kFormatSamples = "vlb-baseline/3";  // some entry holds "samples"

// Which way a cell may move before the entry fails: one-sided (the bad direction only), both ways
// beyond the tolerance, or not at all.
enum class Direction { kHigherIsBetter, kLowerIsBetter, kBoth, kExact };
const char* direction_name(Direction d);

/// An entry's per-sample evidence as stored ("samples"; gate_samples.cpp reads and writes it):
///   {"test": "mcnemar", "rows": N, "row_ids": SHA, "seeds": [..], "seed_bits": [..],
///    "bits": [BASE64, ..]}
///   {"test": "bootstrap_interval", "rows": N, "row_ids": SHA, "seeds": [..], "lo": x, "hi": y,
///    "level": 0.95, "resamples": R, "seed": S, "effective_seeds": E}
///   {"test": "none", "rows": N, "row_ids": SHA, "seeds": [..], "reason": "..."}
/// SHA: sha256 hex of the row ids as int64 little-endian, in stored order. BASE64: one distinct
/// seed's per-row values, row i in bit (i % 8) of byte i / 8, zero padding bits.
struct Samples {
  enum Test { kMcNemar, kInterval, kNone } test = kMcNemar;
  int64_t rows = 0;
  std::string row_ids;
  std::vector<int64_t> seeds;           // ascending, distinct
  std::vector<std::vector<bool>> bits;  // kMcNemar: per distinct seed, per row
  std::vector<int> seed_bits;           // kMcNemar: parallel to seeds, index into bits
  CellSamples::Interval interval;       // kInterval
  std::string reason;                   // kNone: why no test applies
};
const char* test_name(Samples::Test t);

struct Entry {
  std::string row, column, metric;  // labels (old format: what the entry matches on)
  Identity identity;                // empty in the old format
  bool has_identity = false;
  double expected = 0.0;
  Direction direction = Direction::kHigherIsBetter;
  double abs_tol = 0.0;
  double rel_tol = 0.0;
  bool gate = true;
  std::optional<Samples> samples;
};

struct File {
  Json doc;
  bool old_format = false;     // no "format": entries name cells by labels
  bool any_samples = false;    // some entry holds "samples"
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

/// An entry object as bless writes it (identity first, labels last, "samples" after them).
Json entry_json(const Entry& e, const std::string& note);

// ---- Per-sample evidence (gate_samples.cpp) ----

/// sha256 hex of the row ids (int64 little-endian, in order).
std::string row_ids_hash(const std::vector<int64_t>& row_ids);
/// What bless stores for a cell's evidence. Error when a metric that is not 0/1 comes without
/// its interval.
Samples samples_of(const CellSamples& c);
Json samples_json(const Samples& s);
/// DataError naming the file and `at` (e.g. "entries[2].samples.bits[0]").
Samples parse_samples(const std::string& file, const std::string& at, const Json& j);

/// The outcome of the statistical test on an entry whose value is beyond tolerance.
struct StatDecision {
  std::string test;  // "mcnemar" | "bootstrap_interval"
  bool significant = false;
  double p = 1.0;
  int64_t worse = 0, better = 0;
  int pairs = 0;
  double lo = 0, hi = 0;
  std::string summary;  // "McNemar p = 0.31 (12 rows worse, 8 better; 3 seed pairs)"
};
/// Checks that `now` has the blessed rows (DataError naming now.file and the entry otherwise) and
/// shares a seed with them; then, for a value beyond tolerance, decides (Note [statistical gate]).
void check_rows(const std::string& file, size_t index, const Entry& e, const CellSamples& now);
StatDecision decide(const std::string& file, size_t index, const Entry& e, double actual,
                    const CellSamples& now);

/// P(X >= k) for X ~ Bin(n, 1/2): the one-sided exact McNemar p of k discordant pairs against.
double binomial_upper_half(int64_t k, int64_t n);

}  // namespace vlb::baseline
