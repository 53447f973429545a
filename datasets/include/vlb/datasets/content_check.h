#pragma once
// Content checks on feature arrays and class lists, shared by the converters (which name the
// input file and row), the writer and the loader (which name the HDF5 file and dataset path).
// Shapes and dtypes are the schema's business (feature_store.cpp); these catch what a valid
// shape can still hold: NaN/Inf, zero rows or columns, empty splits, duplicate class names.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "vlb/datasets/dataset.h"

namespace vlb {

/// Root attribute a writer sets when it was told duplicate class names are intended; a loader
/// then accepts them instead of refusing the file.
inline constexpr const char* kDuplicateClassesAttr = "duplicate_class_names";

struct ContentCheckOptions {
  bool allow_duplicate_classes = false;  // downgrade duplicate class names to a warning
};

/// DataError(file, where, ...) when a float tensor holds NaN or +-Inf: the count and the first
/// offending row (and column for 2-D, [row, k, col] for 3-D). One pass when all values are finite.
/// With `allow_nan_rows`, a 2-D row that is NaN throughout is accepted: it is the schema's
/// "no embedding known" marker (label texts and class names absent from a text bank); a partly
/// NaN row, or any Inf, is still an error.
void check_finite(const at::Tensor& t, const std::string& file, const std::string& where,
                  bool allow_nan_rows = false);

/// DataError when a [rows, cols] feature array has no rows or no columns. `what` names it
/// ("features", "text features"...).
void check_not_empty(const at::Tensor& t, const std::string& file, const std::string& where,
                     const std::string& what);

/// DataError naming both positions of the first duplicate (1-based `line` numbers when
/// `lines` is true, else 0-based indices), unless allowed; then one warning line on stderr.
void check_class_names(const std::vector<std::string>& names, const std::string& file,
                       const std::string& where, bool lines, const ContentCheckOptions& opts);

/// Every check above on a whole dataset, plus: each split has at least one row. Errors name
/// `file` and the HDF5 path of the offending array.
void check_dataset_content(const Dataset& ds, const std::string& file,
                           const ContentCheckOptions& opts);

}  // namespace vlb
