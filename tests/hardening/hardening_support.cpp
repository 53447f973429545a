// Definitions for hardening_support.h: LibTorch's full header stays out of the shared header.
#include "hardening_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "vlb/datasets/npy.h"

namespace vlb::hardening {

at::Tensor seeded(std::vector<int64_t> shape, uint64_t seed) {
  return at::randn(shape, at::detail::createCPUGenerator(seed));
}

void write_npy_folder(const std::string& dir, int64_t train_rows, int64_t dim) {
  std::filesystem::create_directories(dir);
  vlb::write_npy(dir + "/train_features.npy", seeded({train_rows, dim}, 1));
  vlb::write_npy(dir + "/train_labels.npy", torch::arange(train_rows, torch::kLong).remainder(3));
  vlb::write_npy(dir + "/test_features.npy", seeded({6, dim}, 2));
  vlb::write_npy(dir + "/test_labels.npy", torch::arange(6, torch::kLong).remainder(3));
  vlb::test::write_text(dir + "/classnames.txt", "cat\ndog\nfox\n");
}

void expect_clean_failure(const vlb::test::CommandResult& r, int code) {
  EXPECT_EQ(r.exit_code, code) << r.output;
  EXPECT_NE(r.exit_code, 139) << "segfault: " << r.output;
  EXPECT_FALSE(contains(r.output, "HDF5-DIAG")) << r.output;
  EXPECT_FALSE(contains(r.output, "#000:")) << r.output;
}

}  // namespace vlb::hardening
