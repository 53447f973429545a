#pragma once
// The plots of a report page, built from the Leaderboard model and drawn with vlb/reports/svg.h.
// Each function returns standalone SVG (inline in the HTML page).
#include <string>
#include <vector>

#include "vlb/reports/report.h"

namespace vlb {

/// Where bands and error bars come from. With per-sample intervals on the leaderboard (for the
/// primary metric, at least one valid), a cell's band is its interval when valid, else none.
/// Otherwise it is mean ± sample std over seeds where a cell has n > 1, else none. `label` names
/// it for legends ("95% bootstrap CI", "± std over seeds").
struct PlotBands {
  enum class Kind { kSeedStd, kInterval } kind = Kind::kSeedStd;
  std::string label;
};
PlotBands plot_bands(const Leaderboard& lb);

/// The primary metric against each numeric swept axis (numeric_sweep_axes).
/// A column axis (e.g. dataset.shots): one curve per row, and one panel per combination of the
/// other column keys (one per dataset), drawn as small multiples in one figure when there are
/// several. A method parameter: one figure per method that sweeps it, one panel per dataset when
/// datasets vary, one curve per remaining column.
/// The x axis is logarithmic for shots and for any positive axis spanning at least 8x, with ticks
/// at the swept values (the shot counts) unless there are more than 12 of them.
std::vector<std::string> sweep_plots(const Leaderboard& lb);

/// Grouped bars: one group per column, one bar per row, error bars as plot_bands says.
std::string bar_plot(const Leaderboard& lb);

/// Accuracy vs wall time, one small plot per column (at most 6), Pareto front over its rows.
std::vector<std::string> cost_plots(const Leaderboard& lb);

}  // namespace vlb
