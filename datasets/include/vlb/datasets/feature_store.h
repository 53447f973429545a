#pragma once
// Reading, writing and validating schema-v1 feature files (datasets/SCHEMA.md).
#include <string>
#include <vector>

#include "vlb/datasets/dataset.h"

namespace vlb {

inline constexpr int kSchemaVersion = 1;

struct WriteOptions {
  bool features_fp16 = false;  // store /images/features (and /texts/features) as float16
  /// Duplicate class names are intended: write them (with a warning) and record that in the root
  /// attribute duplicate_class_names, so loading the file accepts them too.
  bool allow_duplicate_classes = false;
};

/// Writes `ds` to `path` atomically (temp file + rename; the temporary is removed on every error
/// and stale ones of killed writers are removed first). Refuses contents the loader would refuse
/// (content_check.h). A full disk or a permission problem is an EnvironmentError naming the path. Computes content_sha256 over every
/// dataset in the file and stores it as a root attribute; sets ds.fingerprint to it.
void write_dataset(Dataset& ds, const std::string& path, const WriteOptions& opts = {});

/// Opens, validates and loads a file. Throws DataError naming the file, the HDF5 path and the
/// shape/dtype it expected when the file does not match schema v1, or the first row and column of
/// a NaN/Inf, an empty split, zero-dimensional features or a duplicate class name.
Dataset read_dataset(const std::string& path);

/// Recomputes content_sha256 from the file's contents (for `vlb inspect --verify`).
std::string compute_fingerprint(const std::string& path);

/// Human-readable summary: groups, shapes, dtypes, splits, fingerprint, provenance.
std::string describe_file(const std::string& path);

}  // namespace vlb
