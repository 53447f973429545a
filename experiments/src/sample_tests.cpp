// Bootstrap intervals, exact McNemar, paired bootstrap and Holm's adjustment over RunSamples
// (sample_stats.h). Binomial tails from Boost.Math.
#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/binomial.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "vlb/core/error.h"
#include "vlb/experiments/sample_stats.h"

namespace vlb {
namespace {

using Samples = std::vector<std::shared_ptr<const RunSamples>>;

/// xoshiro256** (Blackman and Vigna, https://prng.di.unimi.it/), seeded by splitmix64, with
/// Lemire's unbiased multiply-and-reject bounded draws ("Fast Random Integer Generation in an
/// Interval", ACM TOMACS 2019): the same numbers on every standard library, unlike
/// std::uniform_int_distribution, and several times faster than std::mt19937_64 here.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t out = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return out;
  }
  uint64_t below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  void rows(int64_t n, std::vector<int64_t>& idx) {
    idx.resize(static_cast<size_t>(n));
    for (auto& i : idx) i = static_cast<int64_t>(below(static_cast<uint64_t>(n)));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
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

/// Percentile interval (and the +1-corrected two-sided p-value against 0, when `p` is given) of
/// sorted bootstrap replicates.
void summarise(std::vector<double>& reps, double level, double& lo, double& hi, double* p) {
  std::sort(reps.begin(), reps.end());
  const double alpha = 1.0 - level;
  lo = quantile(reps, alpha / 2);
  hi = quantile(reps, 1 - alpha / 2);
  if (p) {
    // Note [bootstrap p-value]: two-sided, from the bootstrap distribution of the difference
    // with the +1 correction that keeps p > 0: p = min(1, 2 min((1 + #{Δ* <= 0}) / (B + 1),
    // (1 + #{Δ* >= 0}) / (B + 1))), B the scored resamples.
    const double le = static_cast<double>(std::upper_bound(reps.begin(), reps.end(), 0.0) - reps.begin());
    const double ge = static_cast<double>(reps.end() - std::lower_bound(reps.begin(), reps.end(), 0.0));
    const double bb = static_cast<double>(reps.size()) + 1.0;
    *p = std::min(1.0, 2.0 * std::min((1.0 + le) / bb, (1.0 + ge) / bb));
  }
}

}  // namespace

BootstrapInterval bootstrap_interval(const Samples& seeds, const std::string& name,
                                     const BootstrapOptions& opt) {
  return bootstrap_intervals(seeds, {name}, opt)[0];
}

// Note [seeds in sample statistics] (sample_stats.h): runs with equal digests are one observation.
// The units resampled are the distinct runs (or distinct pairs of runs), in first-seen order. The
// draws never depend on the metrics, so every metric sees the same resamples.
std::vector<BootstrapInterval> bootstrap_intervals(const Samples& seeds, const std::vector<std::string>& names,
                                                   const BootstrapOptions& opt) {
  check_options(opt);
  check_present(seeds, "bootstrap_interval");
  std::vector<BootstrapInterval> out(names.size());
  std::vector<const RunSamples*> units;
  std::map<std::string, bool> seen;
  for (const auto& s : seeds)
    if (!seen[s->digest()]) {
      seen[s->digest()] = true;
      units.push_back(s.get());
    }
  std::vector<std::string> live;  // names every unit can resample
  std::vector<size_t> at;
  for (size_t k = 0; k < names.size(); ++k) {
    BootstrapInterval& r = out[k];
    r.seeds = static_cast<int>(seeds.size());
    r.effective_seeds = static_cast<int>(units.size());
    if (seeds.empty()) r.note = "no runs";
    for (const auto* u : units)
      if (r.note.empty()) u->resamplable(names[k], &r.note);
    if (r.note.empty() && opt.resamples == 0) r.note = "no resamples";
    if (!r.note.empty()) continue;
    live.push_back(names[k]);
    at.push_back(k);
  }
  if (live.empty()) return out;
  const size_t e = units.size();
  Rng rng(opt.seed);
  std::vector<std::vector<double>> reps(live.size());
  std::vector<double> sum(live.size());
  std::vector<int64_t> idx;
  for (int b = 0; b < opt.resamples; ++b) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (size_t j = 0; j < e; ++j) {
      const RunSamples* u = units[e == 1 ? 0 : rng.below(e)];
      rng.rows(u->size(), idx);
      const auto v = u->values_on(live, idx);
      for (size_t k = 0; k < live.size(); ++k) sum[k] += v[k];
    }
    for (size_t k = 0; k < live.size(); ++k) {
      const double v = sum[k] / static_cast<double>(e);
      if (std::isfinite(v)) reps[k].push_back(v);
    }
  }
  for (size_t k = 0; k < live.size(); ++k) {
    BootstrapInterval& r = out[at[k]];
    if (!enough(reps[k].size(), opt.resamples)) {
      r.note = dropped_note(reps[k].size(), opt.resamples);
      continue;
    }
    summarise(reps[k], opt.level, r.lo, r.hi, nullptr);
    r.resamples = static_cast<int>(reps[k].size());
    r.valid = true;
  }
  return out;
}

