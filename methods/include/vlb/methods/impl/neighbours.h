#pragma once
// Exact top-K inner-product search of query rows against a bank of any size (CODER's text
// neighbours, NeaR's kNN candidate sets). Deterministic, bounded memory, stable ties.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "vlb/methods/impl/ops.h"

namespace vlb {

enum class NeighbourBackend {
  kTiled,      // GEMM tiles fused with a per-row bounded top-k (exact, default), Note [tiled top-k]
  kTorch,      // chunked LibTorch GEMM + stable top-k merge (ties exactly by index)
  kFaissFlat,  // faiss IndexFlatIP (exact); ties re-ordered by index, see Note [faiss ties]
  kFaissHnsw,  // faiss IndexHNSWFlat, inner product: approximate, for banks of millions
};
// "tiled" | "torch" | "faiss" | "hnsw"
NeighbourBackend parse_neighbour_backend(const std::string& name);
const char* to_string(NeighbourBackend b);

struct NeighbourOptions {
  // Note [default backend]: the tiled kernel is the fastest exact path on our machines
  // (bench_neighbours, docs/performance.md); all exact backends return the same neighbours in the
  // same order. Non-CPU tensors always take the torch path.
  NeighbourBackend backend = NeighbourBackend::kTiled;
  int64_t query_chunk = 1024;  // torch, faiss: query rows per GEMM block / per search call
  int64_t bank_chunk = 16384;  // torch: bank rows per GEMM block; memory query_chunk x bank_chunk floats
  // tiled: at most this many query / bank rows per GEMM tile, Q x B floats per thread (4 MiB).
  // Every sgemm call packs both operands again, so larger tiles waste less (bench_neighbours).
  int64_t tile_queries = 512;
  int64_t tile_bank = 2048;
  int hnsw_m = 32;             // HNSW graph degree
  int hnsw_ef_search = 128;    // HNSW search breadth (>= k is enforced)
};

/// For each row of `queries` [n, D], the k bank rows ([M, D]) with the largest inner product,
/// descending; equal scores ordered by ascending bank index. k is clamped to M. Inputs are used
/// as given (normalize first for cosine). float32 in and out; indices int64.
TopK topk_inner_product(const at::Tensor& queries, const at::Tensor& bank, int64_t k,
                        const NeighbourOptions& opts = {});

/// Sets the BLAS library's own thread count (process-wide; at::set_num_threads does not reach
/// OpenBLAS) and returns the previous one; 0 and no effect where the BLAS has no such control.
int set_blas_num_threads(int n);

}  // namespace vlb
