#pragma once
// Seeded mini-batches: the one place where training loops get their sample order.
//
// Note [seeded mini-batches]: each epoch draws one permutation of the n training rows
// (at::randperm) from the generator given, or from torch's global generator, which the runner seeds
// with the run seed before fit(); batches are consecutive slices of it. The draw happens when
// epoch() is called, so a loop that draws other random numbers between epochs keeps its exact
// sequence. The same seed therefore gives the same batches, bit for bit, at any thread count.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vlb {

struct MiniBatchOptions {
  int64_t batch_size = 32;
  /// A final batch with fewer rows is dropped (2 for contrastive losses, which need a pair).
  int64_t min_batch = 1;
  /// Where the index tensors go: drawn on the CPU generator (the same batches on every device),
  /// then copied there once per epoch.
  std::string device = "cpu";
};

class MiniBatches {
 public:
  /// Batches over rows 0..n-1; `gen` empty = torch's global generator.
  MiniBatches(int64_t n, MiniBatchOptions o, std::optional<at::Generator> gen = std::nullopt);

  /// One epoch: a fresh permutation, cut into int64 index tensors of batch_size rows (the last
  /// may be shorter, or dropped below min_batch).
  std::vector<at::Tensor> epoch();

  int64_t size() const { return n_; }

 private:
  int64_t n_;
  MiniBatchOptions o_;
  std::optional<at::Generator> gen_;
};

}  // namespace vlb
