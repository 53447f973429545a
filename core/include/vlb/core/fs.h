#pragma once
// Small filesystem helpers shared by every module: atomic writes, so that nothing a user already
// has is lost or left half-written when a run or a converter fails.
#include <string>
#include <vector>

namespace vlb {

/// Writes `content` to `path` through a temporary file in the same directory + rename.
void write_file_atomic(const std::string& path, const std::string& content);
/// DataError if missing, a directory or unreadable; EnvironmentError when errno blames the
/// environment (permission denied, too many open files...). Every message names the path.
std::string read_file(const std::string& path);

/// The lines of a text file with a trailing '\r' removed (CRLF files). With `trim_and_skip_empty`
/// trailing spaces are removed too and empty lines dropped. DataError "cannot open the <what>".
std::vector<std::string> read_text_lines(const std::string& path, const std::string& what,
                                         bool trim_and_skip_empty = false);

/// A temporary sibling path for `path` ("path.tmp-<pid>-<n>"), for write-then-rename.
std::string temp_sibling(const std::string& path);

/// Note [Stale write temporaries]: a process killed while writing a large file (an HDF5 feature
/// file, the dataset cache) leaves "path.tmp-<host>-<pid>-<n>" behind. The next writer into the
/// same directory removes those whose process is gone on this host; another host's are left alone,
/// since on a shared directory its pids mean nothing here.
std::string host_temp_sibling(const std::string& path);
/// True for a host_temp_sibling name of this host whose process no longer exists.
bool is_stale_host_temp(const std::string& file_name);
/// Removes the stale host_temp_sibling files in `dir`; returns the paths it removed.
std::vector<std::string> remove_stale_temporaries_in(const std::string& dir);

/// Throws (DataError / EnvironmentError naming `path`) unless `path` is a readable regular file.
void check_readable_file(const std::string& path, const std::string& what);

}  // namespace vlb
