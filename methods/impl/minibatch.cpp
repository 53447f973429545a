#include "vlb/methods/impl/minibatch.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "vlb/core/error.h"

namespace vlb {

MiniBatches::MiniBatches(int64_t n, MiniBatchOptions o, std::optional<at::Generator> gen)
    : n_(n), o_(o), gen_(std::move(gen)) {
  if (n < 0 || o.batch_size < 1 || o.min_batch < 1)
    throw Error("internal: mini-batches need n >= 0, batch_size >= 1 and min_batch >= 1");
}

std::vector<at::Tensor> MiniBatches::epoch() {
  const auto opts = at::TensorOptions().dtype(at::kLong);
  at::Tensor perm = gen_ ? at::randperm(n_, *gen_, opts) : at::randperm(n_, opts);
  if (o_.device != "cpu") perm = perm.to(at::Device(o_.device));
  std::vector<at::Tensor> out;
  for (int64_t start = 0; start < n_; start += o_.batch_size) {
    const int64_t len = std::min(o_.batch_size, n_ - start);
    if (len < o_.min_batch) break;
    out.push_back(perm.narrow(0, start, len));
  }
  return out;
}

}  // namespace vlb
