// xlsa17 att_splits.mat (+ features) -> schema v1, and the sun_clip_gzsl join of CLIP SUN397
// features with the xlsa17 SUN classes. MATLAB files are read with libmatio.
#include "vlb/datasets/xlsa17.h"

#include <ATen/CPUGeneratorImpl.h>
#include <matio.h>
#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/core/sha256.h"
#include "vlb/core/text.h"
#include "vlb/datasets/content_check.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/isolated_read.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

struct MatCloser {
  void operator()(mat_t* m) const { if (m) Mat_Close(m); }
};
struct VarFree {
  void operator()(matvar_t* v) const { if (v) Mat_VarFree(v); }
};
using MatFile = std::unique_ptr<mat_t, MatCloser>;
using MatVar = std::unique_ptr<matvar_t, VarFree>;

MatFile open_mat(const std::string& path) {
  if (!fs::exists(path)) throw DataError(path, "", "file not found");
  MatFile m(Mat_Open(path.c_str(), MAT_ACC_RDONLY));
  if (!m) throw DataError(path, "", "not a MATLAB .mat file libmatio can read");
  return m;
}

// Note [MAT element bound]: matio allocates what a variable's header declares before it reads the
// data, so a few hundred bytes can declare gigabytes. A variable's data is at most what the file
// stores, expanded by zlib at most 1032:1 (deflate's limit, zlib's technical notes) for compressed
// variables: headers declaring more are refused before anything is allocated.
constexpr uint64_t kDeflateMaxRatio = 1032;

void check_declared_size(mat_t* m, const std::string& path, const std::string& name) {
  MatVar info(Mat_VarReadInfo(m, name.c_str()));
  if (!info) return;  // absent: read_var reports it
  uint64_t n = 1;
  for (int r = 0; r < info->rank; ++r) {
    const uint64_t d = info->dims[r];
    if (d != 0 && n > UINT64_MAX / d) { n = UINT64_MAX; break; }
    n *= d;
  }
  const uint64_t elem = std::max<uint64_t>(1, Mat_SizeOfClass(info->class_type));
  std::error_code ec;
  const uint64_t file_bytes = fs::file_size(path, ec);
  const uint64_t cap = (ec ? 0 : file_bytes) * kDeflateMaxRatio + 4096;
  if (n > cap / elem)
    throw DataError(path, name,
                    fmt::format("declares {} elements, more than a {}-byte file can hold", n,
                                file_bytes));
}

MatVar read_var(mat_t* m, const std::string& path, const std::string& name, bool required) {
  check_declared_size(m, path, name);
  MatVar v(Mat_VarRead(m, name.c_str()));
  if (!v && required) throw DataError(path, name, "variable not found in the .mat file");
  return v;
}

template <class T>
void copy_as_double(const void* data, size_t n, std::vector<double>& out) {
  const T* p = static_cast<const T*>(data);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i]);
}

// A 2-D numeric variable -> row-major float64 [rows, cols] (MATLAB stores column-major).
at::Tensor numeric(const matvar_t* v, const std::string& path, const std::string& name) {
  if (v->rank != 2 || v->isComplex || v->class_type == MAT_C_SPARSE)
    throw DataError(path, name, fmt::format("expected a real 2-D numeric matrix, got rank {}", v->rank));
  const size_t rows = v->dims[0], cols = v->dims[1], n = rows * cols;
  if (n && (!v->data || v->nbytes / std::max<size_t>(1, Mat_SizeOfClass(v->class_type)) < n))
    throw DataError(path, name, fmt::format("declares {} x {} values, holds {} bytes", rows, cols,
                                            v->data ? v->nbytes : 0));
  std::vector<double> buf(n);
  switch (v->class_type) {
    case MAT_C_DOUBLE: copy_as_double<double>(v->data, n, buf); break;
    case MAT_C_SINGLE: copy_as_double<float>(v->data, n, buf); break;
    case MAT_C_INT8: copy_as_double<int8_t>(v->data, n, buf); break;
    case MAT_C_UINT8: copy_as_double<uint8_t>(v->data, n, buf); break;
    case MAT_C_INT16: copy_as_double<int16_t>(v->data, n, buf); break;
    case MAT_C_UINT16: copy_as_double<uint16_t>(v->data, n, buf); break;
    case MAT_C_INT32: copy_as_double<int32_t>(v->data, n, buf); break;
    case MAT_C_UINT32: copy_as_double<uint32_t>(v->data, n, buf); break;
    case MAT_C_INT64: copy_as_double<int64_t>(v->data, n, buf); break;
    case MAT_C_UINT64: copy_as_double<uint64_t>(v->data, n, buf); break;
    default:
      throw DataError(path, name, fmt::format("expected a numeric matrix, got MATLAB class {}",
                                              static_cast<int>(v->class_type)));
  }
  // Column-major [rows, cols] == row-major [cols, rows]; transpose back to the MATLAB shape.
  auto t = torch::from_blob(buf.data(), {(int64_t)cols, (int64_t)rows}, torch::kDouble).clone();
  return t.t().contiguous();
}

