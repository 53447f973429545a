// vlb — the command-line front end. Each subcommand lives in cmd_<name>.cpp (commands.h);
// this file only gathers them. Exit codes: 0 ok, 1 regression found by `check`, 2 bad input
// (config, data, usage), 3 some runs of a sweep failed (each one recorded in its run directory),
// 4 the environment refused (disk full, file too large, permission denied, out of memory).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/core/io_error.h"

namespace vlb::cli {

const ReportWriterRegistry& builtin_writers() {
  static const ReportWriterRegistry r = [] {
    ReportWriterRegistry w("report writer");
    register_builtin_writers(w);
    return w;
  }();
  return r;
}

bool interactive() { return isatty(2) && std::getenv("CI") == nullptr; }

namespace {

int run_main(int argc, char** argv) {
  CLI::App app{"vlb — reproducible benchmarks of vision-language methods on precomputed features.\n"
               "Exit codes: 0 ok, 1 regression (check), 2 bad input, 3 failed runs, 4 environment\n"
               "(disk full, permission denied, out of memory)."};
  app.set_version_flag("--version", VLB_VERSION);
  app.require_subcommand(1);
  std::vector<Command> commands = {
      add_registry_commands_list(app),
      add_registry_commands_describe(app),
      add_run_command(app),
      add_report_command(app),
      add_check_command(app),
      add_bless_command(app),
      add_convert_command(app),
      add_synth_command(app),
      add_inspect_command(app),
      add_status_command(app),
      add_prune_command(app),
      add_diff_command(app),
      add_worker_command(app),
      add_rescore_command(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }
  for (const auto& c : commands)
    if (c.app->parsed()) return c.run();
  return kExitBadInput;
}

}  // namespace
}  // namespace vlb::cli

// Note [Passive OpenMP threads]: by default libgomp's idle workers spin for a while after each
// parallel region, and OpenBLAS's own workers spin between GEMMs. With as many threads as cores
// the two pools take turns on the same cores, and a small GEMM after a parallel region waits a
// scheduler time slice (milliseconds) for its worker: at 2 threads on 2 cores a 60 ms ICIS run
// spent 8 ms in a predict that takes 0.3 ms at 1 thread. Passive OpenMP workers sleep at once;
// whole sweeps at 2 threads ran 1.1-1.6x faster that way (docs/performance.md). libgomp reads
// OMP_WAIT_POLICY when it is loaded, before main, so `vlb run` and `vlb worker` set it and
// execute themselves again, once (loading LibTorch twice costs about 0.7 s, so the other
// commands do not, and ./vlb and the tests export it). A value the user set is kept. No result
// depends on it: only who waits how.
static void passive_openmp(int argc, char** argv) {
  if (argc < 2 || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  const std::string command = argv[1];
  if (command != "run" && command != "worker") return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

// Every error leaves main through here, so destructors (HDF5 handles, temporaries) have run and
// the process exits normally, never from inside a library's own cleanup.
int main(int argc, char** argv) {
  using namespace vlb::cli;
  passive_openmp(argc, argv);
  try {
    return run_main(argc, argv);
  } catch (const vlb::EnvironmentError& e) {
    std::cerr << "vlb: error: " << e.what() << "\n";
    return kExitEnvironment;
  } catch (const std::filesystem::filesystem_error& e) {
    // The path is in what(); the error code says whose fault it is.
    std::cerr << "vlb: error: " << e.what() << "\n";
    return vlb::is_environment_errno(e.code().value()) ? kExitEnvironment : kExitBadInput;
  } catch (const std::bad_alloc&) {
    std::cerr << "vlb: error: out of memory\n";
    return kExitEnvironment;
  } catch (const std::exception& e) {
    std::cerr << "vlb: error: " << e.what() << "\n";
    return kExitBadInput;
  }
}
