// What runs on a CUDA device (Note [Devices] in experiments/src/device.cpp) against the same work on
// the CPU. Every test skips where LibTorch sees no CUDA device (always in CI, and with Debian's
// CPU LibTorch); tests/gpu/check.sh builds against a CUDA LibTorch and runs them.
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vlb/methods/impl/neighbours.h"

namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible to this LibTorch"

// GPU GEMMs sum in another order: scores agree to float rounding (|a - b| <= 1e-4 for unit
// vectors in 512 dimensions), and neighbours wherever the gap to the next score is larger.
TEST(GpuNeighbours, CudaSearchStaysOnTheDeviceAndMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  auto q = torch::nn::functional::normalize(torch::randn({300, 512}),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto b = torch::nn::functional::normalize(torch::randn({5000, 512}),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  const int64_t k = 64;
  vlb::TopK cpu = vlb::topk_inner_product(q, b, k);
  vlb::TopK gpu = vlb::topk_inner_product(q.cuda(), b.cuda(), k);
  ASSERT_TRUE(gpu.values.is_cuda());
  ASSERT_TRUE(gpu.indices.is_cuda());
  auto gv = gpu.values.cpu(), gi = gpu.indices.cpu();
  EXPECT_LE((gv - cpu.values).abs().max().item<double>(), 1e-4);
  // Rank r must agree where scores r-1, r, r+1 are apart by more than the tolerance.
  auto s = cpu.values;
  auto gap = torch::full_like(s, 1.0);
  gap.narrow(1, 1, k - 1).copy_((s.narrow(1, 0, k - 1) - s.narrow(1, 1, k - 1)));
  auto next = torch::full_like(s, 1.0);
  next.narrow(1, 0, k - 1).copy_(gap.narrow(1, 1, k - 1));
  auto clear = gap.gt(2e-4) & next.gt(2e-4);
  EXPECT_TRUE(gi.masked_select(clear).equal(cpu.indices.masked_select(clear)));
  EXPECT_GT(clear.sum().item<int64_t>(), s.numel() / 2);
}

}  // namespace
