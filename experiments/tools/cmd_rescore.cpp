// `vlb rescore results/EXP`: recompute metrics from the per-sample predictions each run kept
// (predictions.h5) and check them against metrics.json, or add metrics the runs did not compute.
#include <iostream>
#include <sstream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/rescore.h"
#include "vlb/reports/current_plan.h"

namespace vlb::cli {

Command add_rescore_command(CLI::App& app) {
  struct State {
    std::string dir;
    std::string metrics;
    bool all = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "rescore",
      "Recompute metrics from each run's predictions.h5: prints 'identical' per run or the "
      "differences (exit 1), and adds --metrics values a run did not compute to its metrics.json");
  sub->add_option("dir", st->dir, "results/<experiment> directory")->required();
  sub->add_option("--metrics", st->metrics,
                  "comma list of metrics (registry names, default params) to compute as well");
  sub->add_flag("--all", st->all,
                "every ok run directory, not only the runs of the current plan (.plan/current.json)");
  sub->footer(
      "Example:\n"
      "  vlb rescore results/quickstart --metrics top5,mean_per_class\n"
      "Existing values are never rewritten: a value that comes out different is reported and the\n"
      "exit status is 1. Runs without predictions.h5 (runtime.predictions: none, or older runs)\n"
      "are an error (exit 2); runs that kept only the top-k scores rescore top-1/top-k (k up to\n"
      "the stored k) and mean_per_class exactly and refuse metrics that need the full scores.");
  return {sub, [st] {
            RescoreOptions opts;
            std::stringstream ss(st->metrics);
            std::string m;
            while (std::getline(ss, m, ','))
              if (!m.empty()) opts.extra_metrics.push_back(m);
            if (!st->all) {
              if (auto plan = read_current_plan(st->dir)) opts.keys = plan->key_set();
            }
            RescoreSummary s = rescore_experiment(st->dir, opts, builtins(), std::cout);
            return s.not_reproduced > 0 ? kExitRegression : kExitOk;
          }};
}

}  // namespace vlb::cli
