// `vlb convert npy`: a directory of per-split .npy arrays -> one schema-v1 feature file.
#include "vlb/datasets/convert.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/content_check.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t k = 0; k < t.dim(); ++k) s += (k ? ", " : "") + std::to_string(t.size(k));
  return s + "] " + std::string(c10::toString(t.scalar_type()));
}

bool is_int(const at::Tensor& t) {
  return at::isIntegralType(t.scalar_type(), /*includeBool=*/false);
}

std::vector<std::string> read_lines(const std::string& path, const char* what) {
  std::vector<std::string> lines = read_text_lines(path, what);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();  // trailing newlines
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].empty())
      throw DataError(path, fmt::format("line {}", i + 1), "empty line; expected one name per line");
  if (lines.empty()) throw DataError(path, "", std::string("empty ") + what);
  return lines;
}

}  // namespace

ConvertNpyOptions npy_options_from_directory(const std::string& dir) {
  if (!fs::is_directory(dir)) throw DataError(dir, "", "not a directory");
  std::set<std::string> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    const std::string suffix = "_features.npy";
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        n != "text_features.npy")
      found.insert(n.substr(0, n.size() - suffix.size()));
  }
  if (found.empty())
    throw DataError(dir, "", "no <split>_features.npy files found (expected train_features.npy + "
                             "train_labels.npy, val_*, test_*, and classnames.txt)");
  ConvertNpyOptions o;
  std::vector<std::string> order;
  for (const char* s : {"train", "val", "test"})
    if (found.erase(s)) order.push_back(s);
  order.insert(order.end(), found.begin(), found.end());  // the rest in name order
  for (const auto& s : order) {
    NpySplit sp{s, (fs::path(dir) / (s + "_features.npy")).string(),
                (fs::path(dir) / (s + "_labels.npy")).string()};
    if (!fs::exists(sp.labels))
      throw DataError(sp.labels, "", "missing: expected the labels for " + sp.features);
    o.splits.push_back(sp);
  }
  o.classnames = (fs::path(dir) / "classnames.txt").string();
  if (!fs::exists(o.classnames))
    throw DataError(o.classnames, "", "missing: expected one class name per line");
  if (fs::exists(fs::path(dir) / "text_features.npy")) {
    o.text_features = (fs::path(dir) / "text_features.npy").string();
    if (fs::exists(fs::path(dir) / "text_classes.npy"))
      o.text_classes = (fs::path(dir) / "text_classes.npy").string();
  }
  o.dataset_name = fs::path(dir).lexically_normal().filename().string();
  if (o.dataset_name.empty()) o.dataset_name = fs::path(dir).parent_path().filename().string();
  return o;
}

