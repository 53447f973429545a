#include "vlb/core/error.h"
#include "vlb/core/io_error.h"

#include <cerrno>
#include <cstring>

namespace vlb {
namespace {
std::string located(const std::string& file, int line, int column, const std::string& key,
                    const std::string& message) {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) out += ":" + std::to_string(line);
    if (line > 0 && column > 0) out += ":" + std::to_string(column);
    out += ": ";
  }
  if (!key.empty()) out += key + ": ";
  return out + message;
}
}  // namespace

ConfigError::ConfigError(const std::string& file, int line, int column, const std::string& key,
                         const std::string& message)
    : Error(located(file, line, column, key, message)) {}

DataError::DataError(const std::string& file, const std::string& where,
                     const std::string& message)
    : Error(located(file, 0, 0, where, message)) {}

EnvironmentError::EnvironmentError(const std::string& path, const std::string& where,
                                   const std::string& message)
    : Error(located(path, 0, 0, where, message)) {}

bool is_environment_errno(int err) {
  switch (err) {
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
    case EACCES:
    case EPERM:
    case EROFS:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

void throw_io_error(const std::string& path, const std::string& what, int err) {
  std::string msg = what;
  if (err != 0) msg += std::string(": ") + std::strerror(err);
  if (is_environment_errno(err)) throw EnvironmentError(path, "", msg);
  throw DataError(path, "", msg);
}

}  // namespace vlb
