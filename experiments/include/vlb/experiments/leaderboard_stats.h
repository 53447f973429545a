#pragma once
// Per-sample intervals and tests on a leaderboard: every cell's runs (Leaderboard::run_dirs) are
// reloaded from their predictions.h5 (sample_stats.h) and the results stored in lb.intervals,
// lb.comparisons and lb.sample_stats, which the report writers render.
#include <iosfwd>
#include <string>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/sample_stats.h"
#include "vlb/reports/report.h"

namespace vlb {

/// Fills, for every metric, each cell's bootstrap interval and each cell's paired test against
/// `baseline_row` (a label or unique prefix, "" = the first row) in its column, paired by seed;
/// Holm–Bonferroni over each metric's table; ▲/▼ where the adjusted p is below 0.05, ≈ otherwise.
/// opt.resamples == 0 computes nothing (lb.sample_stats.resamples stays 0). Cells whose runs have
/// no usable predictions.h5 get a note instead ("no per-sample predictions: no test"); one
/// summary line per cause goes to `warnings` when given. Error when baseline_row matches no row.
void attach_sample_stats(Leaderboard& lb, const Registries& reg, const BootstrapOptions& opt,
                         const std::string& baseline_row, std::ostream* warnings = nullptr);

/// "seeds identical: effective n = 1" (every seed the same predictions), "3 seeds, 2 distinct:
/// effective n = 2", or "" when every seed differs.
std::string identical_seeds_note(int seeds, int effective_seeds);

}  // namespace vlb
