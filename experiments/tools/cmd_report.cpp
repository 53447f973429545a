// `vlb report`, `vlb check`, `vlb bless`: leaderboards and the regression gate, from run
// directories alone.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb::cli {
namespace {

const ReportWriterRegistry& writers() {
  static const ReportWriterRegistry r = [] {
    ReportWriterRegistry w("report writer");
    register_builtin_writers(w);
    return w;
  }();
  return r;
}

Leaderboard leaderboard_of(const std::string& dir, const std::string& primary) {
  if (!fs::is_directory(dir)) throw DataError(dir, "", "not a results directory");
  auto runs = load_runs(dir);
  if (runs.empty()) throw DataError(dir, "", "no run directories found (run `vlb run SPEC` first)");
  fs::path p = fs::path(dir).lexically_normal();
  std::string name = p.filename().string();
  if (name.empty()) name = p.parent_path().filename().string();
  return build_leaderboard(runs, name, primary);
}

}  // namespace

Command add_report_command(CLI::App& app) {
  struct State {
    std::vector<std::string> dirs;
    std::string primary, out;
    std::vector<std::string> formats{"markdown", "csv", "json"};
    bool print = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand("report", "Write the leaderboard (Markdown, CSV, JSON) of experiment results");
  sub->add_option("dirs", st->dirs, "results/<experiment> directories")->required();
  sub->add_option("--primary", st->primary, "primary metric (default cls/top1 if present)");
  sub->add_option("--format", st->formats, "writers to use (see `vlb list writers`)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--out", st->out, "write here instead of into each experiment directory");
  sub->add_flag("--print", st->print, "also print the Markdown leaderboard");
  return {sub, [st] {
            for (const auto& dir : st->dirs) {
              Leaderboard lb = leaderboard_of(dir, st->primary);
              std::string target = st->out.empty() ? dir : st->out;
              for (const auto& f : st->formats) {
                auto writer = writers().create(f, Params{});
                std::string path = (fs::path(target) / ("leaderboard." + writer->extension())).string();
                write_file_atomic(path, writer->render(lb));
                std::cerr << "vlb report: wrote " << path << "\n";
              }
              if (st->print) std::cout << writers().create("markdown", Params{})->render(lb);
            }
            return kExitOk;
          }};
}

Command add_check_command(CLI::App& app) {
  struct State {
    std::string baseline, dir, primary;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand("check", "Compare results with a baseline file; exit 1 on a regression");
  sub->add_option("--baseline", st->baseline, "baseline JSON")->required();
  sub->add_option("dir", st->dir, "results/<experiment>")->required();
  sub->add_option("--primary", st->primary, "primary metric used to build the leaderboard");
  return {sub, [st] {
            CheckResult r = check_baseline(st->baseline, leaderboard_of(st->dir, st->primary));
            std::cout << r.table_markdown;
            if (r.improvements > 0)
              std::cout << fmt::format("\n{} improvement(s) beyond tolerance: consider `vlb bless`.\n",
                                       r.improvements);
            if (r.failures > 0) {
              std::cout << fmt::format("\nFAILED: {} regression(s) or missing result(s) against {}\n",
                                       r.failures, st->baseline);
              return kExitRegression;
            }
            std::cout << fmt::format("\nOK: no regression against {}\n", st->baseline);
            return kExitOk;
          }};
}

Command add_bless_command(CLI::App& app) {
  struct State {
    std::string baseline, dir, primary;
    std::vector<std::string> metrics;
    bool add_missing = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "bless", "Rewrite a baseline's expected values from results (keeps tolerances and notes)");
  sub->add_option("--baseline", st->baseline, "baseline JSON (created if absent)")->required();
  sub->add_option("dir", st->dir, "results/<experiment>")->required();
  sub->add_option("--metrics", st->metrics, "metrics to add with --add-missing (comma-separated)")
      ->delimiter(',');
  sub->add_flag("--add-missing", st->add_missing, "add entries for cells not in the baseline yet");
  return {sub, [st] {
            bless_baseline(st->baseline, leaderboard_of(st->dir, st->primary), st->metrics,
                           st->add_missing);
            std::cerr << "vlb bless: updated " << st->baseline << "\n";
            return kExitOk;
          }};
}

}  // namespace vlb::cli
