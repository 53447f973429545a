// `vlb status results/<exp>`: done/failed/queued/pending runs of the experiment's current plan
// (.plan/current.json, written by `vlb run`), from its run directories and (for Slurm submissions)
// squeue/sacct; failed runs with their error and log, failed array tasks with their log paths.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/slurm.h"
#include "vlb/experiments/workers.h"
#include "vlb/reports/current_plan.h"

namespace vlb::cli {

Command add_status_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand(
      "status", "Show done/failed/queued/pending runs of results/<experiment> (and Slurm tasks)");
  sub->add_option("dir", *dir, "results/<experiment> directory")->required();
  sub->add_flag("--all", *all, "also list the run directories that are not in the current plan");
  sub->footer("Example: vlb status results/quickstart --all");
  return {sub, [dir, all] {
            if (!std::filesystem::is_directory(*dir))
              throw DataError(*dir, "", "not a results directory");
            // Temporaries of this host's dead processes (a kill -9) are removed by whatever next
            // touches the directory; status is often that command.
            for (const auto& t : clean_stale_temporaries(*dir))
              std::cerr << "vlb status: removed " << t << " (left by a process of this host that is gone)\n";
            StatusOptions opts;
            if (auto cp = read_current_plan(*dir)) opts.current_keys = cp->keys;
            ExperimentStatus st = experiment_status(*dir, opts);
            print_status(st, std::cout, *all);
            return st.failed > 0 ? kExitRunsFailed : kExitOk;
          }};
}

}  // namespace vlb::cli
