#pragma once
// Exact top-K inner-product search of query rows against a bank of any size (CODER's text
// neighbours, NeaR's kNN candidate sets). Deterministic, bounded memory, stable ties.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "vlb/methods/impl/ops.h"

namespace vlb {

enum class NeighbourBackend {
  kTorch,      // chunked LibTorch GEMM + stable top-k merge (ties exactly by index)
  kFaissFlat,  // faiss IndexFlatIP (exact, default); ties re-ordered by index, see Note [faiss ties]
  kFaissHnsw,  // faiss IndexHNSWFlat, inner product: approximate, for banks of millions
};
NeighbourBackend parse_neighbour_backend(const std::string& name);  // "torch" | "faiss" | "hnsw"
const char* to_string(NeighbourBackend b);

struct NeighbourOptions {
  // Note [default backend]: faiss flat is the faster exact path on our machines (bench_neighbours:
  // 2.7-3.6x the chunked GEMM, docs/coder.md). Non-CPU tensors always take the torch path.
  NeighbourBackend backend = NeighbourBackend::kFaissFlat;
  int64_t query_chunk = 1024;  // query rows per GEMM block (faiss: per search call)
  int64_t bank_chunk = 16384;  // torch: bank rows per GEMM block; memory query_chunk x bank_chunk floats
  int hnsw_m = 32;             // HNSW graph degree
  int hnsw_ef_search = 128;    // HNSW search breadth (>= k is enforced)
};

/// For each row of `queries` [n, D], the k bank rows ([M, D]) with the largest inner product,
/// descending; equal scores ordered by ascending bank index. k is clamped to M. Inputs are used
/// as given (normalize first for cosine). float32 in and out; indices int64.
TopK topk_inner_product(const at::Tensor& queries, const at::Tensor& bank, int64_t k,
                        const NeighbourOptions& opts = {});

}  // namespace vlb
