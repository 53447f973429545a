#pragma once
// Reading an untrusted file in a child process first, so that a crash, a hang or a runaway
// allocation inside a third-party reader (HDF5, matio) becomes a located DataError instead of
// taking the whole sweep down. See Note [reading in a child] in isolation.cpp.
#include <cstdint>
#include <functional>
#include <string>

namespace vlb {

struct IsolationOptions {
  /// Wall-clock seconds the child may take; 0 = scale with the file (10 s + 1 s per 20 MB).
  double seconds = 0;
  /// Resident memory the child may add to what it inherits before it is killed; 0 = scale with
  /// the file (512 MiB + 16 bytes per file byte: readers expand float16 and copy a little).
  uint64_t memory_bytes = 0;
  /// Runs first in the child, e.g. to make LibTorch single-threaded (a forked child has none of
  /// its parent's OpenMP threads).
  std::function<void()> child_setup;
};

/// Runs `read` in a forked child with the limits of `o` and returns when it is safe for the caller
/// to run `read` itself: the child finished, or failed cheaply (then the caller's own run raises
/// the same error, with its own type). Throws DataError naming `path` and `what` when the child
/// crashed, ran out of time or memory, or failed expensively (then its message is rethrown with
/// its type). A file that passed once, unchanged since (same inode, size and mtime), is not
/// checked again in this process.
void check_in_child(const std::string& path, const std::string& what,
                    const std::function<void()>& read, const IsolationOptions& o = {});

/// check_in_child, then `read()` in this process.
template <class F>
auto read_isolated(const std::string& path, const std::string& what, F&& read,
                   const IsolationOptions& o = {}) {
  check_in_child(path, what, [&] { (void)read(); }, o);
  return read();
}

}  // namespace vlb
