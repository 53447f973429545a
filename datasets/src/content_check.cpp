// Content checks shared by converters, writer and loader (vlb/datasets/content_check.h).
#include "vlb/datasets/content_check.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>
#include <unordered_map>

#include "vlb/core/error.h"

namespace vlb {

void check_finite(const at::Tensor& t, const std::string& file, const std::string& where,
                  bool allow_nan_rows) {
  if (!t.defined() || t.numel() == 0 || !at::isFloatingType(t.scalar_type())) return;
  // The cheap pass: one reduction; locating only runs for a bad file.
  if (torch::isfinite(t).all().item<bool>()) return;
  at::Tensor bad = torch::logical_not(torch::isfinite(t));
  if (allow_nan_rows && t.dim() == 2) {
    bad = bad & torch::logical_not(torch::isnan(t).all(1, /*keepdim=*/true));
    if (!bad.any().item<bool>()) return;
  }
  const int64_t count = bad.sum().item<int64_t>();
  // nonzero() may come back column-major: copy the row before reading it through data_ptr.
  at::Tensor first = bad.nonzero()[0].contiguous();
  std::string pos;
  if (t.dim() == 1) {
    pos = fmt::format("row {}", first[0].item<int64_t>());
  } else if (t.dim() == 2) {
    pos = fmt::format("row {}, column {}", first[0].item<int64_t>(), first[1].item<int64_t>());
  } else {
    pos = "index [";
    for (int64_t k = 0; k < first.numel(); ++k)
      pos += (k ? ", " : "") + std::to_string(first[k].item<int64_t>());
    pos += "]";
  }
  std::vector<int64_t> idx(first.data_ptr<int64_t>(), first.data_ptr<int64_t>() + first.numel());
  at::Tensor v = t;
  for (int64_t i : idx) v = v[i];
  const double x = v.item<double>();
  throw DataError(file, where,
                  fmt::format("{} non-finite value{} (NaN or Inf); the first is {} at {} (0-based)",
                              count, count == 1 ? "" : "s", std::isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf"),
                              pos));
}

void check_not_empty(const at::Tensor& t, const std::string& file, const std::string& where,
                     const std::string& what) {
  if (!t.defined()) return;
  if (t.dim() >= 1 && t.size(0) == 0)
    throw DataError(file, where, fmt::format("{} have zero rows; expected at least one", what));
  for (int64_t k = 1; k < t.dim(); ++k)
    if (t.size(k) == 0)
      throw DataError(file, where,
                      fmt::format("{} are zero-dimensional (dimension {} is 0); a method would "
                                  "only ever reach chance accuracy",
                                  what, k));
}

void check_class_names(const std::vector<std::string>& names, const std::string& file,
                       const std::string& where, bool lines, const ContentCheckOptions& opts) {
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    auto [it, fresh] = seen.emplace(names[i], i);
    if (fresh) continue;
    const std::string a = lines ? fmt::format("line {}", it->second + 1) : fmt::format("index {}", it->second);
    const std::string b = lines ? fmt::format("line {}", i + 1) : fmt::format("index {}", i);
    std::string at = where.empty() ? b : where + ", " + b;
    std::string msg = fmt::format("duplicate class name '{}' (also at {})", names[i], a);
    if (!opts.allow_duplicate_classes)
      throw DataError(file, at, msg + "; rename one, or pass --allow-duplicate-classes if intended");
    std::cerr << "vlb: warning: " << file << ": " << at << ": " << msg << "\n";
    return;  // one warning is enough to say the file has them
  }
}

void check_dataset_content(const Dataset& ds, const std::string& file,
                           const ContentCheckOptions& opts) {
  check_not_empty(ds.features, file, "/images/features", "image features");
  check_finite(ds.features, file, "/images/features");
  if (ds.feature_maps.defined()) check_finite(ds.feature_maps, file, "/images/feature_maps");
  for (const auto& [kind, t] : ds.descriptors) {
    check_not_empty(t, file, "/classes/descriptors/" + kind, "class descriptors");
    check_finite(t, file, "/classes/descriptors/" + kind, /*allow_nan_rows=*/true);
  }
  if (ds.texts.features.defined() && ds.texts.features.numel() > 0)
    check_finite(ds.texts.features, file, "/texts/features", /*allow_nan_rows=*/true);
  for (const auto& [name, t] : ds.texts.towers) check_finite(t, file, "/texts/towers/" + name);
  for (const auto& [name, idx] : ds.splits)
    if (idx.numel() == 0)
      throw DataError(file, "/splits/" + name,
                      "empty split (0 rows); a run training or evaluating on it cannot work");
  check_class_names(ds.class_names, file, "/classes/names", false, opts);
}

}  // namespace vlb
