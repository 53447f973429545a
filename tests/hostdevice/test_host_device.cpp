// The stand-in device itself (Note [Host device] in host_device.cpp): it computes what the CPU
// computes, and it refuses what CUDA refuses. The methods' checks on it are in test_methods.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "host_device.h"

namespace {

using vlb::test::host_device;

TEST(HostDevice, OperatorsRunThereAndMatchTheCpuBitForBit) {
  const c10::Device d = host_device();
  torch::manual_seed(1);
  auto a = torch::randn({40, 24}), w = torch::randn({24, 8});
  auto ad = a.to(d), wd = w.to(d);
  const long before = vlb::test::host_device_ops();
  auto y = torch::log_softmax(ad.mm(wd) * 3 + 1, 1);
  auto [v, i] = y.topk(3, 1);
  EXPECT_GT(vlb::test::host_device_ops(), before);
  EXPECT_EQ(y.device(), d);
  EXPECT_EQ(i.device(), d);
  auto ref = torch::log_softmax(a.mm(w) * 3 + 1, 1);
  EXPECT_TRUE(torch::equal(y.cpu(), ref));
  EXPECT_TRUE(torch::equal(i.cpu(), std::get<1>(ref.topk(3, 1))));
  // Views share the device storage: a write through one is seen by the base.
  ad.select(0, 2).fill_(5);
  EXPECT_EQ(ad[2][3].item<float>(), 5.0f);
  // Factories honour the device; out= kernels may grow their output.
  EXPECT_EQ(torch::zeros({3}, torch::TensorOptions().device(d)).device(), d);
  auto out = torch::empty({0}, torch::TensorOptions().device(d));
  at::mm_out(out, ad, wd);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{40, 8}));
  EXPECT_TRUE(torch::equal(out.cpu(), ad.cpu().mm(w)));
  // resize_ grows the storage and keeps the bytes already there.
  auto grown = torch::arange(4, torch::kFloat).to(d);
  grown.resize_({2, 5});
  EXPECT_EQ(grown.device(), d);
  EXPECT_EQ(grown.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(torch::equal(grown.cpu().flatten().narrow(0, 0, 4), torch::arange(4, torch::kFloat)));
}

TEST(HostDevice, AutogradRunsThere) {
  const c10::Device d = host_device();
  torch::manual_seed(2);
  auto x = torch::randn({16, 5});
  auto w = torch::randn({5, 3}, torch::requires_grad());
  auto wd = w.detach().to(d).requires_grad_();
  torch::nn::functional::cross_entropy(x.mm(w), torch::arange(16) % 3).backward();
  torch::nn::functional::cross_entropy(x.to(d).mm(wd), (torch::arange(16) % 3).to(d)).backward();
  ASSERT_TRUE(wd.grad().defined());
  EXPECT_EQ(wd.grad().device(), d);
  EXPECT_TRUE(torch::equal(wd.grad().cpu(), w.grad()));
}

TEST(HostDevice, MixingWithCpuTensorsIsRefusedAsOnCuda) {
  const c10::Device d = host_device();
  auto ad = torch::ones({4, 4}).to(d);
  EXPECT_THROW(ad + torch::ones({4, 4}), c10::Error);
  EXPECT_THROW(ad.mm(torch::ones({4, 2})), c10::Error);
  EXPECT_THROW(ad.index_select(0, torch::tensor({0, 1})), c10::Error);
  // A 0-dim CPU tensor is a scalar, which CUDA takes too.
  EXPECT_EQ((ad * torch::tensor(2.0f)).device(), d);
}

TEST(HostDeviceDeathTest, ReadingDeviceMemoryOnTheHostFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const c10::Device d = host_device();
  auto ad = torch::ones({8}).to(d);
  EXPECT_DEATH({ volatile float x = ad.data_ptr<float>()[3]; (void)x; }, "host read or wrote");
  auto write = [&] { ad.accessor<float, 1>()[0] = 1; };
  EXPECT_DEATH(write(), "host read or wrote");
}

}  // namespace
