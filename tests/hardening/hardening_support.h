#pragma once
// Small shared pieces of the hardening tests: substring checks and a valid npy folder to break.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_support.h"

namespace vlb::hardening {

using vlb::test::contains;

/// Standard-normal values from a generator of its own, so a test's inputs never depend on order.
at::Tensor seeded(std::vector<int64_t> shape, uint64_t seed);

/// dir/{train,test}_{features,labels}.npy (3 classes, D = 8) and classnames.txt.
void write_npy_folder(const std::string& dir, int64_t train_rows = 12, int64_t dim = 8);

/// No HDF5 error stack and no crash: what every failure path must leave behind.
void expect_clean_failure(const vlb::test::CommandResult& r, int code);

}  // namespace vlb::hardening
