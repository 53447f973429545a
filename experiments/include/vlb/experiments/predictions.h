#pragma once
// Per-sample predictions of one run, kept as <run dir>/predictions.h5 (datasets/RESULTS.md): what
// a method returned for every evaluation row, with the row ids and targets, so that metrics can be
// recomputed (`vlb rescore`), compared per sample (`vlb diff`, paired tests) and read by other
// tools (h5py) without rerunning anything.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vlb/methods/method.h"

namespace vlb {

struct Dataset;
struct RunConfig;

/// How scores are kept: "full" = the whole [n, C] matrix (float32, so a rescore is bit-identical
/// to the run), "topk" = the k best ids and scores per row, "none" = no predictions.h5.
struct PredictionsOptions {
  std::string mode = "auto";  // auto | full | topk | none; auto = full up to max_mb, else topk
  int64_t topk = 10;
  double max_mb = 64;
};

/// What predictions.h5 holds, read back.
struct StoredPredictions {
  std::string path;                        // the file it was read from (for messages)
  std::string mode;                        // "full" | "topk"
  std::string task;                        // to_string(Task) of the method
  std::string method, method_version;      // registry name and version
  std::map<std::string, std::string> metric_versions;  // metric name -> version
  std::string run_key;                     // 64 hex
  std::string dataset_fingerprint;
  at::Tensor rows;         // [n] int64 evaluation rows (indices into the dataset file)
  at::Tensor label;        // [n] int64 single-label targets (-1 = none), undefined when absent
  at::Tensor labels;       // [n, C] int8 multi-label targets (+1/-1/0), undefined when none
  at::Tensor scores;       // full: [n, C] float32; undefined when the method gave no dense scores
  at::Tensor topk_ids;     // topk: [n, k] int64, best first (ties in ascending id)
  at::Tensor topk_scores;  // topk: [n, k] float32 (stored as float16: ranks are in the ids)
  std::map<std::string, at::Tensor> aux;   // every Prediction::aux tensor, as returned
  int64_t num_classes = 0;                 // C (columns of the full scores)
  std::vector<std::string> pred_names;     // open vocabulary: the predicted name of every row
};

/// The task a method registers first ("classification" for tags {"task:classification", ...}),
/// "" when it has no task tag. Methods list their primary task first.
std::string primary_task(const std::vector<std::string>& tags);

/// The mode `opts` gives n x C scores: auto is full while 4 n C bytes fit in max_mb MiB.
std::string choose_predictions_mode(const PredictionsOptions& opts, int64_t n, int64_t c);

/// The k best ids per row and their scores, best first, equal scores in ascending id order
/// (a stable descending sort: exactly the ranks the classification metrics compute).
std::pair<at::Tensor, at::Tensor> stable_topk_rows(const at::Tensor& scores, int64_t k);

/// Writes `pred` for `eval_rows` of `ds` to `path` (atomically: a temporary renamed into place).
/// Returns the mode used ("full", "topk"), or "none" when nothing was written. DataError naming
/// `path` when it cannot be written (the runner then fails the run).
std::string write_predictions(const std::string& path, const Prediction& pred,
                              const at::Tensor& eval_rows, const Dataset& ds,
                              const RunConfig& cfg, const std::string& run_key,
                              const std::string& task, const std::string& method_version,
                              const std::map<std::string, std::string>& metric_versions,
                              const PredictionsOptions& opts);

/// DataError naming the file (and the dataset or attribute) when it is missing or malformed.
StoredPredictions read_predictions(const std::string& path);

/// The Prediction a method returned, rebuilt from the stored form. Full mode: exactly the scores
/// and aux tensors that were stored. Top-k mode: the j-th stored id of a row scores k - j and
/// every other class -inf, so every rank below k (and the tie order) is the run's own.
Prediction to_prediction(const StoredPredictions& p);

}  // namespace vlb
