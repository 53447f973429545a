// predictions.h5: what a method returned for every evaluation row (datasets/RESULTS.md).
#include "vlb/experiments/predictions.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/hdf5.h"
#include "vlb/datasets/isolated_read.h"
#include "vlb/experiments/environment.h"
#include "vlb/experiments/spec.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

constexpr const char* kFormat = "vlb-predictions/1";
constexpr int64_t kFormatVersion = 1;

h5::DType storage_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kHalf: return h5::DType::kFloat16;
    case at::kFloat: return h5::DType::kFloat32;
    case at::kDouble: return h5::DType::kFloat64;
    case at::kChar: return h5::DType::kInt8;
    case at::kByte: case at::kBool: return h5::DType::kUInt8;
    case at::kShort: return h5::DType::kInt16;
    case at::kInt: return h5::DType::kInt32;
    case at::kLong: return h5::DType::kInt64;
    default: return h5::DType::kFloat32;  // anything else (bfloat16): widened to float32
  }
}

// Note [predictions checksums]: HDF5 keeps no checksum of contiguous data, so a flipped byte in
// a score would go unnoticed and a rescore would report a "changed" value that no code changed.
// Every dataset carries the SHA-256 of its stored little-endian bytes; read_predictions checks it.
void write_checked(hid_t f, const std::string& path, const at::Tensor& t, h5::DType storage) {
  // Contiguous (no chunks): nothing is compressed, and a partial last chunk would cost space.
  h5::write_array(f, path, t.cpu(), storage, 0);
  h5::set_attr(f, path, "sha256", sha256_hex(h5::read_raw_le(f, path)));
}

at::Tensor read_checked(hid_t f, const std::string& file, const std::string& path) {
  if (!h5::is_dataset(f, path)) throw DataError(file, path, "dataset missing");
  at::Tensor t = h5::read_array(f, path);
  auto want = h5::get_attr_text(f, path, "sha256");
  if (!want) throw DataError(file, path, "no sha256 attribute (not written by vlb)");
  if (sha256_hex(h5::read_raw_le(f, path)) != *want)
    throw DataError(file, path, "content does not match its sha256 attribute (file corrupt)");
  return t;
}

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Predicted names for open-vocabulary runs: the pred_text rows' strings, else the class name of
// the best score.
std::vector<std::string> predicted_names(const Prediction& pred, const Dataset& ds) {
  std::vector<std::string> out;
  auto it = pred.aux.find("pred_text");
  if (it != pred.aux.end() && it->second.defined() && it->second.dim() == 1) {
    auto rows = it->second.to(at::kLong).contiguous();
    for (int64_t i = 0; i < rows.numel(); ++i) {
      int64_t r = rows.data_ptr<int64_t>()[i];
      out.push_back(r >= 0 && r < static_cast<int64_t>(ds.texts.strings.size()) ? ds.texts.strings[r] : "");
    }
  } else if (pred.scores.defined() && pred.scores.dim() == 2 && pred.scores.size(1) == ds.num_classes()) {
    auto best = pred.scores.to(at::kFloat).argmax(1).contiguous();
    for (int64_t i = 0; i < best.numel(); ++i) out.push_back(ds.class_names[best.data_ptr<int64_t>()[i]]);
  }
  return out;
}

}  // namespace

std::string primary_task(const std::vector<std::string>& tags) {
  for (const auto& t : tags)
    if (t.rfind("task:", 0) == 0) return t.substr(5);
  return "";
}

