// The runs a device check compares with the CPU: tests/gpu (CUDA) and tests/hostdevice (the
// stand-in device). Linked into those two test binaries only.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "vlb/experiments/spec.h"
#include "vlb/methods/method.h"

namespace vlb::test {

/// The registered methods tagged device:cuda, in registry order.
std::vector<std::string> device_methods();

/// The specs whose datasets are generated from parameters alone (no file read), covering every
/// method tagged device:cuda (tests/hostdevice checks that the list stays complete).
std::vector<std::string> device_specs();

/// The runs of experiments/specs/<spec>.yaml whose method is tagged device:cuda: the first seed,
/// one run per distinct configuration, each with its CPU dataset. `cache_dir` holds the datasets.
std::vector<PlannedRun> device_runs(const std::string& spec, const std::string& cache_dir);

/// A run's fit and predict as the runner does them: shots drawn on the CPU dataset `cpu`, the
/// method handed those rows of `on` (a to_device copy, or `cpu` itself), the generators seeded.
Prediction fit_predict(const RunConfig& c, const Dataset& cpu, const Dataset& on);

/// For each device run of `spec` (under a SCOPED_TRACE naming it): fits it on the CPU, then calls
/// `check(run, cpu_prediction, on_device)`; on_device() fits and predicts the run on a `device`
/// copy of its dataset, so that a check can measure around it. Fails when `spec` has no such run.
void for_each_device_run(
    const std::string& spec, const std::string& device,
    const std::function<void(const PlannedRun&, const Prediction&,
                             const std::function<Prediction()>&)>& check);

/// `same(what, got, want)` for the scores and for every side output of `want` ("aux <name>");
/// a side output missing from `got` fails.
void for_each_result(const Prediction& got, const Prediction& want,
                     const std::function<void(const std::string&, const at::Tensor&,
                                              const at::Tensor&)>& same);

}  // namespace vlb::test
