// .plan/current.json: read and written here so that the runner (which writes it) and the readers
// (report, check, status, prune) agree on one format.
#include "vlb/reports/current_plan.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"

namespace vlb {

namespace {
constexpr const char* kFormat = "vlb-current-plan/1";
}

std::string current_plan_path(const std::string& experiment_dir) {
  return (std::filesystem::path(experiment_dir) / ".plan" / "current.json").string();
}

std::optional<CurrentPlan> read_current_plan(const std::string& experiment_dir) {
  const std::string path = current_plan_path(experiment_dir);
  std::ifstream f(path);
  if (!f) return std::nullopt;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw DataError(path, "", std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw DataError(path, "format", std::string("expected \"") + kFormat + "\"");
  CurrentPlan p;
  try {
    p.experiment = j.value("experiment", "");
    p.spec = j.value("spec", "");
    p.written_at = j.value("written_at", "");
    for (const auto& o : j.value("overrides", nlohmann::json::array())) p.overrides.push_back(o.get<std::string>());
    const auto& runs = j.at("runs");
    if (!runs.is_array()) throw DataError(path, "runs", "expected a list");
    std::set<std::string> seen;
    for (size_t i = 0; i < runs.size(); ++i) {
      std::string key = runs[i].at("key").get<std::string>();
      if (key.size() != 64) throw DataError(path, "runs[" + std::to_string(i) + "].key", "expected 64 hex digits");
      if (seen.insert(key).second) p.keys.push_back(key);
    }
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError(path, "", std::string("malformed (") + e.what() + ")");
  }
  return p;
}

void write_current_plan(const std::string& experiment_dir, const CurrentPlan& plan) {
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < plan.keys.size(); ++i) runs.push_back({{"key", plan.keys[i]}, {"index", i}});
  nlohmann::json j = {{"format", kFormat},       {"experiment", plan.experiment},
                      {"spec", plan.spec},       {"overrides", plan.overrides},
                      {"written_at", plan.written_at}, {"runs", runs}};
  std::filesystem::create_directories(std::filesystem::path(experiment_dir) / ".plan");
  write_file_atomic(current_plan_path(experiment_dir), j.dump(1) + "\n");
}

}  // namespace vlb
