// `vlb report`, `vlb check`, `vlb bless`: leaderboards and the regression gate, from run
// directories alone.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/experiments/leaderboard_stats.h"
#include "vlb/reports/current_plan.h"
#include "vlb/reports/page.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb::cli {
namespace {


// The runs of the current plan (.plan/current.json; every run without one), plus the others
// marked stale when `all`. Damaged run directories are left out with a warning on stderr.
Leaderboard leaderboard_of(const std::string& dir, const std::string& primary, bool all,
                           const char* who) {
  if (!fs::is_directory(dir)) throw DataError(dir, "", "not a results directory");
  std::vector<DamagedRun> damaged;
  auto runs = load_runs(dir, &damaged);
  for (const auto& d : damaged)
    std::cerr << "vlb " << who << ": warning: damaged run directory left out: " << d.message << "\n";
  RunSelection sel = select_current(runs, dir, all);
  if (runs.empty() && damaged.empty())
    throw DataError(dir, "", sel.stale > 0 ? "no run of the current plan (`--all` shows the " +
                                                 std::to_string(sel.stale) + " other runs)"
                                           : std::string("no run directories found (run `vlb run SPEC` first)"));
  if (sel.stale > 0 && !all)
    std::cerr << "vlb " << who << ": " << sel.stale << " run(s) not in the current plan ("
              << current_plan_path(dir) << ") left out; --all shows them\n";
  fs::path p = fs::path(dir).lexically_normal();
  std::string name = p.filename().string();
  if (name.empty()) name = p.parent_path().filename().string();
  Leaderboard lb = build_leaderboard(runs, name, primary);
  lb.damaged = std::move(damaged);
  lb.stale_left_out = all ? 0 : sel.stale;
  return lb;
}

const char* kAllHelp = "also use runs not in the current plan (.plan/current.json), marked stale";

}  // namespace

