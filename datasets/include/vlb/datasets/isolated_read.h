#pragma once
// The limits and child setup every reader of an untrusted HDF5 or MAT file uses with
// check_in_child / read_isolated (vlb/core/isolation.h).
#include "vlb/core/isolation.h"

namespace vlb {

/// Default limits (scaled with the file), with LibTorch made single-threaded in the child: a
/// forked child has none of its parent's OpenMP threads, and waiting on them would hang it.
IsolationOptions reader_isolation();

}  // namespace vlb
