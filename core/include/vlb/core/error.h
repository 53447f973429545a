#pragma once
// Errors that reach the user. Every message says what went wrong and where (file, key or group,
// line and column where known), so the CLI can print it as-is and exit non-zero.
#include <stdexcept>
#include <string>

namespace vlb {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A problem in a YAML spec, a CLI override or a parameter value.
/// what() reads "FILE:LINE:COL: KEY: MESSAGE" (parts omitted when unknown).
class ConfigError : public Error {
 public:
  ConfigError(const std::string& file, int line, int column, const std::string& key,
              const std::string& message);
  explicit ConfigError(const std::string& message) : Error(message) {}
};

/// A problem in an input data file (HDF5, .npy, class list, baseline JSON...).
/// what() reads "FILE: WHERE: MESSAGE" (WHERE = HDF5 path, byte offset, line ...).
class DataError : public Error {
 public:
  DataError(const std::string& file, const std::string& where, const std::string& message);
  explicit DataError(const std::string& message) : Error(message) {}
};

}  // namespace vlb
