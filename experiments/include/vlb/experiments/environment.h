#pragma once
// Where a run ran, as recorded in its env.json: the checkout, the machine, the compiler and the
// library versions. Probed when the run happens and never hashed into the run key (a comment edit
// or another host must not invalidate results).
#include <optional>
#include <string>

namespace vlb {

struct GitInfo {
  std::string sha = "unknown";
  std::optional<bool> dirty;  // uncommitted changes; empty when git could not tell
};

/// HEAD of the checkout holding `dir` and whether its work tree is dirty; "unknown" outside git.
GitInfo git_info(const std::string& dir);

/// gethostname(), "unknown" when it fails.
std::string hostname();
/// This machine's host name, made safe for file names.
std::string host_tag();
/// The first "model name" of /proc/cpuinfo, "unknown" when there is none.
std::string cpu_model();

std::string vlb_version();
std::string compiler();       // "gcc <version>" or "clang <version>"
std::string torch_version();  // the LibTorch headers this binary was built with
std::string hdf5_version();   // the HDF5 library loaded at run time, "unknown" if it cannot say

}  // namespace vlb
