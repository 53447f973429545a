#pragma once
// Model selection in reports (experiments/SPEC.md "Model selection"): the runs of a spec with
// `select:` are candidates; for each method, each setting not selected over and each seed, the
// run with the best select.metric on its selection rows is kept and the others are left out, so
// that every cell shows the evaluation metrics of selected configurations only. build_leaderboard
// applies it, so report, check, bless and the tidy export see the same rows.
#include <string>
#include <vector>

#include "vlb/reports/report.h"

namespace vlb {

/// The selected runs, in the order of `runs`: runs without select pass unchanged, failed runs
/// are kept (they are reported as failures), and of each group of ok candidates the best on the
/// selection metric (ties: the earliest in plan order) is kept with its selected-over params moved
/// from `config` to `selected`. Runs already selected pass unchanged. Fills `info` (protocol and
/// counts; the per-cell detail is finish_selection's). DataError naming a run's metrics.json when
/// it lacks the selection metric.
std::vector<RunRecord> apply_selection(const std::vector<RunRecord>& runs, SelectionInfo* info);

/// Sets lb.selection from `info` and lb.runs (chosen values per cell and seed, the selection
/// metrics' cells, where each row was selected) and puts the chosen values back into the config
/// of lb.runs' records, so that the tidy export has every setting of every run.
void finish_selection(Leaderboard& lb, SelectionInfo info);

/// "l2 = 0.0001 (2 seeds), 0.001 (1)": the values chosen for one cell; "" when nothing was chosen.
std::string chosen_text(const Leaderboard& lb, const std::string& row, const std::string& column);

/// One line for a report header: "Model selection: cls/top1 on val over l2, per seed …", or
/// "Model selection: none — every configuration reported." when method params name rows and no
/// run was selected; "" when there is nothing to select.
std::string selection_protocol_line(const Leaderboard& lb);

/// Markdown: the protocol line and, when runs were selected, a table of the selected rows with
/// the chosen values and the selection metrics per column. "" when there is nothing to say.
std::string selection_summary(const Leaderboard& lb);

/// The same for the HTML page: the protocol as a note and the table of selected rows.
std::string selection_html(const Leaderboard& lb);

}  // namespace vlb
