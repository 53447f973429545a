// The strict .npy reader: dtype round trips and each rejected input.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.h"
#include "vlb/core/error.h"
#include "vlb/datasets/npy.h"

using vlb::test::TempDir;

namespace {

std::string error_of(const std::string& path) {
  try {
    vlb::read_npy(path);
  } catch (const vlb::DataError& e) {
    return e.what();
  }
  return "<no error>";
}

// A hand-made file: header dict + raw payload (so we can write what write_npy never would).
std::string npy_bytes(const std::string& dict, const std::string& payload) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + payload;
}

}  // namespace

class NpyRoundTrip : public ::testing::TestWithParam<torch::ScalarType> {};

TEST_P(NpyRoundTrip, PreservesDtypeShapeAndValues) {
  TempDir dir;
  torch::Tensor t = (torch::arange(24, torch::kDouble).reshape({2, 3, 4}) * 1.5 - 7).to(GetParam());
  vlb::write_npy(dir / "a.npy", t);
  torch::Tensor r = vlb::read_npy(dir / "a.npy");
  EXPECT_EQ(r.scalar_type(), GetParam());
  EXPECT_EQ(r.sizes(), t.sizes());
  EXPECT_TRUE(torch::equal(r, t));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, NpyRoundTrip,
                         ::testing::Values(torch::kHalf, torch::kFloat, torch::kDouble, torch::kLong,
                                           torch::kInt, torch::kChar, torch::kByte));

TEST(Npy, OneDimensionalAndEmpty) {
  TempDir dir;
  vlb::write_npy(dir / "v.npy", torch::tensor({3, 1, 2}, torch::kLong));
  EXPECT_TRUE(torch::equal(vlb::read_npy(dir / "v.npy"), torch::tensor({3, 1, 2}, torch::kLong)));
  vlb::write_npy(dir / "e.npy", torch::zeros({0, 4}));
  EXPECT_EQ(vlb::read_npy(dir / "e.npy").sizes(), (std::vector<int64_t>{0, 4}));
}

TEST(Npy, ReadsNumpyWrittenFiles) {
  std::string py = vlb::test::system_python_with("numpy");
  if (py.empty()) GTEST_SKIP() << "system python3 with numpy not found";
  TempDir dir;
  auto r = vlb::test::run_command(
      py + " -c \"import numpy as np; np.save('" + (dir / "h.npy") +
      "', (np.arange(6).reshape(2,3)/4).astype(np.float16)); np.save('" + (dir / "b.npy") +
      "', np.array([True, False]))\"");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  torch::Tensor h = vlb::read_npy(dir / "h.npy");
  EXPECT_EQ(h.scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(h.to(torch::kFloat), torch::arange(6, torch::kFloat).reshape({2, 3}) / 4));
  EXPECT_TRUE(torch::equal(vlb::read_npy(dir / "b.npy"), torch::tensor({true, false})));
}

TEST(Npy, TruncatedFileNamesBothSizes) {
  TempDir dir;
  vlb::write_npy(dir / "t.npy", torch::zeros({16, 8}, torch::kHalf));
  std::string bytes = vlb::test::read_text(dir / "t.npy");
  vlb::test::write_text(dir / "t.npy", bytes.substr(0, bytes.size() - 56));
  std::string msg = error_of(dir / "t.npy");
  EXPECT_NE(msg.find(dir / "t.npy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16x8 float16 (256 bytes of data), file has 200"), std::string::npos) << msg;
}

TEST(Npy, RejectsFortranOrder) {
  TempDir dir;
  vlb::test::write_text(dir / "f.npy", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                                 std::string(16, '\0')));
  std::string msg = error_of(dir / "f.npy");
  EXPECT_NE(msg.find("header"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fortran_order"), std::string::npos) << msg;
}

TEST(Npy, RejectsBigEndian) {
  TempDir dir;
  vlb::test::write_text(dir / "b.npy", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                                 std::string(8, '\0')));
  std::string msg = error_of(dir / "b.npy");
  EXPECT_NE(msg.find("big-endian"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'>f4'"), std::string::npos) << msg;
}

TEST(Npy, RejectsObjectDtype) {
  TempDir dir;
  vlb::test::write_text(dir / "o.npy", npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
                                                 std::string(8, '\0')));
  EXPECT_NE(error_of(dir / "o.npy").find("object dtype"), std::string::npos);
}

TEST(Npy, RejectsBadMagic) {
  TempDir dir;
  vlb::test::write_text(dir / "m.npy", "PK\x03\x04 this is a zip, not npy");
  std::string msg = error_of(dir / "m.npy");
  EXPECT_NE(msg.find("byte 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST(Npy, RejectsTrailingBytes) {
  TempDir dir;
  vlb::test::write_text(dir / "x.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                                                 std::string(16, '\0')));
  std::string msg = error_of(dir / "x.npy");
  EXPECT_NE(msg.find("8 bytes of data), file has 16"), std::string::npos) << msg;
}
