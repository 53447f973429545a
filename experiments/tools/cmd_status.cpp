// `vlb status results/<exp>`: done/failed/queued/pending runs of an experiment, from its run
// directories and (for Slurm submissions) squeue/sacct; failed array tasks with their log paths.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/slurm.h"

namespace vlb::cli {

Command add_status_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
      "status", "Show done/failed/queued/pending runs of results/<experiment> (and Slurm tasks)");
  sub->add_option("dir", *dir, "results/<experiment> directory")->required();
  return {sub, [dir] {
            if (!std::filesystem::is_directory(*dir))
              throw DataError(*dir, "", "not a results directory");
            ExperimentStatus st = experiment_status(*dir);
            print_status(st, std::cout);
            return st.failed > 0 ? kExitRunsFailed : kExitOk;
          }};
}

}  // namespace vlb::cli
