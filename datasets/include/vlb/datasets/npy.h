#pragma once
// A small, strict .npy reader (format 1.0/2.0/3.0): little-endian float16/float32/float64 and
// int32/int64/uint8/int8, C order only. Anything else is a DataError with the file and byte offset.
#include <ATen/core/Tensor.h>

#include <string>

namespace vlb {

at::Tensor read_npy(const std::string& path);  // dtype preserved (float16 stays Half)
/// The same from bytes already in memory; `path` only names them in errors (fuzzed directly).
at::Tensor parse_npy(const std::string& bytes, const std::string& path);
void write_npy(const std::string& path, const at::Tensor& t);  // for tests and converters

}  // namespace vlb