std::string char_text(const matvar_t* v, const std::string& path, const std::string& where) {
  if (v->class_type != MAT_C_CHAR)
    throw DataError(path, where, "expected a char array");
  size_t n = 1;
  for (int r = 0; r < v->rank; ++r) n *= v->dims[r];
  // The header's dimensions and the data matio read are separate fields of the file.
  const bool wide = v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16;
  const size_t have = v->data ? v->nbytes / (wide ? 2 : 1) : 0;
  if (have < n)
    throw DataError(path, where, fmt::format("char array declares {} characters, holds {}", n, have));
  std::string s;
  if (wide) {
    const uint16_t* p = static_cast<const uint16_t*>(v->data);
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(p[i] < 128 ? p[i] : '?'));
  } else {
    const char* p = static_cast<const char*>(v->data);
    s.assign(p, p + n);
  }
  return s;
}

// MATLAB 1-based locations (column) -> 0-based int64, checking they are positive integers.
at::Tensor locations(const at::Tensor& m, const std::string& path, const std::string& name) {
  auto v = m.reshape({-1});
  if (v.numel() == 0) throw DataError(path, name, "empty location list");
  check_finite(v, path, name);
  if (!torch::equal(v, v.round()) || v.min().item<double>() < 1)
    throw DataError(path, name, "locations must be positive integers (MATLAB 1-based)");
  return v.to(torch::kLong) - 1;
}

std::vector<std::string> read_lines(const std::string& path) { return read_text_lines(path, "name list", true); }

at::Tensor sorted_unique(const at::Tensor& t) {
  return std::get<0>(torch::_unique(t, /*sorted=*/true));
}

nlohmann::json source_entry(const std::string& p) {
  return {{"path", p}, {"sha256", sha256_file_hex(p)}};
}

// Extra descriptor kinds from .npy files, one row per class.
void add_descriptors(Dataset& ds, const std::vector<std::pair<std::string, std::string>>& kinds,
                     const at::Tensor& class_rows, int64_t expected_rows, nlohmann::json& sources) {
  for (const auto& [kind, file] : kinds) {
    if (kind.empty() || kind.find('/') != std::string::npos)
      throw ConfigError(fmt::format("descriptor kind '{}' must be a non-empty name without '/'", kind));
    auto t = read_npy(file);
    if (t.dim() != 2 || t.size(0) != expected_rows)
      throw DataError(file, "", fmt::format("descriptor '{}' must be [{}, d] (one row per class "
                                            "in the class-name order), got {} dims, {} rows",
                                            kind, expected_rows, t.dim(), t.dim() ? t.size(0) : 0));
    auto f = t.to(torch::kFloat);
    if (class_rows.defined()) f = f.index_select(0, class_rows);
    ds.descriptors[kind] = f.contiguous();
    sources.push_back(source_entry(file));
  }
}

Xlsa17Splits read_splits(const std::string& path) {
  auto m = open_mat(path);
  Xlsa17Splits s;
  auto att = read_var(m.get(), path, "att", true);
  s.att = numeric(att.get(), path, "att").t().contiguous().to(torch::kFloat);  // d x C -> C x d
  const int64_t C = s.att.size(0);
  if (auto oa = read_var(m.get(), path, "original_att", false)) {
    s.original_att = numeric(oa.get(), path, "original_att").t().contiguous().to(torch::kFloat);
    if (s.original_att.sizes() != s.att.sizes())
      throw DataError(path, "original_att", "shape differs from att");
  }
  if (auto names = read_var(m.get(), path, "allclasses_names", false)) {
    if (names->class_type != MAT_C_CELL)
      throw DataError(path, "allclasses_names", "expected a cell array of char");
    size_t n = 1;
    for (int r = 0; r < names->rank; ++r) n *= names->dims[r];
    if (static_cast<int64_t>(n) != C)
      throw DataError(path, "allclasses_names",
                      fmt::format("{} names but att has {} classes (columns)", n, C));
    for (size_t i = 0; i < n; ++i) {
      matvar_t* cell = Mat_VarGetCell(names.get(), static_cast<int>(i));
      if (!cell) throw DataError(path, fmt::format("allclasses_names{{{}}}", i + 1), "missing cell");
      s.class_names.push_back(char_text(cell, path, fmt::format("allclasses_names{{{}}}", i + 1)));
    }
    s.has_class_names = true;
  } else {
    for (int64_t c = 0; c < C; ++c) s.class_names.push_back(fmt::format("class_{:03d}", c));
  }
  for (const char* key : {"trainval", "train", "val", "test_seen", "test_unseen"}) {
    std::string var = std::string(key) + "_loc";
    bool required = std::string(key) == "trainval" || std::string(key).rfind("test", 0) == 0;
    if (auto v = read_var(m.get(), path, var, required))
      s.locs[key] = locations(numeric(v.get(), path, var), path, var);
  }
  return s;
}

}  // namespace

