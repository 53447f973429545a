#pragma once
// Errors the environment causes rather than the input, and the errno -> exception mapping every
// I/O path uses. Kept beside error.h (which every module includes) so that it can grow without
// touching that header.
#include <string>

#include "vlb/core/error.h"

namespace vlb {

/// The environment refused an operation on a valid input: disk full, file too large, permission
/// denied, read-only file system. The CLI exits 4 for it (2 is for bad input), so a script can
/// tell "fix the input" from "fix the machine". what() reads "PATH: WHERE: MESSAGE".
class EnvironmentError : public Error {
 public:
  EnvironmentError(const std::string& path, const std::string& where, const std::string& message);
  explicit EnvironmentError(const std::string& message) : Error(message) {}
};

/// True for errno values that say the environment (not the input) is at fault: ENOSPC, EFBIG,
/// EDQUOT, EACCES, EPERM, EROFS, EMFILE, ENFILE, ENOMEM.
bool is_environment_errno(int err);

/// Throws EnvironmentError when `err` is an environment errno, else DataError; either names
/// `path` and says `what` failed, followed by strerror(err).
[[noreturn]] void throw_io_error(const std::string& path, const std::string& what, int err);

}  // namespace vlb
