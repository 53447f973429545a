// `vlb run SPEC`: expand and run a sweep (experiments/SPEC.md).
#include "commands.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/runner.h"

#include <iostream>

namespace vlb::cli {

Command add_run_command(CLI::App& app) {
  struct State {
    std::string spec;
    RunOptions opts;
    bool no_progress = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand("run", "Run an experiment spec (a sweep) into results/<experiment>/");
  sub->add_option("spec", st->spec, "experiment spec (YAML)")->required();
  sub->add_option("--set", st->opts.overrides, "override a spec value: a.b=v (repeatable)");
  sub->add_flag("--dry-run", st->opts.dry_run, "print the plan (run keys, done/pending); run nothing");
  sub->add_flag("--force", st->opts.force, "rerun runs that are already complete");
  sub->add_option("--results", st->opts.results_root, "results root directory")->capture_default_str();
  sub->add_option("--threads", st->opts.threads, "override runtime.threads")->check(CLI::PositiveNumber);
  sub->add_flag("--no-progress", st->no_progress, "no progress line");
  return {sub, [st] {
            st->opts.progress = !st->no_progress && interactive();
            SweepSummary s = run_experiment(st->spec, st->opts, builtins(), std::cout);
            return s.failed > 0 ? kExitRunsFailed : kExitOk;
          }};
}

}  // namespace vlb::cli
