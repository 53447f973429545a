// `vlb run SPEC`: expand and run a sweep (experiments/SPEC.md) here, in N local worker processes
// (--jobs), or as one Slurm array job (--backend slurm, docs/cluster.md).
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/clock.h"
#include "vlb/core/error.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/runner.h"
#include "vlb/experiments/slurm.h"
#include "vlb/experiments/spec.h"
#include "vlb/experiments/workers.h"
#include "vlb/reports/current_plan.h"

namespace vlb::cli {
namespace {

std::string self_executable() {
  char buf[PATH_MAX + 1] = {0};
  ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX);
  if (n <= 0) throw Error("cannot resolve /proc/self/exe: the path of this vlb binary is needed");
  return std::string(buf, static_cast<size_t>(n));
}

// The plan `vlb run` executes owns its results directory from now on (status, prune, report).
void record_current_plan(const Plan& plan) {
  CurrentPlan cp;
  cp.experiment = plan.experiment;
  cp.spec = plan.spec_path;
  cp.overrides = plan.overrides;
  cp.written_at = utc_now();
  for (const auto& r : plan.runs) cp.keys.push_back(r.key);
  write_current_plan(plan.experiment_dir, cp);
}

}  // namespace

Command add_run_command(CLI::App& app) {
  struct State {
    std::string spec;
    RunOptions opts;
    bool no_progress = false;
    std::string backend = "local";
    SlurmOptions slurm;
    bool wait = false;
    double poll = 10;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand("run", "Run an experiment spec (a sweep) into results/<experiment>/");
  sub->add_option("spec", st->spec, "experiment spec (YAML)")->required();
  sub->add_option("--set", st->opts.overrides, "override a spec value: a.b=v (repeatable)");
  sub->add_flag("--dry-run", st->opts.dry_run,
                "print the plan (run keys, done/pending), or with --backend slurm the sbatch "
                "script; run nothing");
  sub->add_flag("--force", st->opts.force, "rerun runs that are already complete");
  sub->add_option("--results", st->opts.results_root, "results root directory")->capture_default_str();
  sub->add_option("--threads", st->opts.threads,
                  "intra-op threads per run, overriding runtime.threads (default auto: the "
                  "usable cores / --jobs, capped by OMP_NUM_THREADS; results do not depend on it)")
      ->check(CLI::PositiveNumber);
  sub->add_flag("--no-progress", st->no_progress, "no progress line");
  // Passed on as VLB_MAX_RUNS: workers and array tasks expand the same plan and inherit it.
  sub->add_option_function<long long>(
         "--max-runs",
         [](long long n) { setenv("VLB_MAX_RUNS", std::to_string(n).c_str(), 1); },
         "refuse a plan of more runs than N (default 100000, or VLB_MAX_RUNS)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--jobs,-j", st->opts.jobs,
                  "local backend: run in N worker processes (threads auto: they share the cores)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sub->add_option("--backend", st->backend, "where runs execute: local or slurm")
      ->check(CLI::IsMember({"local", "slurm"}))
      ->capture_default_str();
  sub->add_option("--partition", st->slurm.partition, "slurm: partition");
  sub->add_option("--time", st->slurm.time, "slurm: time limit per array task (e.g. 1:00:00)");
  sub->add_option("--mem", st->slurm.mem, "slurm: memory per array task (e.g. 8G)");
  sub->add_option("--array-limit", st->slurm.array_limit,
                  "slurm: at most L array tasks at once (--array=0-N%L)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--runs-per-task", st->slurm.runs_per_task,
                  "slurm: runs executed by one array task")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--only-failed", st->slurm.only_failed,
                "slurm: submit only runs that an earlier, finished task left failed or undone");
  sub->add_flag("--wait", st->wait,
                "slurm: block until the job ends (progress lines), then write the report");
  sub->add_option("--poll", st->poll, "slurm --wait: seconds between squeue polls")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  return {sub, [st] {
            st->opts.progress = !st->no_progress && interactive();
            st->opts.record_plan = record_current_plan;
            if (st->backend == "local") {
              if (st->slurm.only_failed || st->wait || !st->slurm.partition.empty() ||
                  !st->slurm.time.empty() || !st->slurm.mem.empty() || st->slurm.array_limit)
                throw ConfigError(
                    "--partition/--time/--mem/--array-limit/--only-failed/--wait need "
                    "--backend slurm");
              if (st->opts.jobs > 1) st->opts.worker_executable = self_executable();
              if (!st->opts.dry_run) install_signal_cleanup();
              SweepSummary s = run_experiment(st->spec, st->opts, builtins(), std::cout);
              return s.failed > 0 || s.not_run > 0 ? kExitRunsFailed : kExitOk;
            }
            if (st->opts.jobs > 1)
              throw ConfigError("--jobs is for the local backend (Slurm runs one task per shard)");
            st->slurm.executable = self_executable();
            SlurmSubmission sub = submit_slurm(st->spec, st->opts, st->slurm, builtins(), std::cout);
            if (!st->wait || st->opts.dry_run) return kExitOk;
            // The experiment directory, from the plan just written (or the spec's name).
            std::string exp_dir =
                sub.submit_dir.empty()
                    ? ""
                    : std::filesystem::path(sub.submit_dir).parent_path().parent_path().string();
            if (exp_dir.empty()) return kExitOk;  // nothing was submitted: all done or in flight
            ExperimentStatus end = wait_for_experiment(exp_dir, st->poll, std::cerr);
            print_status(end, std::cout);
            // The report from the run directories alone, as `vlb report` writes it.
            std::string cmd = "'" + self_executable() + "' report '" + exp_dir + "'";
            int rc = std::system(cmd.c_str());
            if (rc != 0) std::cerr << "vlb run: writing the report failed\n";
            return end.failed > 0 || end.pending > 0 ? kExitRunsFailed : kExitOk;
          }};
}

}  // namespace vlb::cli
