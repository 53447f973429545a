#include "device.h"

#include <ATen/Context.h>
#include <fmt/format.h>

namespace vlb {

// Note [Devices]: runtime.device is resolved per run at plan time, so that a sweep that cannot
// run where it was asked to stops before its first run: `cuda` needs a CUDA device visible to
// this LibTorch and a method tagged "device:cuda" (one whose tensors are all created on
// ctx.device); `auto` is cuda where both hold, else cpu.
std::string resolve_device(const yamlr::Node& n, const RegistryEntry<Method>& method) {
  const std::string d = yamlr::as_string(n);
  if (d != "cpu" && d != "cuda" && d != "auto")
    yamlr::fail(n, "'" + d + "' is not one of cpu, cuda, auto");
  if (d == "cpu") return d;
  const bool gpu = at::hasCUDA();
  const bool capable = has_tag(method.tags, "device:cuda");
  if (d == "auto") return gpu && capable ? "cuda" : "cpu";
  if (!gpu)
    yamlr::fail(n, "cuda: this LibTorch sees no CUDA device (a CPU build, or no GPU here); use "
                   "cpu, or auto (cuda where there is one)");
  if (!capable)
    yamlr::fail(n, fmt::format("method '{}' has no GPU path (no device:cuda tag in `vlb describe "
                               "{}`); use runtime.device: cpu or auto",
                               method.name, method.name));
  return d;
}

}  // namespace vlb
