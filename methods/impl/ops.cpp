#include <torch/torch.h>

#include "vlb/core/error.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {

at::Tensor l2_normalize(const at::Tensor& x, int64_t dim) {
  // clamp_min keeps all-zero rows (absent classes) at zero instead of NaN.
  return x / x.norm(2, dim, /*keepdim=*/true).clamp_min(1e-12);
}

at::Tensor class_means(const at::Tensor& x, const at::Tensor& label, int64_t num_classes,
                       at::Tensor* counts) {
  auto sums = torch::zeros({num_classes, x.size(1)}, x.options());
  sums.index_add_(0, label, x);
  auto n = torch::zeros({num_classes}, x.options());
  n.index_add_(0, label, torch::ones({label.size(0)}, x.options()));
  if (counts) *counts = n;
  return sums / n.clamp_min(1).unsqueeze(1);
}

at::Tensor list_on(const std::vector<int64_t>& v, const at::Device& device) {
  return torch::tensor(v, torch::kLong).to(device);
}

at::Tensor list_on(const std::vector<float>& v, const at::Device& device) {
  return torch::tensor(v, torch::kFloat).to(device);
}

TopK stable_topk(const at::Tensor& scores, int64_t k) {
  if (scores.dim() != 2) throw Error("stable_topk: expected a 2-D score matrix");
  k = std::min<int64_t>(k, scores.size(1));
  // A stable descending sort keeps equal values in index order; topk does not (pytorch#88227).
  auto sorted = torch::sort(scores, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  return {std::get<0>(sorted).narrow(1, 0, k).contiguous(),
          std::get<1>(sorted).narrow(1, 0, k).contiguous()};
}

}  // namespace vlb
