// Per-sample evidence of a leaderboard cell for the statistical gate, from sample_stats.
#include "vlb/experiments/gate_evidence.h"

#include <algorithm>
#include <string>
#include <utility>

#include "vlb/core/error.h"

namespace vlb {

GateEvidence::GateEvidence(const Registries& reg, BootstrapOptions opt) : reg_(reg), opt_(opt) {}

GateSamples GateEvidence::cell(std::vector<GateRun> runs, const std::string& metric, bool with_interval) {
  if (runs.empty()) throw Error("gate evidence: a cell without runs");
  std::sort(runs.begin(), runs.end(), [](const GateRun& a, const GateRun& b) { return a.seed < b.seed; });
  for (size_t i = 1; i < runs.size(); ++i)
    if (runs[i].seed == runs[i - 1].seed)
      throw Error("gate evidence: seed " + std::to_string(runs[i].seed) + " twice in one cell (" +
                  runs[i - 1].dir + ", " + runs[i].dir + ")");
  std::vector<std::shared_ptr<const RunSamples>> samples;
  for (const auto& r : runs) {
    auto it = loaded_.find(r.dir);
    if (it == loaded_.end()) it = loaded_.emplace(r.dir, RunSamples::load(r.dir, reg_)).first;
    samples.push_back(it->second);
  }
  GateSamples g;
  g.file = runs[0].dir + "/predictions.h5";
  g.row_ids = samples[0]->row_ids();
  g.drawn = opt_;
  for (size_t i = 0; i < runs.size(); ++i) {
    g.seeds.push_back(runs[i].seed);
    if (samples[i]->row_ids() != g.row_ids)
      throw DataError(runs[i].dir + "/predictions.h5", "",
                      "row ids differ from those of " + g.file + " (seed " + std::to_string(runs[0].seed) +
                          ", same cell): the seeds of a cell must be evaluated on the same rows");
  }
  if (!samples[0]->has(metric)) {
    g.no_test = "predictions.h5 cannot recompute " + metric;
    return g;
  }
  const bool zero_one = std::all_of(samples.begin(), samples.end(),
                                    [&](const auto& s) { return s->zero_one(metric); });
  if (zero_one) {
    for (const auto& s : samples) {
      const std::vector<double> v = *s->per_row(metric);
      std::vector<bool> bits(v.size());
      for (size_t r = 0; r < v.size(); ++r) bits[r] = v[r] != 0.0;
      auto at = std::find(g.distinct.begin(), g.distinct.end(), bits);
      g.seed_index.push_back(static_cast<int>(at - g.distinct.begin()));
      if (at == g.distinct.end()) g.distinct.push_back(std::move(bits));
    }
    return g;
  }
  if (!with_interval) return g;
  std::string why;
  if (!samples[0]->resamplable(metric, &why)) {
    g.no_test = why.empty() ? metric + " cannot be recomputed on a resample of rows" : why;
    return g;
  }
  BootstrapInterval b = bootstrap_interval(samples, metric, opt_);
  if (b.valid) g.interval = b;
  else g.no_test = b.note.empty() ? "no bootstrap interval for " + metric : b.note;
  return g;
}

}  // namespace vlb