/// The command line that regenerates the page, rebuilt from the parsed options (so it reads the
/// same whatever binary path or option order was used).
std::string quote_arg(const std::string& a) {
  if (!a.empty() && a.find_first_of(" \t'\"$`\\;&|<>()*?[]{}~#") == std::string::npos) return a;
  std::string out = "'";
  for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Command add_report_command(CLI::App& app) {
  struct State {
    std::vector<std::string> dirs;
    std::string primary, out, baseline_row, paper, html_title;
    std::vector<std::string> formats{"markdown", "csv", "json"};
    bool print = false, html = false, latex = false, all = false, aux = false;
    BootstrapOptions stat;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "report", "Write the leaderboard (Markdown, CSV, JSON; --html page, --latex table) of experiment results");
  sub->add_option("dirs", st->dirs, "results/<experiment> directories")->required();
  sub->footer("Example: vlb report results/quickstart --print --format markdown,csv,tidy --aux");
  sub->add_option("--primary", st->primary, "primary metric (default cls/top1 if present)");
  sub->add_option("--format", st->formats,
                  "writers to use (see `vlb list writers`); tidy writes leaderboard.tidy.csv and .tidy.jsonl")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--out", st->out, "write here instead of into each experiment directory");
  sub->add_flag("--print", st->print, "also print the Markdown leaderboard");
  sub->add_flag("--all", st->all, kAllHelp);
  sub->add_flag("--aux", st->aux, "add a table per aux value (searched alpha, epochs run, ...) to the Markdown");
  sub->add_flag("--html", st->html,
                "also write one self-contained report.html for all DIRS (into --out, the experiment "
                "directory, or for several experiments their common parent)");
  sub->add_flag("--latex", st->latex, "also write leaderboard.tex (booktabs)");
  sub->add_option("--baseline-row", st->baseline_row,
                  "row the HTML page compares every method with (label or unique prefix; default: first row)");
  sub->add_option("--paper", st->paper,
                  "YAML file of published values: values: [{row, column, value, source}] (shown as Δ paper)");
  sub->add_option("--resamples", st->stat.resamples,
                  "bootstrap resamples of the per-sample intervals and paired tests (from each run's "
                  "predictions.h5); 0 = no intervals, no tests, no marks")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  sub->add_option("--stat-seed", st->stat.seed, "seed of the bootstrap resamples (same seed, same intervals)")
      ->capture_default_str();
  return {sub, [st] {
            std::vector<Leaderboard> boards;
            for (const auto& dir : st->dirs) {
              Leaderboard lb = leaderboard_of(dir, st->primary, st->all, "report");
              attach_sample_stats(lb, builtins(), st->stat, st->baseline_row, &std::cerr);
              std::string target = st->out.empty() ? dir : st->out;
              std::vector<std::string> formats = st->formats;
              auto add = [&](const char* f) {
                if (std::find(formats.begin(), formats.end(), f) == formats.end()) formats.push_back(f);
              };
              if (st->latex) add("latex");
              if (std::find(formats.begin(), formats.end(), "tidy") != formats.end()) add("tidy-jsonl");
              Params wp;
              wp.set("aux", st->aux);
              for (const auto& f : formats) {
                auto writer = builtin_writers().create(f, wp);
                std::string path = (fs::path(target) / ("leaderboard." + writer->extension())).string();
                write_file_atomic(path, writer->render(lb));
                std::cerr << "vlb report: wrote " << path << "\n";
              }
              if (st->print) std::cout << builtin_writers().create("markdown", wp)->render(lb);
              boards.push_back(std::move(lb));
            }
            if (st->html) {
              HtmlPageOptions opt;
              if (!st->paper.empty()) opt.paper = load_paper_values(st->paper);
              opt.baseline_row = st->baseline_row;
              std::string page_dir = st->out;
              if (page_dir.empty()) {
                page_dir = st->dirs.size() == 1
                               ? st->dirs[0]
                               : fs::path(st->dirs[0]).lexically_normal().parent_path().string();
                if (page_dir.empty()) page_dir = ".";
              }
              opt.page_dir = page_dir;
              std::string cmd = "vlb report";
              for (const auto& d : st->dirs) cmd += " " + quote_arg(d);
              cmd += " --html";
              if (st->latex) cmd += " --latex";
              if (st->all) cmd += " --all";
              if (!st->primary.empty()) cmd += " --primary " + quote_arg(st->primary);
              if (!st->baseline_row.empty()) cmd += " --baseline-row " + quote_arg(st->baseline_row);
              if (!st->paper.empty()) cmd += " --paper " + quote_arg(st->paper);
              if (st->stat.resamples != BootstrapOptions{}.resamples)
                cmd += " --resamples " + std::to_string(st->stat.resamples);
              if (st->stat.seed != BootstrapOptions{}.seed) cmd += " --stat-seed " + std::to_string(st->stat.seed);
              if (!st->out.empty()) cmd += " --out " + quote_arg(st->out);
              opt.command = cmd;
              std::string path = (fs::path(page_dir) / "report.html").string();
              write_file_atomic(path, render_html_page(boards, opt));
              std::cerr << "vlb report: wrote " << path << "\n";
            }
            return kExitOk;
          }};
}

Command add_check_command(CLI::App& app) {
  struct State {
    std::string baseline, dir, primary, junit, json;
    bool all = false, stat = false;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "check", "Compare results with a baseline file; exit 1 on a regression or changed parameters, "
               "2 when an entry's results no longer exist");
  sub->add_option("--baseline", st->baseline, "baseline JSON")->required();
  sub->footer("Example: vlb check --baseline tests/regression/baselines/quickstart.json "
              "results/quickstart --junit junit.xml [--stat]");
  sub->add_option("dir", st->dir, "results/<experiment>")->required();
  sub->add_option("--primary", st->primary, "primary metric used to build the leaderboard");
  sub->add_option("--junit", st->junit, "also write JUnit XML here (one testcase per entry)");
  sub->add_option("--json", st->json, "also write the entries as JSON here");
  sub->add_flag("--all", st->all, kAllHelp);
  sub->add_flag("--stat", st->stat,
                "fail a value beyond tolerance only when significantly worse on the per-sample data "
                "`bless --stat` kept (exact McNemar for 0/1 row means, else the blessed bootstrap "
                "interval); reads each run's predictions.h5");
  return {sub, [st] {
            Leaderboard lb = leaderboard_of(st->dir, st->primary, st->all, "check");
            CheckOptions copt;
            copt.stat = st->stat;
            if (st->stat) copt.samples = gate_sample_source(lb, 0, 0);  // check draws nothing
            CheckResult r = check_baseline(st->baseline, lb, copt);
            for (const auto& w : r.warnings) std::cerr << "vlb check: warning: " << w << "\n";
            if (!st->junit.empty()) {
              write_file_atomic(st->junit, check_junit_xml(r, lb.experiment + ": " + st->baseline));
              std::cerr << "vlb check: wrote " << st->junit << "\n";
            }
            if (!st->json.empty()) {
              write_file_atomic(st->json, check_json(r));
              std::cerr << "vlb check: wrote " << st->json << "\n";
            }
            std::cout << r.table_markdown;
            auto noted = [](const CheckEntry& e) { return !e.changes.empty() || e.test != "tolerance"; };
            for (const auto& e : r.entries)
              if (noted(e)) std::cout << fmt::format("\nentries[{}] ({}): {}", e.index, e.metric, e.message);
            bool any_changed = std::any_of(r.entries.begin(), r.entries.end(), noted);
            if (any_changed) std::cout << "\n";
            if (r.improvements > 0)
              std::cout << fmt::format("\n{} improvement(s) beyond tolerance: consider `vlb bless`.\n",
                                       r.improvements);
            if (r.failures > 0) {
              std::cout << fmt::format("\nFAILED: {} gated entr{} failed against {}\n",
                                       r.failures, r.failures == 1 ? "y" : "ies", st->baseline);
              return kExitRegression;
            }
            std::cout << fmt::format("\nOK: no regression against {}\n", st->baseline);
            return kExitOk;
          }};
}

Command add_bless_command(CLI::App& app) {
  struct State {
    std::string baseline, dir, primary;
    BlessOptions opt;
    bool all = false;
    int resamples = 1000;
    uint64_t stat_seed = 0;
  };
  auto st = std::make_shared<State>();
  auto* sub = app.add_subcommand(
      "bless", "Rewrite a baseline's expected values from results (keeps tolerances and notes)");
  sub->add_option("--baseline", st->baseline, "baseline JSON (created if absent)")->required();
  sub->footer("Example: vlb bless --baseline new.json results/quickstart --add-missing "
              "--metrics cls/top1 --abs-tol 0.002");
  sub->add_option("dir", st->dir, "results/<experiment>")->required();
  sub->add_option("--metrics", st->opt.metrics, "metrics to add with --add-missing (comma-separated)")
      ->delimiter(',');
  sub->add_flag("--add-missing", st->opt.add_missing, "add entries for cells not in the baseline yet");
  sub->add_option("--abs-tol", st->opt.abs_tol, "abs_tol of added entries")->capture_default_str();
  sub->add_option("--rel-tol", st->opt.rel_tol, "rel_tol of added entries")->capture_default_str();
  sub->add_flag("--set-tolerances", st->opt.set_existing_tolerances,
                "also write --abs-tol/--rel-tol into the existing entries (not \"exact\" ones)");
  sub->add_flag("--migrate", st->opt.migrate,
                "write identities into an old-format baseline, keeping every expected value");
  sub->add_flag("--accept-changed", st->opt.accept_changed,
                "re-point entries whose parameters changed to the nearest cell");
  sub->add_flag("--stat", st->opt.stat,
                "also keep per-sample data for `check --stat` (from each run's predictions.h5): "
                "packed per-row correctness of 0/1 row-mean metrics, else a bootstrap interval; a "
                "file that has it keeps it on every bless");
  sub->add_option("--resamples", st->resamples, "bootstrap resamples of the kept intervals")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  sub->add_option("--stat-seed", st->stat_seed, "seed of those resamples (same seed, same interval)")
      ->capture_default_str();
  sub->add_option("--primary", st->primary, "primary metric used to build the leaderboard");
  sub->add_flag("--all", st->all, kAllHelp);
  return {sub, [st] {
            Leaderboard lb = leaderboard_of(st->dir, st->primary, st->all, "bless");
            st->opt.samples = gate_sample_source(lb, st->resamples, st->stat_seed);
            for (const auto& w : bless_baseline(st->baseline, lb, st->opt))
              std::cerr << "vlb bless: warning: " << w << "\n";
            std::cerr << "vlb bless: updated " << st->baseline << "\n";
            return kExitOk;
          }};
}

}  // namespace vlb::cli
