#pragma once
// `select:` of experiment specs (experiments/SPEC.md "Model selection"): reading and checking the
// key (select_spec.cpp), the plan-time guards against leakage, and the selection metrics a run
// writes (select.cpp). Internal to vlb_experiments.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "vlb/experiments/builtins.h"
#include "vlb/experiments/spec.h"
#include "vlb/experiments/yaml_reader.h"

namespace vlb::select_detail {

/// Reads `select:` (null when the spec has none): `none`, or a map of metric, split | val_shots
/// and over. The metric must be a value that one of `metrics` declares; the task prefix may be
/// left out where that names one value. ConfigError at the offending key.
struct Parsed {
  SelectSpec spec;
  bool over_given = false;
  std::vector<std::pair<std::string, const yamlr::Node*>> over;  // names as written, located
};
Parsed parse_select(const yamlr::Node* select, const std::vector<MetricConfig>& metrics,
                    const Registries& reg);

/// A method param that a grid or a sweep gives several values (its list of values).
struct ParamAxis {
  std::string param;
  const yamlr::Node* values;
};

/// Every `over` name must be a parameter of some method. ConfigError at the name otherwise.
void check_over_declared(const Parsed& sel,
                         const std::vector<std::pair<std::string, const ParamSchema*>>& methods);

/// The params selected over for one method entry: `over` (those the method declares), else every
/// param in `axes` that takes more than one value. Without a select key, such a param is an error
/// at its list, telling the user to write `select: none` or a select block.
std::vector<std::string> over_for_method(const Parsed& sel, const std::string& method,
                                         const ParamSchema& schema,
                                         const std::vector<ParamAxis>& axes);

/// Plan-time checks that need the datasets: the selection rows exist, share no row with the
/// evaluation split, and (val_shots) every class with training rows has shots + val_shots of them.
/// ConfigError at select.split / select.val_shots.
void check_selection(const Plan& plan, const SelectSpec& sel);

/// What a run with an active select writes under metrics.json "selection": predicts `method` on
/// the selection rows and computes the run's metrics there. Error when select.metric is not
/// among the values computed. `run_ds` is what the method runs on: `ds` or its device copy.
nlohmann::json evaluate_selection(Method& method, const Dataset& ds, const Dataset& run_ds,
                                  const RunConfig& c,
                                  const DataView& train, const RunContext& ctx,
                                  const Registries& reg);

/// The run key's "select" entry (SPEC.md "Run key"), for active selections only.
nlohmann::json select_key_json(const SelectConfig& s);

}  // namespace vlb::select_detail
