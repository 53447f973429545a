#include "vlb/core/error.h"

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

}  // namespace vlb
