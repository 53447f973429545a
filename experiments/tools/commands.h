#pragma once
// Each subcommand lives in its own file (cmd_<name>.cpp) and exposes one add_<name>_command()
// that declares its options on the app and returns the function that runs it once parsed.
// vlb_main.cpp gathers them; adding a subcommand = one file + one line there.
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>

#include "vlb/reports/report.h"

namespace vlb::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRegression = 1;  // `check` found a regression
inline constexpr int kExitBadInput = 2;    // bad spec, data file or usage (message says where)
inline constexpr int kExitRunsFailed = 3;  // some runs of a sweep failed (recorded per run)
inline constexpr int kExitEnvironment = 4; // disk full, permission denied... (EnvironmentError)

/// Registers a subcommand; the returned action runs when that subcommand was given.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_registry_commands_list(CLI::App& app);
Command add_registry_commands_describe(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_check_command(CLI::App& app);
Command add_bless_command(CLI::App& app);
Command add_convert_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_inspect_command(CLI::App& app);
Command add_status_command(CLI::App& app);  // cmd_status.cpp
Command add_prune_command(CLI::App& app);   // cmd_prune.cpp
Command add_diff_command(CLI::App& app);    // cmd_diff.cpp
Command add_worker_command(CLI::App& app);  // cmd_worker.cpp (internal: one shard of a plan)
Command add_rescore_command(CLI::App& app);  // cmd_rescore.cpp
/// `convert xlsa17` and `convert sun-clip-gzsl` (cmd_convert_xlsa17.cpp), called by add_convert_command.
void add_xlsa17(CLI::App* convert, std::vector<Command>& subs);
/// NeaR converters (cmd_convert_near.cpp) and composition converters (cmd_convert_composition.cpp).
void add_near_converters(CLI::App* convert, std::vector<Command>& subs);
void add_composition_converters(CLI::App* convert, std::vector<Command>& subs);

/// The per-sample evidence of `lb`'s cells for `check --stat` / `bless --stat`, read from each
/// run's predictions.h5 on first use (cmd_gate_samples.cpp); intervals drawn with these options.
SampleSource gate_sample_source(const Leaderboard& lb, int resamples, uint64_t seed);

/// The report writers (markdown, csv, json, latex), registered once.
const ReportWriterRegistry& builtin_writers();

/// True when stderr is a terminal and CI is unset: progress lines are wanted.
bool interactive();

}  // namespace vlb::cli
