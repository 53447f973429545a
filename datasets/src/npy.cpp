// Strict .npy reader/writer (NEP 1 format, versions 1.0-3.0).
#include "vlb/datasets/npy.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <map>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"

namespace vlb {
namespace {

struct NpyType {
  at::ScalarType scalar;
  const char* name;
};

// Little-endian descr -> tensor type. One-byte types may be written with '|' or '<'.
const std::map<std::string, NpyType>& dtypes() {
  static const std::map<std::string, NpyType> m = {
      {"<f2", {at::kHalf, "float16"}},  {"<f4", {at::kFloat, "float32"}},
      {"<f8", {at::kDouble, "float64"}}, {"<i1", {at::kChar, "int8"}},
      {"|i1", {at::kChar, "int8"}},     {"<i4", {at::kInt, "int32"}},
      {"<i8", {at::kLong, "int64"}},    {"|u1", {at::kByte, "uint8"}},
      {"<u1", {at::kByte, "uint8"}},    {"|b1", {at::kBool, "bool"}},
  };
  return m;
}

// A tiny parser for the header's Python dict literal: string keys; values are strings,
// True/False or tuples of non-negative integers.
struct HeaderParser {
  const std::string& file;
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void fail(const std::string& msg) const {
    throw DataError(file, "header", msg + " (header: " + s + ")");
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a quoted string");
    char q = s[i++];
    size_t j = s.find(q, i);
    if (j == std::string::npos) fail("unterminated string");
    std::string out = s.substr(i, j - i);
    i = j + 1;
    return out;
  }
  bool boolean() {
    ws();
    if (s.compare(i, 4, "True") == 0) return i += 4, true;
    if (s.compare(i, 5, "False") == 0) return i += 5, false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    if (!eat('(')) fail("expected a shape tuple");
    std::vector<int64_t> out;
    while (!eat(')')) {
      ws();
      size_t st = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (st == i) fail("expected a non-negative integer in the shape");
      // No stoll: an out-of-range dimension is the file's error, located like the others.
      if (i - st > 18) fail(fmt::format("shape dimension {} is too large", s.substr(st, i - st)));
      out.push_back(std::strtoll(s.c_str() + st, nullptr, 10));
      if (!eat(',')) {
        if (!eat(')')) fail("expected ',' or ')' in the shape");
        break;
      }
    }
    return out;
  }
};

std::string shape_text(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string out;
  for (size_t k = 0; k < shape.size(); ++k) out += (k ? "x" : "") + std::to_string(shape[k]);
  return out;
}

}  // namespace

at::Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

at::Tensor parse_npy(const std::string& data, const std::string& path) {
  static const char kMagic[] = "\x93NUMPY";
  if (data.size() < 10 || std::memcmp(data.data(), kMagic, 6) != 0)
    throw DataError(path, "byte 0", "not a .npy file: expected the magic \\x93NUMPY");
  const int major = static_cast<unsigned char>(data[6]);
  size_t header_len = 0, header_start = 0;
  auto byte = [&](size_t k) { return static_cast<size_t>(static_cast<unsigned char>(data[k])); };
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12) throw DataError(path, "byte 8", "truncated header length");
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    header_start = 12;
  } else {
    throw DataError(path, "byte 6", fmt::format("unsupported .npy format version {}.{} (expected "
                                                "1.0, 2.0 or 3.0)", major, byte(7)));
  }
  if (data.size() < header_start + header_len)
    throw DataError(path, "header", fmt::format("truncated: header length says {} bytes, file has "
                                                "{} after the preamble",
                                                header_len, data.size() - header_start));
  const std::string header = data.substr(header_start, header_len);

  HeaderParser p{path, header};
  std::string descr;
  bool fortran = false, have_descr = false, have_order = false, have_shape = false;
  std::vector<int64_t> shape;
  if (!p.eat('{')) p.fail("expected a '{' dict");
  while (!p.eat('}')) {
    std::string key = p.str();
    if (!p.eat(':')) p.fail("expected ':' after '" + key + "'");
    if (key == "descr") {
      p.ws();
      if (p.i < header.size() && header[p.i] == '[')
        p.fail("structured dtypes are not supported; expected a plain numeric descr like '<f4'");
      descr = p.str();
      have_descr = true;
    } else if (key == "fortran_order") {
      fortran = p.boolean();
      have_order = true;
    } else if (key == "shape") {
      shape = p.tuple();
      have_shape = true;
    } else {
      p.fail("unexpected key '" + key + "'");
    }
    if (!p.eat(',')) {
      if (!p.eat('}')) p.fail("expected ',' or '}'");
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    p.fail("missing one of the keys 'descr', 'fortran_order', 'shape'");
  if (fortran)
    throw DataError(path, "header", "fortran_order is True; expected C order (save with "
                                    "np.ascontiguousarray)");
  auto it = dtypes().find(descr);
  if (it == dtypes().end()) {
    std::string why = !descr.empty() && descr[0] == '>' ? "big-endian dtype" :
                      descr.find('O') != std::string::npos ? "object dtype" : "unsupported dtype";
    throw DataError(path, "header", fmt::format("{} '{}'; expected little-endian one of <f2 <f4 "
                                                "<f8 <i1 <i4 <i8 |u1 |i1 |b1",
                                                why, descr));
  }
  const NpyType& nt = it->second;
  const size_t elem = c10::elementSize(nt.scalar);
  // The product of the non-zero dimensions bounds what a tensor of this shape can address even
  // when another dimension is 0; it must fit the file, whatever numel is.
  int64_t numel = 1, nonzero = 1;
  for (int64_t d : shape) {
    int64_t bytes = 0;
    if (d > 0 && (__builtin_mul_overflow(nonzero, d, &nonzero) ||
                  __builtin_mul_overflow(nonzero, static_cast<int64_t>(elem), &bytes) ||
                  bytes > static_cast<int64_t>(data.size())))
      throw DataError(path, "header",
                      fmt::format("shape {} of {} needs more bytes than the file has ({})",
                                  shape_text(shape), nt.name, data.size()));
    numel *= d;
  }
  const size_t want = static_cast<size_t>(numel) * elem;
  const size_t offset = header_start + header_len;
  const size_t have = data.size() - offset;
  if (have != want)
    throw DataError(path, fmt::format("byte {}", offset),
                    fmt::format("{}: header says {} {} ({} bytes of data), file has {}",
                                have < want ? "truncated" : "trailing bytes", shape_text(shape),
                                nt.name, want, have));
  at::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(nt.scalar));
  if (want) std::memcpy(t.data_ptr(), data.data() + offset, want);
  return t;
}

void write_npy(const std::string& path, const at::Tensor& t_in) {
  at::Tensor t = t_in.contiguous();
  std::string descr;
  switch (t.scalar_type()) {
    case at::kHalf: descr = "<f2"; break;
    case at::kFloat: descr = "<f4"; break;
    case at::kDouble: descr = "<f8"; break;
    case at::kChar: descr = "|i1"; break;
    case at::kByte: descr = "|u1"; break;
    case at::kBool: descr = "|b1"; break;
    case at::kInt: descr = "<i4"; break;
    case at::kLong: descr = "<i8"; break;
    default: throw Error("write_npy: unsupported tensor dtype " + std::string(c10::toString(t.scalar_type())));
  }
  std::string shape = "(";
  for (int64_t d : t.sizes()) shape += std::to_string(d) + ",";
  if (t.dim() > 1) shape.pop_back();
  shape += ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary, ending with '\n' (format 1.0).
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  out += dict;
  out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  write_file_atomic(path, out);
}

}  // namespace vlb
