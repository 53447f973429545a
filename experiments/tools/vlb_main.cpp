// vlb — the command-line front end. Each subcommand lives in cmd_<name>.cpp (commands.h);
// this file only gathers them. Exit codes: 0 ok, 1 regression found by `check`, 2 bad input
// (config, data, usage), 3 some runs of a sweep failed (each one recorded in its run directory),
// 4 the environment refused (disk full, file too large, permission denied, out of memory).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <new>

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

// Every error leaves main through here, so destructors (HDF5 handles, temporaries) have run and
// the process exits normally, never from inside a library's own cleanup.
int main(int argc, char** argv) {
  using namespace vlb::cli;
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
