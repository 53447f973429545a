// Identities of runs and cells: what a baseline entry names, whatever folder the data lives in
// and whichever settings happen to vary in the spec that produced the runs.
#include <string>

#include "vlb/reports/report.h"

namespace vlb {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool starts_with(const std::string& s, const std::string& head) { return s.rfind(head, 0) == 0; }

}  // namespace

bool is_path_setting(const std::string& key, const std::string& value) {
  const size_t dot = key.rfind('.');
  const std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
  for (const char* name : {"path", "file", "dir", "root"})
    if (leaf == name || ends_with(leaf, std::string("_") + name)) return true;
  if (starts_with(value, "/") || starts_with(value, "./") || starts_with(value, "../") ||
      starts_with(value, "~/"))
    return true;
  // A relative path to a file: "data/dtd.h5".
  const size_t slash = value.rfind('/');
  return slash != std::string::npos && value.find('.', slash) != std::string::npos &&
         value.find(' ') == std::string::npos;
}

Identity run_identity(const RunRecord& r) {
  Identity id;
  for (const auto& [k, v] : r.config) {
    // runtime.* decides how a run executes, not what it computes; "metrics" is the entry's own
    // metric; dataset.name is replaced by the derived name below.
    if (starts_with(k, "runtime.") || k == "runtime" || k == "metrics" || k == "dataset.name") continue;
    if (is_path_setting(k, v)) continue;
    id[k] = v;
  }
  id["dataset.name"] = r.dataset_name;
  if (!r.dataset_fingerprint.empty()) id["dataset.fingerprint"] = r.dataset_fingerprint;
  return id;
}

}  // namespace vlb
