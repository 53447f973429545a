// `vlb worker --plan DIR --task I`: executes one shard of a written plan (DIR/plan.json). Started
// by `vlb run --jobs N` and by Slurm array tasks (docs/cluster.md); not meant to be typed.
#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/workers.h"

namespace vlb::cli {

Command add_worker_command(CLI::App& app) {
  struct State {
    std::string plan;
    int task = -1;
    bool quiet = false;
    std::string ledger;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "worker", "(internal) run task I of a plan directory written by `vlb run --jobs/--backend`");
  sub->add_option("--plan", st->plan, "plan directory (holds plan.json)")->required();
  sub->add_option("--task", st->task, "task index (default: $SLURM_ARRAY_TASK_ID)");
  sub->add_flag("--quiet", st->quiet, "print failures only");
  sub->add_option("--ledger", st->ledger,
                  "append '<fate> <key>' per run dealt with to this file (for `vlb run --jobs`)");
  return {sub, [st] {
            int task = st->task;
            if (task < 0) {
              const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
              if (!id) throw ConfigError("vlb worker: no --task and no SLURM_ARRAY_TASK_ID");
              task = std::atoi(id);
            }
            install_signal_cleanup();
            WorkerSummary s =
                run_worker_task(st->plan, task, builtins(), st->quiet, std::cout, st->ledger);
            return s.failed > 0 ? kExitRunsFailed : kExitOk;
          }};
}

}  // namespace vlb::cli
