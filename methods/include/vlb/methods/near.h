#pragma once
// NeaR (vocabulary-free fine-grained recognition) and its baselines: methods/near/, docs/near.md.
#include "vlb/methods/method.h"

namespace vlb {
/// near, mllm_labels, near_no_refine, near_knn_only, kmeans.
void register_near_methods(MethodRegistry& reg);
}  // namespace vlb
