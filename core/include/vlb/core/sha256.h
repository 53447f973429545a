#pragma once
// SHA-256 through OpenSSL's EVP interface (not a hand-written hash).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace vlb {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex_digest();  // finalises; call once

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file_hex(const std::string& path);

}  // namespace vlb
