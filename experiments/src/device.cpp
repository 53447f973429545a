#include "device.h"

#include <ATen/Context.h>
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <utility>

namespace vlb {

// Note [Devices]: runtime.device is resolved per run at plan time, so that a sweep that cannot
// run where it was asked to stops before its first run: `cuda` needs a CUDA device visible to
// this LibTorch and a method tagged "device:cuda" (one whose tensors are all created on
// ctx.device); `auto` is cuda where both hold, else cpu.
//
// A run on cuda (runner.cpp) hands its method views of a to_device copy of the dataset, made
// once per process (dataset_on), and the method keeps every tensor there: nothing is copied
// back until predict() returns. The runner then makes the one copy of the prediction to the CPU
// (to_cpu), where the metrics read it together with the CPU dataset's targets, and where
// predictions.h5 is written from. Metrics stay on the CPU: they are a pass over the scores that
// were going to be copied for predictions.h5 anyway, and several (Hungarian matching, ranked
// AP) are sequential. Runs on cuda are not trained together: a GPU already overlaps one run's
// kernels, and the CPU threads that grouping spreads members over would only contend for it.
std::string resolve_device(const yamlr::Node& n, const RegistryEntry<Method>& method) {
  const std::string d = yamlr::as_string(n);
  if (d != "cpu" && d != "cuda" && d != "auto")
    yamlr::fail(n, "'" + d + "' is not one of cpu, cuda, auto");
  if (d == "cpu") return d;
  const bool gpu = at::hasCUDA();
  const bool capable = has_tag(method.tags, "device:cuda");
  if (d == "auto") return gpu && capable ? "cuda" : "cpu";
  // What the method can do first: it is the same answer on every machine.
  if (!capable)
    yamlr::fail(n, fmt::format("method '{}' has no GPU path (no device:cuda tag in `vlb describe "
                               "{}`); use runtime.device: cpu or auto",
                               method.name, method.name));
  if (!gpu)
    yamlr::fail(n, "cuda: this LibTorch sees no CUDA device (a CPU build, or no GPU here); use "
                   "cpu, or auto (cuda where there is one)");
  return d;
}

std::shared_ptr<const Dataset> dataset_on(const std::shared_ptr<const Dataset>& ds,
                                          const std::string& device) {
  if (device == "cpu" || !ds) return ds;
  struct Copy {
    std::weak_ptr<const Dataset> source;
    std::shared_ptr<const Dataset> copy;
  };
  static std::mutex mu;
  static std::map<std::pair<const Dataset*, std::string>, Copy> copies;
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = copies.begin(); it != copies.end();)  // free the copies of finished plans
    it = it->second.source.expired() ? copies.erase(it) : std::next(it);
  Copy& c = copies[{ds.get(), device}];
  if (!c.copy) c = {ds, std::make_shared<const Dataset>(to_device(*ds, device))};
  return c.copy;
}

}  // namespace vlb
