// `vlb check`: each baseline entry against its cell, as a table and as per-entry results that
// the JUnit and JSON writers (gate_output.cpp) render. With --stat, a value beyond tolerance must
// also be significantly worse on the entry's per-sample evidence (gate_samples.cpp).
//
// Note [statistical gate]: the tolerance alone cannot tell a regression from noise when a change
// legitimately perturbs results (another BLAS, thread count or training refactor moves a few
// predictions). So under --stat an entry beyond tolerance in the bad direction fails only when the
// evidence says it is worse:
//  - 0/1 row-mean metrics: exact McNemar on the rows whose value flipped, paired by row id (the
//    rows must be the blessed ones, in order: checked by count and hash) and by seed. Each seed
//    both sides ran pairs the blessed per-row values with the new ones; equal pairs (seeds with
//    identical values on both sides) count once, and the discordant rows are pooled over the
//    distinct pairs. Under H0 a flip is as likely either way, so the p-value is P(X >= worse) for
//    X ~ Bin(worse + better, 1/2), one-sided in the entry's bad direction ("both": two-sided).
//  - other metrics: the new value against the blessed cell's bootstrap interval (drawn at bless
//    time with a recorded seed): outside it on the bad side is significant.
//  - metrics neither applies to (test "none": items that span rows cannot be resampled by row):
//    the tolerance decides, and the message says why no test ran.
// It rejects at 5 %. Check itself draws nothing, so its output depends on the files alone.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <filesystem>
#include <string>
#include <vector>

#include "baseline_file.h"
#include "vlb/core/error.h"
#include "vlb/reports/gate.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

using namespace baseline;

std::string md(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}

std::string changes_text(const std::vector<IdentityChange>& changes) {
  std::string s;
  for (const auto& c : changes) s += (s.empty() ? "" : "; ") + c.key + ": " + c.expected + " → " + c.actual;
  return s;
}

// Compares one entry with the cell's mean; sets status, failed, message.
void judge(const Entry& e, double actual, CheckEntry& ce, CheckResult& res) {
  const double d = actual - e.expected;
  const bool two_sided = e.direction == Direction::kBoth || e.direction == Direction::kExact;
  auto fail = [&](const std::string& status, const std::string& why) {
    ce.status = status;
    ce.failed = e.gate;
    ce.message = why;
  };
  if (std::isnan(actual)) {
    fail("nan", "the result is not a number");
  } else if (two_sided) {
    const bool moved = e.direction == Direction::kExact ? actual != e.expected : std::fabs(d) > ce.allowed;
    if (moved) {
      fail("changed", fmt::format("moved by {:+.6g}, more than the {:.3g} a \"{}\" entry allows", d,
                                  ce.allowed, direction_name(e.direction)));
    } else {
      ce.status = "ok";
    }
  } else {
    const double gain = e.direction == Direction::kHigherIsBetter ? d : -d;  // > 0: better
    if (gain < -ce.allowed) {
      fail("regression", fmt::format("worse by {:.6g}, more than the {:.3g} allowed", std::fabs(d), ce.allowed));
    } else if (gain > ce.allowed) {
      ce.status = "improved";
      ce.message = "better beyond the tolerance: consider `vlb bless`";
      ++res.improvements;
    } else {
      ce.status = "ok";
    }
  }
}

std::string status_text(const CheckEntry& ce) {
  if (ce.status == "ok") return "ok";
  if (ce.status == "improved") return "improved: consider `vlb bless`";
  if (ce.status == "not_significant") return "ok: beyond tolerance, not significant (" + ce.test_detail + ")";
  static const std::map<std::string, std::string> names = {
      {"regression", "regression"}, {"changed", "changed"}, {"nan", "not a number"},
      {"missing", "missing"},       {"params_changed", "parameters changed"}};
  std::string s = names.at(ce.status);
  if (!ce.gate) {
    s = "info: " + s;
    if (ce.status == "regression" || ce.status == "changed") s += " (not gated)";
  } else {
    s = "FAIL: " + s;
  }
  if (ce.status == "params_changed") s += " (" + changes_text(ce.changes) + ")";
  if (ce.test != "tolerance") s += " (" + ce.test_detail + ")";
  const size_t damaged = ce.message.find("damaged run directories");
  if (ce.status == "missing" && damaged != std::string::npos) s += " (" + ce.message.substr(damaged) + ")";
  return s;
}

// Under --stat every gated entry that a tolerance can move needs its evidence.
void require_samples(const File& b, const std::string& file) {
  if (!b.any_samples)
    throw DataError("baseline " + file + " has no per-sample data: rebless with `vlb bless --stat`");
  std::vector<std::string> lacking;
  for (size_t i = 0; i < b.entries.size(); ++i) {
    const Entry& e = b.entries[i];
    if (e.gate && e.direction != Direction::kExact && !e.samples)
      lacking.push_back(fmt::format("entries[{}]: {}", i, describe(e)));
  }
  if (lacking.empty()) return;
  std::string msg = fmt::format("{} gated entr{} no per-sample data: rebless with `vlb bless --stat`:",
                                lacking.size(), lacking.size() == 1 ? "y has" : "ies have");
  for (const auto& l : lacking) msg += "\n  " + l;
  throw DataError(file, "", msg);
}

