// Every method tagged device:cuda, on the stand-in device (Note [Host device] in host_device.cpp)
// against the same method on the CPU, on every run of the synthetic specs (device_runs.h: first
// seed, one run per distinct method configuration). The device runs the CPU's kernels, so
// the results must be the same bits; what this catches on a machine without a GPU is a tensor
// made on the CPU, a result left on the CPU, or a read of device memory from the host (which
// faults, and ends this binary with a message saying so). tests/gpu runs the methods on CUDA.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "device_runs.h"
#include "host_device.h"
#include "vlb/core/registry.h"
#include "vlb/experiments/builtins.h"
#include "vlb/experiments/spec.h"
#include "vlb/methods/icis.h"
#include "vlb/methods/impl/neighbours.h"

namespace {

using vlb::test::host_device;

int64_t bytes_of(const vlb::Prediction& p) {
  int64_t n = p.scores.defined() ? p.scores.numel() * p.scores.element_size() : 0;
  for (const auto& kv : p.aux)
    if (kv.second.defined()) n += kv.second.numel() * kv.second.element_size();
  return n;
}

void expect_same(const std::string& what, const at::Tensor& dev, const at::Tensor& cpu) {
  ASSERT_EQ(dev.defined(), cpu.defined()) << what;
  if (!cpu.defined()) return;
  if (dev.numel() > 1) {
    EXPECT_EQ(dev.device(), host_device()) << what << " left the device";
  }
  at::Tensor back = dev.cpu();
  EXPECT_TRUE(back.sizes() == cpu.sizes() && back.equal(cpu))
      << what << ": max |diff| "
      << (back.sizes() == cpu.sizes()
              ? (back.to(torch::kDouble) - cpu.to(torch::kDouble)).abs().nan_to_num(0, 0, 0).max().item<double>()
              : -1.0);
}

class HostDeviceSpec : public testing::TestWithParam<std::string> {};

// Off the CPU the injection methods train with autograd (their fused trainer is host code), so
// the CPU runs they are compared with take that path too.
class AutogradReference {
 public:
  AutogradReference() { vlb::icis::set_autograd_reference(true); }
  ~AutogradReference() { vlb::icis::set_autograd_reference(false); }
};

TEST_P(HostDeviceSpec, EveryTaggedRunGivesTheCpuBitsOnTheDevice) {
  AutogradReference reference;
  vlb::test::for_each_device_run(
      GetParam(), host_device().str(),
      [](const vlb::PlannedRun&, const vlb::Prediction& want, const auto& on_device) {
        const long ops = vlb::test::host_device_ops();
        const long copied = vlb::test::host_device_bytes_to_host();
        const vlb::Prediction got = on_device();
        EXPECT_GT(vlb::test::host_device_ops(), ops + 10) << "little or nothing ran on the device";
        // What a method copies to the host on its own (index columns for host-side bookkeeping,
        // CODER*'s vote: Note [re-ranking on the host]) is explicit and smaller than its
        // results; a result, feature matrix or score table making the round trip is not.
        EXPECT_LT(vlb::test::host_device_bytes_to_host() - copied,
                  std::max<int64_t>(1, bytes_of(want)))
            << "bytes copied to the host during fit and predict";
        vlb::test::for_each_result(got, want, expect_same);
      });
}

INSTANTIATE_TEST_SUITE_P(Specs, HostDeviceSpec, testing::ValuesIn(vlb::test::device_specs()),
                         [](const auto& info) { return info.param; });

TEST(HostDeviceMethods, TheSyntheticSpecsCoverEveryTaggedMethod) {
  std::set<std::string> covered;
  for (const auto& name : vlb::test::device_specs())
    for (const auto& r :
         vlb::expand_spec(VLB_SOURCE_DIR "/experiments/specs/" + name + ".yaml", {}, vlb::builtins()).runs)
      covered.insert(r.method);
  for (const auto& m : vlb::test::device_methods()) EXPECT_TRUE(covered.count(m)) << m;
}

// The chunked GEMM + top-k path that a device takes returns the CPU's tiled search's neighbours,
// in the same tie order; integer vectors make every score exact and ties common.
TEST(HostDeviceMethods, NeighbourSearchOnTheDeviceEqualsTheCpu) {
  torch::manual_seed(4);
  auto q = torch::randint(-1, 2, {57, 16}).to(torch::kFloat);
  auto bank = torch::randint(-1, 2, {701, 16}).to(torch::kFloat);
  vlb::TopK cpu = vlb::topk_inner_product(q, bank, 23, vlb::NeighbourOptions{});
  vlb::NeighbourOptions small;  // several chunks of both sides, so the merge runs
  small.query_chunk = 16;
  small.bank_chunk = 100;
  vlb::TopK dev = vlb::topk_inner_product(q.to(host_device()), bank.to(host_device()), 23, small);
  ASSERT_EQ(dev.indices.device(), host_device());
  ASSERT_EQ(dev.values.device(), host_device());
  EXPECT_TRUE(torch::equal(dev.indices.cpu(), cpu.indices));
  EXPECT_TRUE(torch::equal(dev.values.cpu(), cpu.values));
}

}  // namespace
