#pragma once
// The tiled exact top-K kernel behind NeighbourBackend::kTiled (private to methods/impl).
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "vlb/methods/impl/ops.h"

namespace vlb {

/// q [n, D] and bank [M, D] contiguous float32 on the CPU, 1 <= k <= M, n, M >= 1.
/// tile_queries x tile_bank is the per-thread GEMM tile (upper bounds; see topk_tiled.cpp).
TopK tiled_topk(const at::Tensor& q, const at::Tensor& bank, int64_t k, int64_t tile_queries,
                int64_t tile_bank);

}  // namespace vlb
