// attach_sample_stats (leaderboard_stats.h): per-sample intervals and paired tests for every cell
// of a leaderboard, Holm-adjusted per metric table.
#include "vlb/experiments/leaderboard_stats.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <ostream>

#include "vlb/core/error.h"
#include "vlb/reports/page.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

constexpr const char* kNoPredictions = "no per-sample predictions: no test";

/// Each run directory loaded once; a failure is kept as the note every cell of that run shows.
class SampleCache {
 public:
  SampleCache(const Registries& reg) : reg_(reg) {}
  std::shared_ptr<const RunSamples> get(const std::string& dir, std::string& note) {
    auto it = loaded_.find(dir);
    if (it == loaded_.end()) {
      Entry e;
      if (!fs::exists(fs::path(dir) / "predictions.h5")) {
        e.note = kNoPredictions;
      } else {
        try {
          e.samples = RunSamples::load(dir, reg_);
        } catch (const std::exception& ex) {
          e.note = std::string("per-sample predictions unusable: no test (") + ex.what() + ")";
        }
      }
      if (!e.samples) causes_[e.note == kNoPredictions ? std::string(kNoPredictions) : e.note].push_back(dir);
      it = loaded_.emplace(dir, std::move(e)).first;
    }
    note = it->second.note;
    return it->second.samples;
  }
  /// Cause -> run directories, for one warning line per cause.
  const std::map<std::string, std::vector<std::string>>& causes() const { return causes_; }

 private:
  struct Entry {
    std::shared_ptr<const RunSamples> samples;
    std::string note;
  };
  const Registries& reg_;
  std::map<std::string, Entry> loaded_;
  std::map<std::string, std::vector<std::string>> causes_;
};

}  // namespace

std::string identical_seeds_note(int seeds, int effective_seeds) {
  if (seeds <= 1 || effective_seeds >= seeds) return "";
  if (effective_seeds == 1) return "seeds identical: effective n = 1";
  return fmt::format("{} seeds, {} distinct: effective n = {}", seeds, effective_seeds, effective_seeds);
}

void attach_sample_stats(Leaderboard& lb, const Registries& reg, const BootstrapOptions& opt,
                         const std::string& baseline_row, std::ostream* warnings) {
  lb.intervals.clear();
  lb.comparisons.clear();
  lb.sample_stats = SampleStatsSettings{};
  if (opt.resamples == 0 || lb.primary_metric.empty() || lb.rows.empty()) return;
  const std::string base = resolve_baseline_row(lb, baseline_row);
  lb.sample_stats.resamples = opt.resamples;
  lb.sample_stats.seed = opt.seed;
  lb.sample_stats.level = opt.level;
  lb.sample_stats.baseline_row = base;
  const double alpha = lb.sample_stats.alpha;

  std::map<std::string, int64_t> seed_of;  // run dir -> runtime.seed
  for (const auto& r : lb.runs) seed_of[r.record.dir] = r.record.seed;
  SampleCache cache(reg);
  // The runs of a cell by seed; `note` set (and an empty map returned) when one is unusable.
  auto cell_runs = [&](const std::string& row, const std::string& col, std::string& note) {
    std::map<int64_t, std::shared_ptr<const RunSamples>> out;
    auto r = lb.run_dirs.find(row);
    if (r == lb.run_dirs.end() || !r->second.count(col)) return out;
    const auto& dirs = r->second.at(col);
    bool all = true;
    for (size_t i = 0; i < dirs.size(); ++i) {
      std::string why;
      auto s = cache.get(dirs[i], why);
      if (!s) {
        if (all) note = why;  // the first cause; every run is still loaded (and counted) once
        all = false;
        continue;
      }
      auto sd = seed_of.find(dirs[i]);
      out[sd == seed_of.end() ? static_cast<int64_t>(i) : sd->second] = s;
    }
    if (!all) out.clear();
    return out;
  };

  for (const auto& [metric, by_row] : lb.cells) {
    auto hib_it = lb.higher_is_better.find(metric);
    const bool hib = hib_it == lb.higher_is_better.end() ? true : hib_it->second;
    for (const auto& [row, by_col] : by_row)
      for (const auto& [col, cell] : by_col) {
        std::string note;
        auto runs = cell_runs(row, col, note);
        CellInterval& ci = lb.intervals[metric][row][col];
        if (runs.empty()) {
          ci.note = note.empty() ? kNoPredictions : note;
          continue;
        }
        std::vector<std::shared_ptr<const RunSamples>> v;
        for (const auto& [seed, s] : runs) v.push_back(s);
        BootstrapInterval bi = bootstrap_interval(v, metric, opt);
        ci.lo = bi.lo;
        ci.hi = bi.hi;
        ci.resamples = bi.resamples;
        ci.effective_seeds = bi.effective_seeds;
        ci.valid = bi.valid;
        ci.note = bi.valid ? identical_seeds_note(bi.seeds, bi.effective_seeds) : bi.note;
      }

    // One family per metric table: every row x column against the baseline row.
    std::vector<CellComparison*> family;
    auto b_row = by_row.find(base);
    for (const auto& [row, by_col] : by_row) {
      if (row == base || b_row == by_row.end()) continue;
      for (const auto& [col, cell] : by_col) {
        if (!b_row->second.count(col)) continue;
        CellComparison& cc = lb.comparisons[metric][row][col];
        std::string note_a, note_b;
        auto ra = cell_runs(row, col, note_a), rb = cell_runs(base, col, note_b);
        if (ra.empty() || rb.empty()) {
          cc.note = !note_a.empty() ? note_a : !note_b.empty() ? note_b : kNoPredictions;
          continue;
        }
        std::vector<std::shared_ptr<const RunSamples>> a, b;
        for (const auto& [seed, s] : ra) {
          auto it = rb.find(seed);
          if (it == rb.end()) continue;
          a.push_back(s);
          b.push_back(it->second);
        }
        PairedTest t = paired_test(a, b, metric, opt);
        cc.test = t.valid ? t.test : "";
        cc.diff = t.diff;
        cc.lo = t.lo;
        cc.hi = t.hi;
        cc.p = t.p;
        cc.p_holm = t.p;
        cc.rows = t.rows;
        cc.seeds = t.seeds;
        cc.effective_seeds = t.effective_seeds;
        cc.seeds_identical = t.seeds_identical;
        cc.note = t.valid ? identical_seeds_note(t.seeds, t.effective_seeds) : t.note;
        if (t.valid) family.push_back(&cc);
      }
    }
    std::vector<double> ps;
    for (const auto* c : family) ps.push_back(c->p);
    const std::vector<double> adj = holm_adjust(ps);
    for (size_t i = 0; i < family.size(); ++i) {
      CellComparison& c = *family[i];
      c.p_holm = adj[i];
      c.mark = c.p_holm < alpha && c.diff != 0.0 ? ((c.diff > 0) == hib ? "▲" : "▼") : "≈";
    }
  }
  if (warnings)
    for (const auto& [cause, dirs] : cache.causes())
      *warnings << fmt::format("vlb report: {} run(s) without per-sample statistics ({}), e.g. {}\n",
                               dirs.size(), cause, dirs.front());
}

}  // namespace vlb