Dataset convert_npy(const ConvertNpyOptions& o) {
  if (o.output.empty()) throw ConfigError("convert npy: an output path is required");
  if (o.splits.empty()) throw ConfigError("convert npy: no splits given");
  nlohmann::json sources = nlohmann::json::array();
  auto source = [&](const std::string& p) {
    sources.push_back({{"path", p}, {"sha256", sha256_file_hex(p)}});
  };

  Dataset ds;
  ds.name = o.dataset_name;
  ds.class_names = read_lines(o.classnames, "class name list");
  ContentCheckOptions cc;
  cc.allow_duplicate_classes = o.allow_duplicate_classes;
  check_class_names(ds.class_names, o.classnames, "", /*lines=*/true, cc);
  source(o.classnames);
  const int64_t C = ds.num_classes();

  std::vector<at::Tensor> feats, labels;
  int64_t rows = 0, D = -1;
  std::string d_file;
  bool all_fp16 = true;
  for (const auto& sp : o.splits) {
    at::Tensor x = read_npy(sp.features);
    if (x.dim() != 2 || !at::isFloatingType(x.scalar_type()))
      throw DataError(sp.features, "", "expected [n, D] float16 or float32 features, got " +
                                           shape_text(x));
    // Checked here, where the message can name the input file and its row.
    check_not_empty(x, sp.features, "", "features of split '" + sp.name + "'");
    check_finite(x, sp.features, "");
    at::Tensor y = read_npy(sp.labels);
    if (y.dim() != 1 || !is_int(y))
      throw DataError(sp.labels, "", "expected [n] integer labels, got " + shape_text(y));
    if (y.size(0) != x.size(0))
      throw DataError(sp.labels, "",
                      fmt::format("row count mismatch for split '{}': {} has {} rows but {} has {}",
                                  sp.name, sp.features, x.size(0), sp.labels, y.size(0)));
    if (D >= 0 && x.size(1) != D)
      throw DataError(sp.features, "", fmt::format("expected D={} columns (as in {}), got {}", D,
                                                   d_file, x.size(1)));
    D = x.size(1);
    d_file = sp.features;
    y = y.to(torch::kLong);
    at::Tensor bad = ((y < 0) | (y >= C)).nonzero();
    if (bad.numel() > 0) {
      int64_t r = bad[0][0].item<int64_t>();
      throw DataError(sp.labels, fmt::format("row {}", r),
                      fmt::format("label {} out of range: expected 0 <= label < C={} ({} lines in {})",
                                  y[r].item<int64_t>(), C, C, o.classnames));
    }
    if (ds.splits.count(sp.name)) throw ConfigError("convert npy: split '" + sp.name + "' given twice");
    all_fp16 = all_fp16 && x.scalar_type() == at::kHalf;
    ds.splits[sp.name] = torch::arange(rows, rows + x.size(0), torch::kLong);
    rows += x.size(0);
    feats.push_back(x.to(torch::kFloat));
    labels.push_back(y);
    source(sp.features);
    source(sp.labels);
  }
  ds.features = torch::cat(feats);
  ds.label = torch::cat(labels);

  if (!o.text_features.empty()) {
    at::Tensor t = read_npy(o.text_features);
    if (t.dim() != 2 || !at::isFloatingType(t.scalar_type()) || t.size(1) != D)
      throw DataError(o.text_features, "", fmt::format("expected [T, D={}] float text features "
                                                       "(D as in the image features), got {}",
                                                       D, shape_text(t)));
    check_finite(t, o.text_features, "");
    all_fp16 = all_fp16 && t.scalar_type() == at::kHalf;
    const int64_t T = t.size(0);
    bool one_per_class = false;
    t = t.to(torch::kFloat);
    if (o.l2_normalize_texts) t = t / t.norm(2, {1}, true).clamp_min(1e-12);
    ds.texts.features = t;
    source(o.text_features);
    if (!o.text_classes.empty()) {
      at::Tensor c = read_npy(o.text_classes);
      if (c.dim() != 1 || !is_int(c) || c.size(0) != T)
        throw DataError(o.text_classes, "", fmt::format("expected [T={}] integer class ids, got {}",
                                                        T, shape_text(c)));
      c = c.to(torch::kLong);
      at::Tensor bad = ((c < -1) | (c >= C)).nonzero();
      if (bad.numel() > 0) {
        int64_t r = bad[0][0].item<int64_t>();
        throw DataError(o.text_classes, fmt::format("row {}", r),
                        fmt::format("class {} out of range: expected -1 <= class < C={}",
                                    c[r].item<int64_t>(), C));
      }
      ds.texts.cls = c;
      source(o.text_classes);
    } else {
      // Note [one text per class]: T == C rows without class ids are a class-prompt classifier
      // (one prompt or prompt-ensemble embedding per class, as CLIP zero-shot heads are stored):
      // row c is class c's text, of type name unless --text-types says otherwise.
      one_per_class = T == C;
      ds.texts.cls = one_per_class ? torch::arange(C, torch::kLong) : torch::full({T}, -1, torch::kLong);
    }
    if (!o.text_strings.empty()) {
      ds.texts.strings = read_lines(o.text_strings, "text list");
      if (static_cast<int64_t>(ds.texts.strings.size()) != T)
        throw DataError(o.text_strings, "", fmt::format("expected T={} lines (rows of {}), got {}",
                                                        T, o.text_features, ds.texts.strings.size()));
      source(o.text_strings);
    } else {
      auto cls = ds.texts.cls.accessor<int64_t, 1>();
      for (int64_t i = 0; i < T; ++i)
        ds.texts.strings.push_back(cls[i] >= 0 ? ds.class_names[cls[i]] : fmt::format("text_{}", i));
    }
    ds.texts.image = torch::full({T}, -1, torch::kLong);
    ds.texts.source = torch::zeros({T}, torch::kChar);
    auto read_codes = [&](const std::string& file, int64_t lo, int64_t hi, const char* what) {
      at::Tensor v = read_npy(file);
      if (v.dim() != 1 || !is_int(v) || v.size(0) != T)
        throw DataError(file, "", fmt::format("expected [T={}] integer {}, got {}", T, what,
                                              shape_text(v)));
      v = v.to(torch::kLong);
      at::Tensor bad = ((v < lo) | (v >= hi)).nonzero();
      if (bad.numel() > 0) {
        int64_t r = bad[0][0].item<int64_t>();
        throw DataError(file, fmt::format("row {}", r),
                        fmt::format("{} {} out of range: expected {} <= value < {}", what,
                                    v[r].item<int64_t>(), lo, hi));
      }
      source(file);
      return v;
    };
    if (!o.text_types.empty()) {
      ds.texts.type = read_codes(o.text_types, -1, kMaxTextType + 1, "text type codes").to(torch::kChar);
      ds.texts.partner = o.text_partners.empty()
                             ? torch::full({T}, -1, torch::kLong)
                             : read_codes(o.text_partners, -1, C, "partner class ids");
      // The reader refuses a pair text without a class and a different partner class: refuse it
      // here, before anything is written, and name the row.
      const auto pair = static_cast<int8_t>(TextType::kPair);
      at::Tensor bad = (ds.texts.type.eq(pair) & (ds.texts.cls.lt(0) | ds.texts.partner.lt(0) |
                                                  ds.texts.cls.eq(ds.texts.partner)))
                           .nonzero();
      if (bad.numel() > 0) {
        const int64_t r = bad[0][0].item<int64_t>();
        throw DataError(o.text_types, fmt::format("row {}", r),
                        fmt::format("a pair text (type {}) needs a class and a different partner "
                                    "class (--text-classes, --text-partners), got class {} partner {}",
                                    pair, ds.texts.cls[r].item<int64_t>(),
                                    ds.texts.partner[r].item<int64_t>()));
      }
    } else if (!o.text_partners.empty()) {
      throw ConfigError("convert npy: --text-partners needs --text-types");
    } else if (one_per_class) {
      ds.texts.type = torch::full({T}, static_cast<int64_t>(TextType::kName), torch::kChar);
      ds.texts.partner = torch::full({T}, -1, torch::kLong);
    }
  } else if (!o.text_types.empty() || !o.text_partners.empty() || !o.text_classes.empty()) {
    throw ConfigError("convert npy: --text-types/--text-partners/--text-classes need --text-features");
  }

  // Note [text bank rows]: a generic bank (e.g. LVIS/COCO/Objects365 name embeddings) becomes
  // free-standing texts: class -1, type other, L2-normalized here because such dumps are raw
  // encoder outputs (the CLIP vocab files have norms ~10) and every consumer wants unit rows.
  for (const auto& bank : o.text_banks) {
    at::Tensor b = read_npy(bank.features);
    if (b.dim() != 2 || !at::isFloatingType(b.scalar_type()) || b.size(1) != D)
      throw DataError(bank.features, "", fmt::format("expected [B, D={}] float bank features "
                                                     "(D as in the image features), got {}",
                                                     D, shape_text(b)));
    check_finite(b, bank.features, "");
    all_fp16 = all_fp16 && b.scalar_type() == at::kHalf;
    const int64_t B = b.size(0);
    b = b.to(torch::kFloat);
    b = b / b.norm(2, {1}, true).clamp_min(1e-12);
    source(bank.features);
    std::vector<std::string> names;
    if (!bank.names.empty()) {
      names = read_lines(bank.names, "text bank names");
      if (static_cast<int64_t>(names.size()) != B)
        throw DataError(bank.names, "", fmt::format("expected B={} lines (rows of {}), got {}", B,
                                                    bank.features, names.size()));
      source(bank.names);
    } else {
      std::string stem = fs::path(bank.features).stem().string();
      for (int64_t i = 0; i < B; ++i) names.push_back(fmt::format("bank_{}_{}", stem, i));
    }
    Texts& tx = ds.texts;
    const int64_t T0 = tx.size();
    auto cat = [](const at::Tensor& a, const at::Tensor& b2) { return a.defined() ? torch::cat({a, b2}) : b2; };
    tx.features = cat(tx.features, b);
    tx.strings.insert(tx.strings.end(), names.begin(), names.end());
    tx.image = cat(tx.image, torch::full({B}, -1, torch::kLong));
    tx.cls = cat(tx.cls, torch::full({B}, -1, torch::kLong));
    tx.source = cat(tx.source, torch::zeros({B}, torch::kChar));
    // Typed rows stay typed: bank rows are "other". Untyped files stay untyped.
    if (tx.type.defined() || T0 == 0) {
      tx.type = cat(tx.type, torch::full({B}, -1, torch::kChar));
      tx.partner = cat(tx.partner, torch::full({B}, -1, torch::kLong));
    }
  }

  ds.attrs["feature_model"] = o.feature_model;
  ds.attrs["created_by"] = "vlb convert npy 0.1";
  ds.attrs["source_files"] = sources.dump();
  WriteOptions wo;
  // Keep the storage dtype: fp16 inputs stay fp16 (exact), anything else is stored as fp32.
  wo.features_fp16 = all_fp16;
  wo.allow_duplicate_classes = o.allow_duplicate_classes;
  write_dataset(ds, o.output, wo);  // atomic: an error above leaves o.output untouched
  ds.path = o.output;
  return ds;
}

}  // namespace vlb
