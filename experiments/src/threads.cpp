// Choosing the intra-op thread count of a sweep's runs (threads.h).
#include "vlb/experiments/threads.h"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <thread>

namespace vlb {
namespace {

// OMP_NUM_THREADS is a list ("4,2" for nested levels): the first entry is the outer count.
// Returns 0 when unset or not a positive integer (then it caps nothing).
int omp_cap(const std::string& v) {
  size_t i = 0;
  while (i < v.size() && std::isspace(static_cast<unsigned char>(v[i]))) ++i;
  long n = 0;
  size_t digits = 0;
  for (; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); ++i, ++digits) {
    n = n * 10 + (v[i] - '0');
    if (n > 1024) n = 1024;  // runtime.threads' own limit
  }
  while (i < v.size() && std::isspace(static_cast<unsigned char>(v[i]))) ++i;
  if (digits == 0 || (i < v.size() && v[i] != ',')) return 0;
  return static_cast<int>(n);
}

std::string plural(long n, const char* word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

}  // namespace

ThreadsChoice resolve_threads(const ThreadsInputs& in) {
  ThreadsChoice c;
  c.jobs = std::max(1, in.jobs);
  c.cores = in.cores;
  if (in.override_threads > 0) {
    c.threads = in.override_threads;
    c.automatic = false;
    c.policy = fmt::format("--threads {}", in.override_threads);
    return c;
  }
  if (in.spec_threads != kThreadsAuto) {
    c.threads = in.spec_threads;
    c.automatic = false;
    c.policy = fmt::format("runtime.threads: {}", in.spec_threads);
    return c;
  }
  const std::string share =
      in.cores > 0 ? fmt::format("{} / {}", plural(in.cores, "core"), plural(c.jobs, "job"))
                   : std::string("cores unknown");
  const int fair = in.cores > 0 ? std::max(1, static_cast<int>(in.cores) / c.jobs) : 1;
  // Note [OMP_NUM_THREADS caps auto]: whoever exported it (./vlb test does, for ctest -j) has
  // already divided the machine; an explicit runtime.threads or --threads still wins.
  const int cap = omp_cap(in.omp_num_threads);
  if (cap > 0 && (cap < fair || in.cores == 0)) {
    c.threads = cap;
    c.policy = fmt::format("auto: OMP_NUM_THREADS={} ({})", cap, share);
  } else {
    c.threads = fair;
    c.policy = "auto: " + share;
  }
  return c;
}

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  return std::thread::hardware_concurrency();  // 0 when unknown
}

ThreadsChoice choose_threads(int spec_threads, int override_threads, int jobs) {
  ThreadsInputs in;
  in.spec_threads = spec_threads;
  in.override_threads = override_threads;
  in.jobs = jobs;
  in.cores = usable_cores();
  if (const char* omp = std::getenv("OMP_NUM_THREADS")) in.omp_num_threads = omp;
  return resolve_threads(in);
}

ThreadsChoice choose_slurm_threads(int spec_threads, int override_threads) {
  ThreadsInputs in;
  in.spec_threads = spec_threads;
  in.override_threads = override_threads;
  ThreadsChoice c = resolve_threads(in);
  if (c.automatic) c.policy = "auto: 1 per Slurm array task";
  return c;
}

std::string threads_line(size_t runs_to_do, const ThreadsChoice& c) {
  return fmt::format("vlb run: {} to do, --jobs {} x {} per run ({})\n",
                     plural(static_cast<long>(runs_to_do), "run"), c.jobs,
                     plural(c.threads, "thread"), c.policy);
}

}  // namespace vlb
