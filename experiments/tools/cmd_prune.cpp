// `vlb prune results/<exp>`: the run directories that the current plan (.plan/current.json) no
// longer owns, and its failed runs; listed, and removed only with --yes. Runs of the current plan
// that are ok are never touched, and without a current.json nothing is (it cannot tell).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <set>

#include "commands.h"
#include "vlb/core/error.h"
#include "vlb/experiments/slurm.h"
#include "vlb/reports/current_plan.h"

namespace fs = std::filesystem;

namespace vlb::cli {

Command add_prune_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto yes = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand(
      "prune", "List (and with --yes remove) runs not in the current plan and failed runs");
  sub->add_option("dir", *dir, "results/<experiment> directory")->required();
  sub->add_flag("--yes", *yes, "remove the listed run directories (default: only list them)");
  sub->footer("Example: vlb prune results/quickstart        (then --yes to remove)");
  return {sub, [dir, yes] {
            if (!fs::is_directory(*dir)) throw DataError(*dir, "", "not a results directory");
            auto cp = read_current_plan(*dir);
            if (!cp) {
              std::cerr << fmt::format(
                  "vlb prune: {} has no current plan (.plan/current.json, written by `vlb run`): "
                  "cannot tell current runs from leftovers, nothing removed; run the spec once "
                  "(`vlb run SPEC`, or --dry-run does not record it) first\n",
                  *dir);
              return kExitBadInput;
            }
            std::set<std::string> current = cp->key_set();
            std::vector<std::pair<RunReport, std::string>> doomed;  // run, why
            for (const auto& r : scan_run_dirs(*dir)) {
              if (!current.count(r.key)) {
                doomed.emplace_back(r, r.state == "done" ? "not in the current plan"
                                                         : "not in the current plan; failed: " + r.error);
              } else if (r.state != "done") {
                doomed.emplace_back(r, "failed: " + r.error);
              }
            }
            for (const auto& [r, why] : doomed)
              std::cout << fmt::format("{} {}: {}\n", r.key.substr(0, 16),
                                       r.method.empty() ? "?" : r.method, why);
            if (doomed.empty()) {
              std::cout << fmt::format("{}: nothing to prune ({} runs in the current plan)\n", *dir,
                                       current.size());
              return kExitOk;
            }
            if (!*yes) {
              std::cout << fmt::format("{} run directories would be removed; rerun with --yes\n",
                                       doomed.size());
              return kExitOk;
            }
            for (const auto& [r, why] : doomed) {
              // Renamed away first: a concurrent reader never sees a half-removed run.
              fs::path gone = fs::path(*dir) / (".pruned-" + fs::path(r.dir).filename().string());
              fs::remove_all(gone);
              fs::rename(r.dir, gone);
              fs::remove_all(gone);
            }
            std::cout << fmt::format("removed {} run directories\n", doomed.size());
            return kExitOk;
          }};
}

}  // namespace vlb::cli