std::pair<at::Tensor, at::Tensor> stable_topk_rows(const at::Tensor& scores, int64_t k) {
  auto s = scores.to(at::kFloat).contiguous();
  // A stable descending sort keeps equal scores in ascending id order: the metrics' tie rule.
  auto sorted = at::sort(s, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  k = std::min<int64_t>(k, s.size(1));
  return {std::get<1>(sorted).narrow(1, 0, k).contiguous(),
          std::get<0>(sorted).narrow(1, 0, k).contiguous()};
}

std::string choose_predictions_mode(const PredictionsOptions& opts, int64_t n, int64_t c) {
  if (opts.mode != "auto") return opts.mode;
  const double bytes = 4.0 * static_cast<double>(n) * static_cast<double>(c);
  return bytes <= opts.max_mb * 1024.0 * 1024.0 ? "full" : "topk";
}

std::string write_predictions(const std::string& path, const Prediction& pred,
                              const at::Tensor& eval_rows, const Dataset& ds, const RunConfig& cfg,
                              const std::string& run_key, const std::string& task,
                              const std::string& method_version,
                              const std::map<std::string, std::string>& metric_versions,
                              const PredictionsOptions& opts) {
  if (opts.mode == "none") return "none";
  const int64_t n = eval_rows.numel();
  const bool have_scores = pred.scores.defined();
  if (have_scores && (pred.scores.dim() != 2 || pred.scores.size(0) != n))
    throw DataError(path, "/scores",
                    "the method's scores " + shape_text(pred.scores) + " are not [n=" +
                        std::to_string(n) + ", C]: nothing to store per row");
  const int64_t c = have_scores ? pred.scores.size(1) : 0;
  // Without dense scores (image-text methods past their dense limit) the aux embeddings are the
  // whole prediction: that is "full".
  std::string mode = have_scores ? choose_predictions_mode(opts, n, c) : "full";
  const std::string tmp = path + fmt::format(".tmp-{}", getpid());
  try {
    h5::ErrorGuard quiet;
    h5::File file = h5::File::create(tmp);
    const hid_t f = file.id();
    auto rows = eval_rows.to(at::kLong).contiguous();
    write_checked(f, "/rows", rows, h5::DType::kInt64);
    if (ds.label.defined()) write_checked(f, "/label", ds.label.index_select(0, rows), h5::DType::kInt64);
    if (ds.labels.defined()) write_checked(f, "/labels", ds.labels.index_select(0, rows), h5::DType::kInt8);
    int64_t k = 0;
    if (have_scores && mode == "full") {
      const bool wide = pred.scores.scalar_type() == at::kDouble;
      write_checked(f, "/scores", pred.scores, wide ? h5::DType::kFloat64 : h5::DType::kFloat32);
    } else if (have_scores) {
      k = std::min<int64_t>(opts.topk, c);
      auto [ids, vals] = stable_topk_rows(pred.scores, k);
      // Ids are exact (int32 on disk: C < 2^31); scores float16: the ranks live in the ids.
      write_checked(f, "/topk/ids", ids, h5::DType::kInt32);
      write_checked(f, "/topk/scores", vals, h5::DType::kFloat16);
    }
    for (const auto& [name, t] : pred.aux) {
      if (!t.defined() || t.is_complex()) continue;
      if (name.empty() || name.find('/') != std::string::npos || name == ".")
        throw DataError(path, "/aux/" + name, "aux names may not be empty or contain '/'");
      const std::string p = "/aux/" + name;
      write_checked(f, p, t, storage_of(t));
      h5::set_attr(f, p, "torch_dtype", std::string(c10::toString(t.scalar_type())));
    }
    if (task == "open_vocab") {
      auto names = predicted_names(pred, ds);
      if (!names.empty()) h5::write_strings(f, "/extras/pred_names", names);
    }
    if (task == "image_text") {
      std::vector<std::string> groups;
      for (const auto& kv : ds.groups) groups.push_back(kv.first);
      if (!groups.empty()) h5::write_strings(f, "/extras/group_names", groups);
    } else if (!ds.class_names.empty()) {
      h5::write_strings(f, "/extras/class_names", ds.class_names);
    }
    nlohmann::json mv = nlohmann::json::object();
    for (const auto& [m, v] : metric_versions) mv[m] = v;
    h5::set_attr(f, "/", "format", std::string(kFormat));
    h5::set_attr(f, "/", "format_version", kFormatVersion);
    h5::set_attr(f, "/", "mode", mode);
    h5::set_attr(f, "/", "task", task);
    h5::set_attr(f, "/", "method", cfg.method);
    h5::set_attr(f, "/", "method_version", method_version);
    h5::set_attr(f, "/", "metrics", mv.dump());
    h5::set_attr(f, "/", "run_key", run_key);
    h5::set_attr(f, "/", "dataset_fingerprint", ds.fingerprint);
    h5::set_attr(f, "/", "dataset_name", dataset_display_name(cfg, ds));
    h5::set_attr(f, "/", "eval_split", cfg.eval_split);
    h5::set_attr(f, "/", "num_classes", c);
    h5::set_attr(f, "/", "topk", k);
    h5::set_attr(f, "/", "vlb_version", vlb_version());
    file.close();
    fs::rename(tmp, path);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw DataError(path, "", std::string("cannot write predictions: ") + e.what());
  }
  return mode;
}

namespace {

StoredPredictions read_predictions_unchecked(const std::string& path) {
  h5::ErrorGuard quiet;
  if (!fs::exists(path)) throw DataError(path, "", "file not found");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw DataError(path, "", "not an HDF5 file (truncated or corrupt predictions.h5?)");
  h5::File file;
  try {
    file = h5::File::open(path);
  } catch (const DataError&) {
    throw DataError(path, "", "cannot open (truncated or corrupt predictions.h5?)");
  }
  const hid_t f = file.id();
  StoredPredictions p;
  p.path = path;
  auto attr = [&](const char* name) {
    auto v = h5::get_attr_text(f, "/", name);
    if (!v) throw DataError(path, std::string("/@") + name, "attribute missing");
    return *v;
  };
  if (attr("format") != kFormat)
    throw DataError(path, "/@format", "'" + attr("format") + "' is not " + kFormat);
  p.mode = attr("mode");
  p.task = attr("task");
  p.method = attr("method");
  p.method_version = attr("method_version");
  p.run_key = attr("run_key");
  p.dataset_fingerprint = attr("dataset_fingerprint");
  try {
    const nlohmann::json versions = nlohmann::json::parse(attr("metrics"));
    for (const auto& item : versions.items())
      p.metric_versions[item.key()] = item.value().get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path, "/@metrics", std::string("not a JSON object of versions: ") + e.what());
  }
  p.num_classes = h5::get_attr_int(f, "/", "num_classes").value_or(0);

  p.rows = read_checked(f, path, "/rows").to(at::kLong);
  const int64_t n = p.rows.numel();
  if (p.rows.dim() != 1) throw DataError(path, "/rows", "expected [n] row ids");
  auto check_rows = [&](const at::Tensor& t, const std::string& where) {
    if (t.dim() < 1 || t.size(0) != n)
      throw DataError(path, where, shape_text(t) + " does not have the " + std::to_string(n) +
                                       " rows of /rows");
  };
  if (h5::exists(f, "/label")) check_rows(p.label = read_checked(f, path, "/label").to(at::kLong), "/label");
  if (h5::exists(f, "/labels")) check_rows(p.labels = read_checked(f, path, "/labels").to(at::kChar), "/labels");
  if (p.mode == "full") {
    if (h5::exists(f, "/scores")) {
      p.scores = read_checked(f, path, "/scores");
      check_rows(p.scores, "/scores");
      if (p.scores.dim() != 2 || p.scores.size(1) != p.num_classes)
        throw DataError(path, "/scores", shape_text(p.scores) + " is not [n, num_classes=" +
                                             std::to_string(p.num_classes) + "]");
    }
  } else if (p.mode == "topk") {
    p.topk_ids = read_checked(f, path, "/topk/ids").to(at::kLong);
    p.topk_scores = read_checked(f, path, "/topk/scores").to(at::kFloat);
    check_rows(p.topk_ids, "/topk/ids");
    if (p.topk_ids.dim() != 2 || !p.topk_scores.sizes().equals(p.topk_ids.sizes()))
      throw DataError(path, "/topk", "ids " + shape_text(p.topk_ids) + " and scores " +
                                         shape_text(p.topk_scores) + " must both be [n, k]");
    if (p.topk_ids.numel() > 0 &&
        (p.topk_ids.min().item<int64_t>() < 0 || p.topk_ids.max().item<int64_t>() >= p.num_classes))
      throw DataError(path, "/topk/ids", "ids outside [0, num_classes=" +
                                             std::to_string(p.num_classes) + ")");
  } else {
    throw DataError(path, "/@mode", "'" + p.mode + "' is not full or topk");
  }
  if (h5::is_group(f, "/aux")) {
    for (const auto& name : h5::children(f, "/aux")) {
      const std::string where = "/aux/" + name;
      at::Tensor t = read_checked(f, path, where);
      if (h5::get_attr_text(f, where, "torch_dtype").value_or("") == "Bool") t = t.to(at::kBool);
      p.aux[name] = t;
    }
  }
  if (h5::exists(f, "/extras/pred_names")) p.pred_names = h5::read_strings(f, "/extras/pred_names");
  return p;
}

}  // namespace

StoredPredictions read_predictions(const std::string& path) {
  return read_isolated(path, "reading predictions", [&] { return read_predictions_unchecked(path); },
                       reader_isolation());
}

Prediction to_prediction(const StoredPredictions& p) {
  Prediction pred;
  pred.aux = p.aux;
  if (p.mode == "full") {
    pred.scores = p.scores;
    return pred;
  }
  // Top-k: the stored order is the whole truth (float16 scores may tie where float32 did not), so
  // the j-th id scores k - j and every other class -inf. Ranks below k are the run's own.
  const int64_t n = p.topk_ids.size(0), k = p.topk_ids.size(1);
  pred.scores = torch::full({n, p.num_classes}, -std::numeric_limits<float>::infinity());
  auto rank_scores = (k - torch::arange(k, torch::kFloat)).unsqueeze(0).expand({n, k}).contiguous();
  pred.scores.scatter_(1, p.topk_ids, rank_scores);
  return pred;
}

}  // namespace vlb
