// Paired t-interval and exact sign test over seeds (Boost.Math distributions).
#include "vlb/reports/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

#include "format.h"
#include "vlb/core/error.h"

namespace vlb {

PairedTInterval paired_t_interval(const std::vector<double>& diffs, double confidence) {
  if (!(confidence > 0.0 && confidence < 1.0)) {
    throw Error(fmt::format("confidence must be in (0, 1), got {}", confidence));
  }
  PairedTInterval r;
  r.n = static_cast<int>(diffs.size());
  if (r.n == 0) return r;
  double sum = 0.0;
  for (double d : diffs) sum += d;
  r.mean = sum / r.n;
  r.lo = r.hi = r.mean;
  if (r.n < 2) return r;
  double ss = 0.0;
  for (double d : diffs) ss += (d - r.mean) * (d - r.mean);
  r.sd = std::sqrt(ss / (r.n - 1));
  boost::math::students_t dist(static_cast<double>(r.n - 1));
  r.t_crit = boost::math::quantile(dist, 1.0 - (1.0 - confidence) / 2.0);
  double half = r.t_crit * r.sd / std::sqrt(static_cast<double>(r.n));
  r.lo = r.mean - half;
  r.hi = r.mean + half;
  r.valid = true;
  return r;
}

double sign_test_two_sided(int positives, int negatives) {
  if (positives < 0 || negatives < 0) throw Error("sign test: negative counts");
  int n = positives + negatives;
  if (n == 0) return 1.0;
  int k = std::min(positives, negatives);
  boost::math::binomial_distribution<double> dist(n, 0.5);
  // Symmetric under p = 1/2: twice the lower tail, capped (k == n/2 double-counts the centre).
  return std::min(1.0, 2.0 * boost::math::cdf(dist, static_cast<double>(k)));
}

PairedComparison compare_paired(const Leaderboard& lb, const std::string& metric,
                                const std::string& row, const std::string& baseline_row,
                                const std::string& column, double confidence) {
  auto values_of = [&](const std::string& r) -> const std::map<int64_t, double>& {
    auto m = lb.seed_values.find(metric);
    if (m != lb.seed_values.end()) {
      auto rr = m->second.find(r);
      if (rr != m->second.end()) {
        auto c = rr->second.find(column);
        if (c != rr->second.end()) return c->second;
      }
    }
    throw Error("no values of '" + metric + "' for row '" + r + "' in column '" + column + "'");
  };
  const auto& a = values_of(row);
  const auto& b = values_of(baseline_row);
  auto hib_it = lb.higher_is_better.find(metric);
  bool hib = hib_it == lb.higher_is_better.end() ? true : hib_it->second;

  PairedComparison pc;
  for (const auto& [seed, v] : a) {
    auto it = b.find(seed);
    if (it == b.end()) continue;
    pc.seeds.push_back(seed);
    double d = v - it->second;
    pc.diffs.push_back(d);
    double good = hib ? d : -d;
    if (good > 0) ++pc.better;
    else if (good < 0) ++pc.worse;
    else ++pc.ties;
  }
  pc.t = paired_t_interval(pc.diffs, confidence);
  pc.sign_p = sign_test_two_sided(pc.better, pc.worse);
  int n = static_cast<int>(pc.diffs.size());
  if (!pc.t.valid) {
    pc.verdict = "n<2";
    pc.tooltip = fmt::format("{} shared seed{}: no paired test", n, n == 1 ? "" : "s");
    return pc;
  }
  bool covers_zero = pc.t.lo <= 0.0 && pc.t.hi >= 0.0;
  if (covers_zero) {
    pc.verdict = "within noise";
    pc.mark = "≈";
  } else {
    bool up = pc.t.lo > 0.0;
    pc.verdict = (up == hib) ? "better" : "worse";
    pc.mark = pc.verdict == "better" ? "▲" : "▼";
  }
  // The units of the table: percentage points for metrics shown in percent.
  const bool pct = report_format::as_percent(lb, metric);
  pc.tooltip = fmt::format("vs {}: Δ mean {}, {:.0f}% paired t-interval over seeds {} (n={}, t={:.3f})",
                           baseline_row, report_format::fmt_delta(pc.t.mean, pct), 100.0 * confidence,
                           report_format::fmt_range(pc.t.lo, pc.t.hi, pct), n, pc.t.t_crit);
  if (n <= kSmallSeedCount) {
    pc.tooltip += fmt::format("; sign test {}+/{}-/{}= p={:.3g}", pc.better, pc.worse, pc.ties,
                              pc.sign_p);
  }
  pc.tooltip += "; " + pc.verdict;
  return pc;
}

}  // namespace vlb