// Under --stat, after judge(): the entry's evidence decides a value beyond tolerance.
void judge_stat(const std::string& file, const Entry& e, const CellSamples& now, CheckEntry& ce) {
  check_rows(file, ce.index, e, now);
  const bool beyond = ce.status == "regression" || (ce.status == "changed" && e.direction == Direction::kBoth);
  if (!beyond) return;
  if (e.samples->test == Samples::kNone) {
    ce.message += " (no statistical test: " + e.samples->reason + ")";
    return;
  }
  StatDecision d = decide(file, ce.index, e, *ce.actual, now);
  ce.test = d.test;
  ce.test_detail = d.summary;
  if (d.test == "mcnemar") {
    ce.p_value = d.p;
    ce.worse_rows = d.worse;
    ce.better_rows = d.better;
    ce.seed_pairs = d.pairs;
  } else {
    ce.interval_lo = d.lo;
    ce.interval_hi = d.hi;
  }
  if (d.significant) {
    ce.message += "; significant: " + d.summary;
    return;
  }
  const double delta = *ce.actual - e.expected;
  ce.message = e.direction == Direction::kBoth
                   ? fmt::format("moved by {:+.6g}, more than the {:.3g} allowed, not significant: {}",
                                 delta, ce.allowed, d.summary)
                   : fmt::format("worse by {:.6g}, more than the {:.3g} allowed, not significant: {}",
                                 std::fabs(delta), ce.allowed, d.summary);
  ce.status = "not_significant";
  ce.failed = false;
}

}  // namespace

CheckResult check_baseline(const std::string& baseline_file, const Leaderboard& lb) {
  return check_baseline(baseline_file, lb, CheckOptions{});
}

CheckResult check_baseline(const std::string& baseline_file, const Leaderboard& lb,
                           const CheckOptions& opt) {
  if (!fs::exists(baseline_file)) {
    throw DataError(baseline_file, "", "baseline file not found (create it with `vlb bless`)");
  }
  File b = parse(baseline_file);
  if (opt.stat) {
    if (!opt.samples) throw Error("check --stat: no source of per-sample data");
    require_samples(b, baseline_file);
  }
  CheckResult res;
  res.baseline_file = baseline_file;
  res.stat = opt.stat;
  if (b.old_format && !b.entries.empty()) {
    res.warnings.push_back(baseline_file + ": old baseline format (entries named by row and column "
                           "labels, which change when paths or swept settings do): re-bless it with "
                           "`vlb bless --migrate --baseline " + baseline_file + " RESULTS_DIR`");
  }
  std::string damaged;
  for (const auto& d : lb.damaged) damaged += (damaged.empty() ? "" : ", ") + d.file;
  std::vector<std::string> gone;  // entries whose results no longer exist
  std::string& t = res.table_markdown;
  t = "| row | column | metric | expected | actual | Δ | allowed | status |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < b.entries.size(); ++i) {
    const Entry& e = b.entries[i];
    CheckEntry ce;
    ce.index = i;
    ce.identity = e.identity;
    ce.row = e.row;
    ce.column = e.column;
    ce.metric = e.metric;
    ce.expected = e.expected;
    ce.allowed = allowed_of(e);
    ce.gate = e.gate;
    if (e.gate && one_sided_at_bound(e.direction, e.expected, ce.allowed)) {
      res.warnings.push_back(at_bound_warning(baseline_file, e, e.expected) +
                             " (set \"direction\": \"both\")");
    }
    Match m = find_match(e, lb);
    if (m.kind != Match::kNone) {
      ce.row = m.row;
      ce.column = m.column;
      ce.actual = find_cell(lb, e.metric, m.row, m.column)->mean;
    }
    if (m.kind == Match::kExact) {
      judge(e, *ce.actual, ce, res);
      if (opt.stat && e.samples && ce.status != "nan")
        judge_stat(baseline_file, e, opt.samples(m.row, m.column, e.metric, false), ce);
      if (m.regenerated) {
        res.warnings.push_back(fmt::format(
            "{}: entries[{}] ({}): the generated dataset's fingerprint differs from the blessed one "
            "({} → {}; another CPU or BLAS?): compared within tolerance",
            baseline_file, i, describe(e), m.regenerated->expected.substr(0, 12),
            m.regenerated->actual.substr(0, 12)));
      }
    } else if (m.kind == Match::kChanged) {
      ce.status = "params_changed";
      ce.failed = e.gate;
      ce.changes = m.changes;
      ce.message = fmt::format("no result with the blessed parameters; the nearest cell differs in {} "
                               "and moved by {:+.6g}",
                               changes_text(m.changes), *ce.actual - e.expected);
    } else if (e.has_identity && e.gate && damaged.empty()) {
      gone.push_back(fmt::format("entries[{}]: {}", i, describe(e)));
      continue;
    } else {
      ce.status = "missing";
      ce.failed = e.gate;
      ce.message = damaged.empty() ? "no such cell in the results"
                                   : "no such cell in the results; damaged run directories: " + damaged;
    }
    if (ce.failed) ++res.failures;
    std::string actual = ce.actual ? fmt::format("{:.6g}", *ce.actual) : "—";
    std::string delta = ce.actual ? fmt::format("{:+.3g}", *ce.actual - e.expected) : "—";
    t += "| " + md(ce.row) + " | " + md(ce.column.empty() ? "result" : ce.column) + " | " +
         md(e.metric) + " | " + fmt::format("{:.6g}", e.expected) + " | " + actual + " | " +
         delta + " | " + fmt::format("{:.3g}", ce.allowed) + " | " + md(status_text(ce)) + " |\n";
    res.entries.push_back(std::move(ce));
  }
  if (!gone.empty()) {
    std::string msg = std::to_string(gone.size()) + " baseline entr" +
                      (gone.size() == 1 ? "y refers" : "ies refer") +
                      " to results that no longer exist (no cell of the same method, dataset and "
                      "metric; remove the entries, or re-bless after a deliberate change):";
    for (const auto& g : gone) msg += "\n  " + g;
    throw DataError(baseline_file, "", msg);
  }
  return res;
}

}  // namespace vlb
