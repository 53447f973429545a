#pragma once
// runtime.device at plan time (Note [Devices] in device.cpp). Internal to vlb_experiments.
#include <memory>
#include <string>

#include "vlb/core/registry.h"
#include "vlb/experiments/yaml_reader.h"
#include "vlb/methods/method.h"

namespace vlb {

/// "cpu" or "cuda" for the value of `n` (cpu | cuda | auto) and the run's method; a value that
/// cannot be honoured fails at `n`.
std::string resolve_device(const yamlr::Node& n, const RegistryEntry<Method>& method);

/// `ds` itself for "cpu"; else its to_device copy, made once per process and device and kept
/// while `ds` lives (Note [Datasets on a device] in vlb/datasets/dataset.h).
std::shared_ptr<const Dataset> dataset_on(const std::shared_ptr<const Dataset>& ds,
                                          const std::string& device);

}  // namespace vlb
