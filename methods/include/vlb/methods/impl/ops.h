#pragma once
// Small tensor operations shared by methods (and metrics): normalization, cosine scores and a
// deterministic top-k whose ties go to the lower index (torch::topk does not promise that).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace vlb {

at::Tensor l2_normalize(const at::Tensor& x, int64_t dim = 1);

/// Per-class mean of `x` rows grouped by `label` ([n] int64 in [0, C)); rows of absent classes are 0.
/// Returns [C, D] and writes per-class counts to `counts` if given.
at::Tensor class_means(const at::Tensor& x, const at::Tensor& label, int64_t num_classes,
                       at::Tensor* counts = nullptr);

/// A list built on the host (index lists, values to scatter), as a tensor on `device`: int64 or
/// float32, one copy up.
at::Tensor list_on(const std::vector<int64_t>& v, const at::Device& device);
at::Tensor list_on(const std::vector<float>& v, const at::Device& device);

struct TopK {
  at::Tensor values;   // [n, k]
  at::Tensor indices;  // [n, k] int64
};
/// Row-wise top-k, descending; equal values ordered by ascending column index.
TopK stable_topk(const at::Tensor& scores, int64_t k);

}  // namespace vlb
