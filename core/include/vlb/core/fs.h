#pragma once
// Small filesystem helpers shared by every module: atomic writes, so that nothing a user already
// has is lost or left half-written when a run or a converter fails.
#include <string>
#include <vector>

namespace vlb {

/// Writes `content` to `path` through a temporary file in the same directory + rename.
void write_file_atomic(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);  // DataError if unreadable

/// The lines of a text file with a trailing '\r' removed (CRLF files). With `trim_and_skip_empty`
/// trailing spaces are removed too and empty lines dropped. DataError "cannot open the <what>".
std::vector<std::string> read_text_lines(const std::string& path, const std::string& what,
                                         bool trim_and_skip_empty = false);

/// A temporary sibling path for `path` ("path.tmp-<pid>-<n>"), for write-then-rename.
std::string temp_sibling(const std::string& path);

}  // namespace vlb