PairedTest paired_test(const Samples& a, const Samples& b, const std::string& name,
                       const BootstrapOptions& opt) {
  return paired_tests(a, b, {name}, opt)[0];
}

std::vector<PairedTest> paired_tests(const Samples& a, const Samples& b, const std::vector<std::string>& names,
                                     const BootstrapOptions& opt) {
  check_options(opt);
  check_present(a, "paired_test");
  check_present(b, "paired_test");
  if (a.size() != b.size())
    throw Error(fmt::format("paired_test: {} runs against {}: pair them by seed first", a.size(), b.size()));
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i]->row_ids() != b[i]->row_ids())
      throw DataError(a[i]->run_dir() + "/predictions.h5", "/rows",
                      fmt::format("its {} evaluation rows are not the {} rows of {}/predictions.h5 "
                                  "(same seed): the runs cannot be paired by sample",
                                  a[i]->size(), b[i]->size(), b[i]->run_dir()));
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
  std::vector<PairedTest> out(names.size());
  std::vector<std::string> live;
  std::vector<size_t> at;
  std::vector<bool> mcnemar;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& name = names[k];
    PairedTest& t = out[k];
    t.seeds = static_cast<int>(a.size());
    t.effective_seeds = static_cast<int>(e);
    t.seeds_identical = t.effective_seeds < t.seeds;
    t.rows = a.empty() ? 0 : a[0]->size();
    if (a.empty()) t.note = "no shared seed";
    for (const auto& [ua, ub] : units)
      if (t.note.empty() && ua->resamplable(name, &t.note)) ub->resamplable(name, &t.note);
    if (!t.note.empty()) continue;
    bool zo = true;
    double d = 0;
    for (const auto& [ua, ub] : units) {
      zo = zo && ua->zero_one(name) && ub->zero_one(name);
      d += ua->value(name) - ub->value(name);
    }
    t.diff = d / static_cast<double>(e);
    t.lo = t.hi = t.diff;
    // Note [pooled McNemar]: under H0 (both sides equally likely to be right on any row) every
    // discordant (seed, row) pair is a fair coin, whichever seed it comes from, so the discordant
    // pairs of all distinct seeds together are Binomial(only_a + only_b, 1/2): an exact test.
    if (zo) {
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
      if (opt.resamples == 0) t.note = "no resamples";
    }
    if (opt.resamples == 0) continue;
    live.push_back(name);
    at.push_back(k);
    mcnemar.push_back(zo);
  }
  if (live.empty()) return out;
  // Both sides of a drawn pair are scored on the same drawn rows: the pairing the test needs.
  Rng rng(opt.seed);
  std::vector<std::vector<double>> reps(live.size());
  std::vector<double> sum(live.size());
  std::vector<int64_t> idx;
  for (int r = 0; r < opt.resamples; ++r) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (size_t j = 0; j < e; ++j) {
      const auto& u = units[e == 1 ? 0 : rng.below(e)];
      rng.rows(u.first->size(), idx);
      const auto va = u.first->values_on(live, idx), vb = u.second->values_on(live, idx);
      for (size_t k = 0; k < live.size(); ++k) sum[k] += va[k] - vb[k];
    }
    for (size_t k = 0; k < live.size(); ++k) {
      const double v = sum[k] / static_cast<double>(e);
      if (std::isfinite(v)) reps[k].push_back(v);
    }
  }
  for (size_t k = 0; k < live.size(); ++k) {
    PairedTest& t = out[at[k]];
    if (!enough(reps[k].size(), opt.resamples)) {
      t.note = dropped_note(reps[k].size(), opt.resamples);
      if (!mcnemar[k]) t.valid = false;
      continue;
    }
    summarise(reps[k], opt.level, t.lo, t.hi, mcnemar[k] ? nullptr : &t.p);
    if (!mcnemar[k]) t.valid = true;
  }
  return out;
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