Xlsa17Splits read_xlsa17_splits(const std::string& path) {
  return read_isolated(path, "reading the MAT file", [&] { return read_splits(path); },
                       reader_isolation());
}

Dataset convert_xlsa17(const ConvertXlsa17Options& o) {
  if (o.output.empty()) throw ConfigError("convert xlsa17: --out is required");
  if (o.features.empty()) throw ConfigError("convert xlsa17: --features is required");
  Xlsa17Splits s = read_xlsa17_splits(o.att_splits);
  const int64_t C = s.att.size(0);
  nlohmann::json sources = nlohmann::json::array({source_entry(o.att_splits)});

  at::Tensor feats, labels;
  const bool is_mat = fs::path(o.features).extension() == ".mat";
  if (is_mat) {
    auto m = open_mat(o.features);
    auto lv = read_var(m.get(), o.features, "labels", true);
    labels = numeric(lv.get(), o.features, "labels").reshape({-1});
    auto fv = read_var(m.get(), o.features, "features", true);
    feats = numeric(fv.get(), o.features, "features");
    // res101.mat stores D x N; some releases store N x D: orient by the label count.
    const int64_t n = labels.numel();
    if (feats.size(1) == n && feats.size(0) != n) feats = feats.t().contiguous();
    if (feats.size(0) != n)
      throw DataError(o.features, "features",
                      fmt::format("[{}, {}] does not match the {} labels", feats.size(0),
                                  feats.size(1), n));
  } else {
    if (o.labels.empty())
      throw ConfigError("convert xlsa17: a .npy --features file needs --labels (1-based .npy)");
    feats = read_npy(o.features);
    labels = read_npy(o.labels).reshape({-1}).to(torch::kDouble);
    if (feats.dim() != 2 || feats.size(0) != labels.numel())
      throw DataError(o.features, "",
                      fmt::format("expected [N, D] with N = {} labels ({})", labels.numel(), o.labels));
    sources.push_back(source_entry(o.labels));
  }
  sources.push_back(source_entry(o.features));
  const std::string label_file = is_mat ? o.features : o.labels;
  if (labels.numel() == 0) throw DataError(label_file, "labels", "empty: expected one label per image");
  if (feats.dim() != 2 || feats.size(1) == 0)
    throw DataError(o.features, "features", "expected [N, D] features with D >= 1");
  check_finite(feats, o.features, "features");
  check_finite(labels, label_file, "labels");
  const int64_t N = feats.size(0);
  if (!torch::equal(labels, labels.round()) || labels.min().item<double>() < 1 ||
      labels.max().item<double>() > C)
    throw DataError(label_file, "labels",
                    fmt::format("labels must be integers in [1, {}] (1-based, {} classes in {})",
                                C, C, o.att_splits));

  Dataset ds;
  ds.name = o.dataset_name;
  ds.class_names = s.class_names;
  ds.features = feats.to(torch::kFloat).contiguous();
  ds.label = labels.to(torch::kLong) - 1;
  ds.descriptors["att"] = s.att;
  if (s.original_att.defined()) ds.descriptors["original_att"] = s.original_att;
  for (const auto& [key, loc] : s.locs) {
    const int64_t mx = loc.max().item<int64_t>();
    if (mx >= N)
      throw DataError(o.features, "",
                      fmt::format("the features file has {} rows, but {}_loc in {} refers to "
                                  "row {} (1-based): the files do not belong together",
                                  N, key, o.att_splits, mx + 1));
    // Note [sorted splits]: schema v1 keeps split rows sorted and unique; the .mat order is
    // not meaningful (images are evaluated per class).
    ds.splits[key] = sorted_unique(loc);
    if (ds.splits[key].numel() != loc.numel())
      throw DataError(o.att_splits, key + "_loc", "repeated locations");
  }
  ds.splits["test"] = sorted_unique(torch::cat({ds.splits["test_seen"], ds.splits["test_unseen"]}));
  auto seen = sorted_unique(ds.label.index_select(0, ds.splits["trainval"]));
  auto unseen = sorted_unique(ds.label.index_select(0, ds.splits["test_unseen"]));
  auto test_seen_cls = sorted_unique(ds.label.index_select(0, ds.splits["test_seen"]));
  if (torch::isin(unseen, seen).any().item<bool>())
    throw DataError(o.att_splits, "test_unseen_loc",
                    "some test_unseen images belong to classes that also have trainval images");
  if (!torch::isin(test_seen_cls, seen).all().item<bool>())
    throw DataError(o.att_splits, "test_seen_loc",
                    "some test_seen images belong to classes without trainval images");
  ds.class_splits["seen"] = seen;
  ds.class_splits["unseen"] = unseen;
  add_descriptors(ds, o.descriptors, at::Tensor(), C, sources);
  ds.attrs["feature_model"] = o.feature_model;
  ds.attrs["created_by"] = "vlb convert xlsa17 1";
  ds.attrs["source_files"] = sources.dump();
  ds.feature_dtype = "float32";
  write_dataset(ds, o.output);
  return ds;
}

