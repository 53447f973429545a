#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include "vlb/datasets/fewshot.h"

namespace vlb {

DataView sample_shots(const DataView& view, int64_t shots, uint64_t seed) {
  if (shots <= 0) return view;
  auto labels = view.label();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<at::Tensor> kept;
  const int64_t C = view.dataset->num_classes();
  for (int64_t c = 0; c < C; ++c) {
    auto pos = labels.eq(c).nonzero().flatten();  // positions within the view, ascending
    if (pos.numel() == 0) continue;
    if (pos.numel() > shots) {
      auto perm = torch::randperm(pos.numel(), gen, torch::kLong);
      pos = pos.index_select(0, perm.narrow(0, 0, shots));
    }
    kept.push_back(pos);
  }
  DataView out = view;
  if (kept.empty()) {
    out.rows = view.rows.narrow(0, 0, 0);
    return out;
  }
  auto positions = std::get<0>(torch::sort(torch::cat(kept)));
  out.rows = view.rows.index_select(0, positions);
  return out;
}

}  // namespace vlb
