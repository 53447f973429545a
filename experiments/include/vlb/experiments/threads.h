#pragma once
// How many intra-op threads each run of a sweep uses (experiments/SPEC.md "Threads"). The count
// never changes a run's numbers, so it is not part of the run key: the sweep chooses it from the
// spec, --threads, --jobs and the machine, and env.json records the choice.
#include <string>

namespace vlb {

/// runtime.threads: auto (the default) is stored as 0, an explicit count as itself (>= 1).
inline constexpr int kThreadsAuto = 0;

/// What the choice is made from. Pure data: tests give any machine they like.
struct ThreadsInputs {
  int spec_threads = kThreadsAuto;  // runtime.threads
  int override_threads = 0;         // --threads N (> 0), else 0
  int jobs = 1;                     // runs at once on this machine (local workers), >= 1
  unsigned cores = 0;               // CPUs this process may use; 0 = unknown
  std::string omp_num_threads;      // the environment's OMP_NUM_THREADS, "" when unset
};

/// The choice, as the runs apply it and env.json records it.
struct ThreadsChoice {
  int threads = 1;     // at::set_num_threads before each run
  int jobs = 1;        // as given
  unsigned cores = 0;  // as given
  bool automatic = true;
  std::string policy;  // env.json "threads_policy": "auto: 2 cores / 2 jobs", "--threads 4", ...
};

/// --threads N, else runtime.threads N, else auto = max(1, cores / jobs), capped by a positive
/// OMP_NUM_THREADS (its first entry; anything else in it is ignored). Unknown cores: auto = 1.
ThreadsChoice resolve_threads(const ThreadsInputs& in);

/// The CPUs this process may run on (sched_getaffinity), else hardware_concurrency, else 0.
unsigned usable_cores();

/// resolve_threads with this machine's cores and environment.
ThreadsChoice choose_threads(int spec_threads, int override_threads, int jobs);

/// The Slurm backend: each array task runs its runs one after another on an allocation the
/// submit host cannot see, so auto is 1 thread per task (the array is the parallelism) and an
/// explicit count is requested as --cpus-per-task.
ThreadsChoice choose_slurm_threads(int spec_threads, int override_threads);

/// "vlb run: 90 runs to do, --jobs 2 x 1 thread per run (auto: 2 cores / 2 jobs)".
std::string threads_line(size_t runs_to_do, const ThreadsChoice& c);

}  // namespace vlb
