#pragma once
// Small filesystem helpers shared by every module: atomic writes, so that nothing a user already
// has is lost or left half-written when a run or a converter fails.
#include <string>

namespace vlb {

/// Writes `content` to `path` through a temporary file in the same directory + rename.
void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);  // DataError if unreadable

/// A temporary sibling path for `path` ("path.tmp-<pid>-<n>"), for write-then-rename.
std::string temp_sibling(const std::string& path);

}  // namespace vlb
