#pragma once
// Small shared pieces of the hardening tests: substring checks and a valid npy folder to break.
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "test_support.h"
#include "vlb/datasets/npy.h"

namespace vlb::hardening {

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

inline at::Tensor seeded(std::vector<int64_t> shape, uint64_t seed) {
  return at::randn(shape, at::detail::createCPUGenerator(seed));
}

/// dir/{train,test}_{features,labels}.npy (3 classes, D = 8) and classnames.txt.
inline void write_npy_folder(const std::string& dir, int64_t train_rows = 12, int64_t dim = 8) {
  std::filesystem::create_directories(dir);
  vlb::write_npy(dir + "/train_features.npy", seeded({train_rows, dim}, 1));
  vlb::write_npy(dir + "/train_labels.npy", torch::arange(train_rows, torch::kLong).remainder(3));
  vlb::write_npy(dir + "/test_features.npy", seeded({6, dim}, 2));
  vlb::write_npy(dir + "/test_labels.npy", torch::arange(6, torch::kLong).remainder(3));
  vlb::test::write_text(dir + "/classnames.txt", "cat\ndog\nfox\n");
}

/// No HDF5 error stack and no crash: what every failure path must leave behind.
inline void expect_clean_failure(const vlb::test::CommandResult& r, int code) {
  EXPECT_EQ(r.exit_code, code) << r.output;
  EXPECT_NE(r.exit_code, 139) << "segfault: " << r.output;
  EXPECT_FALSE(contains(r.output, "HDF5-DIAG")) << r.output;
  EXPECT_FALSE(contains(r.output, "#000:")) << r.output;
}

}  // namespace vlb::hardening
