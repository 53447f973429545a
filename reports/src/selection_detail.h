#pragma once
// Reading a run's metrics.json "selection" block (runs.cpp calls it). Internal to vlb_reports.
#include <nlohmann/json.hpp>
#include <string>

#include "vlb/reports/report.h"

namespace vlb::selection_detail {

/// Fills r.selection_*; DataError naming `file` and the key on a malformed block.
void read_selection_json(const nlohmann::json& block, const std::string& file, RunRecord& r);

}  // namespace vlb::selection_detail