Dataset convert_sun_clip_gzsl(const SunClipGzslOptions& o) {
  if (o.output.empty()) throw ConfigError("convert sun-clip-gzsl: --out is required");
  const std::string dir = o.clip_dir;
  auto clip_names = read_lines(dir + "/classnames.txt");
  Xlsa17Splits s = read_xlsa17_splits(o.att_splits);
  if (!s.has_class_names) throw DataError(o.att_splits, "allclasses_names", "missing: cannot join by name");
  auto test_names = read_lines(o.test_classes);

  // Join: exact canonical names first, then the same words in another order. Canonical = "full"
  // (case, '_', '/' and other punctuation folded): on SUN397 x xlsa17 SUN it matches the same
  // 270 exact + 125 word-order classes as folding only case, '_' and '/'.
  auto canon = [](const std::string& n) { return canonical_label(n, "full"); };
  std::map<std::string, int64_t> exact, bag;
  for (size_t j = 0; j < s.class_names.size(); ++j) {
    exact.emplace(canon(s.class_names[j]), j);
    bag.emplace(word_bag_key(s.class_names[j], "full"), j);
  }
  std::set<std::string> test_set;
  for (const auto& t : test_names) test_set.insert(canon(t));
  std::vector<int64_t> clip_of, x_of;  // matched class k: CLIP label, xlsa17 index
  std::vector<std::string> how;
  std::set<int64_t> used;
  for (size_t i = 0; i < clip_names.size(); ++i) {
    auto it = exact.find(canon(clip_names[i]));
    std::string m = "exact";
    if (it == exact.end()) {
      it = bag.find(word_bag_key(clip_names[i], "full"));
      m = "word_order";
      if (it == bag.end()) continue;
    }
    if (!used.insert(it->second).second) continue;  // one CLIP class per xlsa17 class
    clip_of.push_back(i);
    x_of.push_back(it->second);
    how.push_back(m);
  }
  const int64_t K = static_cast<int64_t>(clip_of.size());
  if (K < 3) throw DataError(o.clip_dir, "classnames.txt", "fewer than 3 classes match xlsa17 SUN");

  // Unseen: matched classes that are xlsa17 test classes; topped up with seeded seen ones.
  std::vector<int64_t> unseen, rest;
  for (int64_t k = 0; k < K; ++k)
    (test_set.count(canon(s.class_names[x_of[k]])) ? unseen : rest).push_back(k);
  std::vector<std::string> added;
  if (static_cast<int64_t>(unseen.size()) < o.min_unseen) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
    auto perm = at::randperm(static_cast<int64_t>(rest.size()), gen, torch::kLong);
    const int64_t need = std::min<int64_t>(o.min_unseen - unseen.size(), rest.size() - 2);
    std::vector<int64_t> moved;
    for (int64_t i = 0; i < need; ++i) moved.push_back(rest[perm[i].item<int64_t>()]);
    for (auto k : moved) {
      unseen.push_back(k);
      added.push_back(clip_names[clip_of[k]]);
    }
    std::set<int64_t> ms(moved.begin(), moved.end());
    std::vector<int64_t> keep;
    for (auto k : rest) if (!ms.count(k)) keep.push_back(k);
    rest = keep;
  }
  std::sort(unseen.begin(), unseen.end());

  // Images: CLIP train rows of seen classes -> trainval; test rows -> test_seen / test_unseen.
  std::vector<int64_t> k_of_clip(clip_names.size(), -1);
  for (int64_t k = 0; k < K; ++k) k_of_clip[clip_of[k]] = k;
  std::vector<bool> is_unseen(K, false);
  for (auto k : unseen) is_unseen[k] = true;
  std::vector<at::Tensor> feats;
  std::vector<int64_t> lab;
  std::vector<int64_t> trainval, test_seen, test_unseen;
  nlohmann::json sources = nlohmann::json::array();
  for (const char* part : {"train", "test"}) {
    std::string fp = fmt::format("{}/{}_features.npy", dir, part), lp = fmt::format("{}/{}_labels.npy", dir, part);
    auto f = read_npy(fp).to(torch::kFloat);
    auto l = read_npy(lp).to(torch::kLong).contiguous();
    if (f.dim() != 2 || f.size(0) != l.numel())
      throw DataError(fp, "", fmt::format("rows do not match {} ({} labels)", lp, l.numel()));
    sources.push_back(source_entry(fp));
    sources.push_back(source_entry(lp));
    std::vector<int64_t> keep;
    const int64_t* lpd = l.data_ptr<int64_t>();
    for (int64_t i = 0; i < l.numel(); ++i) {
      if (lpd[i] < 0 || lpd[i] >= (int64_t)clip_names.size())
        throw DataError(lp, fmt::format("row {}", i), fmt::format("label {} outside the {} classnames", lpd[i], clip_names.size()));
      const int64_t k = k_of_clip[lpd[i]];
      if (k < 0) continue;
      const bool train = std::string(part) == "train";
      if (train && is_unseen[k]) continue;  // no unseen images are used to build anything
      const int64_t row = static_cast<int64_t>(lab.size());
      (train ? trainval : (is_unseen[k] ? test_unseen : test_seen)).push_back(row);
      lab.push_back(k);
      keep.push_back(i);
    }
    feats.push_back(f.index_select(0, torch::tensor(keep, torch::kLong)));
  }
  sources.push_back(source_entry(o.att_splits));
  sources.push_back(source_entry(o.test_classes));

  Dataset ds;
  ds.name = "sun_clip_gzsl";
  for (int64_t k = 0; k < K; ++k) ds.class_names.push_back(clip_names[clip_of[k]]);
  ds.features = torch::cat(feats).contiguous();
  ds.label = torch::tensor(lab, torch::kLong);
  ds.splits["trainval"] = torch::tensor(trainval, torch::kLong);
  ds.splits["test_seen"] = torch::tensor(test_seen, torch::kLong);
  ds.splits["test_unseen"] = torch::tensor(test_unseen, torch::kLong);
  ds.splits["test"] = sorted_unique(torch::cat({ds.splits["test_seen"], ds.splits["test_unseen"]}));
  ds.class_splits["seen"] = torch::tensor(rest, torch::kLong);
  ds.class_splits["unseen"] = torch::tensor(unseen, torch::kLong);
  auto rows = torch::tensor(x_of, torch::kLong);
  ds.descriptors["att"] = s.att.index_select(0, rows).contiguous();
  if (s.original_att.defined()) ds.descriptors["original_att"] = s.original_att.index_select(0, rows).contiguous();
  add_descriptors(ds, o.descriptors, rows, static_cast<int64_t>(s.class_names.size()), sources);
  nlohmann::json mapping = nlohmann::json::array();
  for (int64_t k = 0; k < K; ++k)
    mapping.push_back({{"class", k},
                       {"sun397", clip_names[clip_of[k]]},
                       {"sun397_label", clip_of[k]},
                       {"xlsa17", s.class_names[x_of[k]]},
                       {"xlsa17_index", x_of[k]},
                       {"match", how[k]},
                       {"unseen", static_cast<bool>(is_unseen[k])}});
  ds.attrs["class_mapping"] = mapping.dump();
  ds.attrs["unseen_added_by_seed"] = nlohmann::json(added).dump();
  ds.attrs["feature_model"] = "openai/ViT-B-32";
  ds.attrs["created_by"] = "vlb convert sun-clip-gzsl 1";
  ds.attrs["source_files"] = sources.dump();
  ds.feature_dtype = "float32";
  write_dataset(ds, o.output);
  return ds;
}

}  // namespace vlb
