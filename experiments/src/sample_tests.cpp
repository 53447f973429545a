// Bootstrap intervals, exact McNemar, paired bootstrap and Holm's adjustment over RunSamples
// (sample_stats.h). Binomial tails from Boost.Math.
#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "vlb/core/error.h"
#include "vlb/experiments/sample_stats.h"

namespace vlb {
namespace {

using Samples = std::vector<std::shared_ptr<const RunSamples>>;

/// Unbiased draws below n (rejection at the top of the range): the same numbers on every
/// standard library, unlike std::uniform_int_distribution.
class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t below(uint64_t n) {
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t limit = max - max % n;
    uint64_t x;
    do x = g_();
    while (x >= limit);
    return x % n;
  }
  void rows(int64_t n, std::vector<int64_t>& idx) {
    idx.resize(static_cast<size_t>(n));
    for (auto& i : idx) i = static_cast<int64_t>(below(static_cast<uint64_t>(n)));
  }

 private:
  std::mt19937_64 g_;
};

/// Linear interpolation between order statistics (numpy.percentile's default, which
/// scipy.stats.bootstrap's percentile method uses). `v` sorted, non-empty.
double quantile(const std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

void check_options(const BootstrapOptions& opt) {
  if (!(opt.level > 0.0 && opt.level < 1.0))
    throw Error(fmt::format("bootstrap level must be in (0, 1), got {}", opt.level));
  if (opt.resamples < 0) throw Error(fmt::format("resamples must be >= 0, got {}", opt.resamples));
}

/// Replicates that came out NaN (a resample the metric cannot score) are dropped; more than 1 %
/// of them make the result invalid rather than quietly conditional on the rest.
bool enough(size_t finite, int resamples) {
  return finite > 0 && finite * 100 >= static_cast<size_t>(resamples) * 99;
}

std::string dropped_note(size_t finite, int resamples) {
  return fmt::format("only {} of {} resamples could be scored", finite, resamples);
}

void check_present(const Samples& v, const char* what) {
  for (const auto& s : v)
    if (!s) throw Error(std::string("sample statistics: a null run in ") + what);
}

}  // namespace

// Note [seeds in sample statistics] (sample_stats.h): runs with equal digests are one observation.
// The units resampled are the distinct runs (or distinct pairs of runs), in first-seen order.
BootstrapInterval bootstrap_interval(const Samples& seeds, const std::string& name,
                                     const BootstrapOptions& opt) {
  check_options(opt);
  check_present(seeds, "bootstrap_interval");
  BootstrapInterval r;
  r.seeds = static_cast<int>(seeds.size());
  if (seeds.empty()) {
    r.note = "no runs";
    return r;
  }
  std::vector<const RunSamples*> units;
  std::map<std::string, bool> seen;
  for (const auto& s : seeds)
    if (!seen[s->digest()]) {
      seen[s->digest()] = true;
      units.push_back(s.get());
    }
  r.effective_seeds = static_cast<int>(units.size());
  for (const auto* u : units) {
    std::string why;
    if (!u->resamplable(name, &why)) {
      r.note = why;
      return r;
    }
  }
  if (opt.resamples == 0) {
    r.note = "no resamples";
    return r;
  }
  const size_t e = units.size();
  Rng rng(opt.seed);
  std::vector<double> reps;
  reps.reserve(opt.resamples);
  std::vector<int64_t> idx;
  for (int b = 0; b < opt.resamples; ++b) {
    double v;
    if (e == 1) {
      rng.rows(units[0]->size(), idx);
      v = units[0]->value_on(name, idx);
    } else {
      double sum = 0;
      for (size_t j = 0; j < e; ++j) {
        const RunSamples* u = units[rng.below(e)];
        rng.rows(u->size(), idx);
        sum += u->value_on(name, idx);
      }
      v = sum / static_cast<double>(e);
    }
    if (std::isfinite(v)) reps.push_back(v);
  }
  if (!enough(reps.size(), opt.resamples)) {
    r.note = dropped_note(reps.size(), opt.resamples);
    return r;
  }
  std::sort(reps.begin(), reps.end());
  const double alpha = 1.0 - opt.level;
  r.lo = quantile(reps, alpha / 2);
  r.hi = quantile(reps, 1 - alpha / 2);
  r.resamples = static_cast<int>(reps.size());
  r.valid = true;
  return r;
}

PairedTest paired_test(const Samples& a, const Samples& b, const std::string& name,
                       const BootstrapOptions& opt) {
  check_options(opt);
  check_present(a, "paired_test");
  check_present(b, "paired_test");
  if (a.size() != b.size())
    throw Error(fmt::format("paired_test: {} runs against {}: pair them by seed first", a.size(), b.size()));
  PairedTest t;
  t.seeds = static_cast<int>(a.size());
  if (a.empty()) {
    t.note = "no shared seed";
    return t;
  }
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i]->row_ids() != b[i]->row_ids())
      throw DataError(a[i]->run_dir() + "/predictions.h5", "/rows",
                      fmt::format("its {} evaluation rows are not the {} rows of {}/predictions.h5 "
                                  "(same seed): the runs cannot be paired by sample",
                                  a[i]->size(), b[i]->size(), b[i]->run_dir()));
  t.rows = a[0]->size();
  std::vector<std::pair<const RunSamples*, const RunSamples*>> units;
  std::map<std::string, bool> seen;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string key = a[i]->digest() + "|" + b[i]->digest();
    if (!seen[key]) {
      seen[key] = true;
      units.emplace_back(a[i].get(), b[i].get());
    }
  }
  const size_t e = units.size();
  t.effective_seeds = static_cast<int>(e);
  t.seeds_identical = t.effective_seeds < t.seeds;
  bool mcnemar = true;
  for (const auto& [ua, ub] : units) {
    std::string why;
    if (!ua->resamplable(name, &why) || !ub->resamplable(name, &why)) {
      t.note = why;
      return t;
    }
    mcnemar = mcnemar && ua->zero_one(name) && ub->zero_one(name);
  }
  double d = 0;
  for (const auto& [ua, ub] : units) d += ua->value(name) - ub->value(name);
  t.diff = d / static_cast<double>(e);
  t.lo = t.hi = t.diff;

  // Note [pooled McNemar]: under H0 (both sides equally likely to be right on any row) every
  // discordant (seed, row) pair is a fair coin, whichever seed it comes from, so the discordant
  // pairs of all distinct seeds together are Binomial(only_a + only_b, 1/2): an exact test.
  if (mcnemar) {
    for (const auto& [ua, ub] : units) {
      const auto va = *ua->per_row(name), vb = *ub->per_row(name);
      for (size_t i = 0; i < va.size(); ++i) {
        t.only_a += va[i] > vb[i];
        t.only_b += vb[i] > va[i];
      }
    }
    t.test = "mcnemar";
    t.p = binomial_two_sided_half(t.only_a, t.only_a + t.only_b);
    t.valid = true;
  } else {
    t.test = "paired bootstrap";
  }
  if (opt.resamples == 0) {
    if (!mcnemar) t.note = "no resamples";
    return t;
  }
  // Both sides of a drawn pair are scored on the same drawn rows: the pairing the test needs.
  Rng rng(opt.seed);
  std::vector<double> reps;
  reps.reserve(opt.resamples);
  std::vector<int64_t> idx;
  for (int r = 0; r < opt.resamples; ++r) {
    double sum = 0;
    for (size_t j = 0; j < e; ++j) {
      const auto& u = units[e == 1 ? 0 : rng.below(e)];
      rng.rows(u.first->size(), idx);
      sum += u.first->value_on(name, idx) - u.second->value_on(name, idx);
    }
    const double v = sum / static_cast<double>(e);
    if (std::isfinite(v)) reps.push_back(v);
  }
  if (!enough(reps.size(), opt.resamples)) {
    t.note = dropped_note(reps.size(), opt.resamples);
    if (!mcnemar) t.valid = false;
    return t;
  }
  std::sort(reps.begin(), reps.end());
  const double alpha = 1.0 - opt.level;
  t.lo = quantile(reps, alpha / 2);
  t.hi = quantile(reps, 1 - alpha / 2);
  if (!mcnemar) {
    // Note [bootstrap p-value]: two-sided, from the bootstrap distribution of the difference with
    // the +1 correction that keeps p > 0: p = min(1, 2 min((1 + #{Δ* <= 0}) / (B + 1),
    // (1 + #{Δ* >= 0}) / (B + 1))), B the scored resamples.
    const double le = static_cast<double>(std::upper_bound(reps.begin(), reps.end(), 0.0) - reps.begin());
    const double ge = static_cast<double>(reps.end() - std::lower_bound(reps.begin(), reps.end(), 0.0));
    const double bb = static_cast<double>(reps.size()) + 1.0;
    t.p = std::min(1.0, 2.0 * std::min((1.0 + le) / bb, (1.0 + ge) / bb));
    t.valid = true;
  }
  return t;
}

double binomial_two_sided_half(int64_t k, int64_t n) {
  if (k < 0 || n < 0 || k > n) throw Error(fmt::format("binomial test: {} successes in {} trials", k, n));
  if (n == 0) return 1.0;
  // Symmetric at 1/2: the outcomes no more likely than k are both tails beyond min(k, n - k).
  boost::math::binomial_distribution<double> dist(static_cast<double>(n), 0.5);
  const double m = static_cast<double>(std::min(k, n - k));
  return std::min(1.0, 2.0 * boost::math::cdf(dist, m));
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return p[x] < p[y]; });
  std::vector<double> out(m);
  double running = 0;
  for (size_t i = 0; i < m; ++i) {
    const double pi = p[order[i]];
    if (!(pi >= 0.0 && pi <= 1.0)) throw Error(fmt::format("holm_adjust: p-value {} not in [0, 1]", pi));
    running = std::max(running, std::min(1.0, static_cast<double>(m - i) * pi));
    out[order[i]] = running;
  }
  return out;
}

}  // namespace vlb
