// The per-sample evidence `vlb check --stat` and `vlb bless --stat` hand to the gate: each cell's
// runs (from the leaderboard) read through GateEvidence, as the reports library's CellSamples.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/gate_evidence.h"

namespace vlb::cli {

SampleSource gate_sample_source(const Leaderboard& lb, int resamples, uint64_t seed) {
  std::map<std::pair<std::string, std::string>, std::vector<GateRun>> runs;
  for (const auto& r : lb.runs) runs[{r.row, r.column}].push_back({r.record.seed, r.record.dir});
  BootstrapOptions opt;
  opt.resamples = resamples;
  opt.seed = seed;
  auto evidence = std::make_shared<GateEvidence>(builtins(), opt);
  return [runs = std::move(runs), evidence](const std::string& row, const std::string& column,
                                            const std::string& metric, bool with_interval) {
    auto it = runs.find({row, column});
    if (it == runs.end()) throw Error("no runs for row '" + row + "', column '" + column + "'");
    GateSamples g = evidence->cell(it->second, metric, with_interval);
    CellSamples c;
    c.file = std::move(g.file);
    c.row_ids = std::move(g.row_ids);
    c.seeds = std::move(g.seeds);
    c.distinct = std::move(g.distinct);
    c.seed_index = std::move(g.seed_index);
    if (g.interval)
      c.interval = CellSamples::Interval{g.interval->lo, g.interval->hi, g.drawn.level,
                                         g.interval->resamples, g.drawn.seed,
                                         g.interval->effective_seeds};
    c.no_test = std::move(g.no_test);
    return c;
  };
}

}  // namespace vlb::cli
