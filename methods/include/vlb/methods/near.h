#pragma once
// NeaR (vocabulary-free fine-grained recognition, arXiv 2505.01064) and its baselines: near,
// mllm_labels, near_no_refine, near_knn_only, vocab_zeroshot, kmeans (methods/near/near.cpp,
// docs/near.md). The building blocks below (label vocabulary, kNN candidate sets, the
// 2-component 1-D GMM on per-sample losses, the head training loop) are implemented in
// methods/near/blocks.cpp and used by the tests.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vlb/datasets/dataset.h"
#include "vlb/methods/method.h"

namespace vlb::near {

// ---- 1-D two-component Gaussian mixture (EM) ------------------------------------------------

struct GmmOptions {
  int max_iter = 10;        // Note [NeaR: GMM settings]: DivideMix's sklearn settings
  double tol = 1e-2;        // stop when the mean log-likelihood changes by less than this
  double reg_covar = 5e-4;  // added to every variance (floor; avoids collapse on ties)
};

struct Gmm1d {
  double weight[2] = {0.5, 0.5};
  double mean[2] = {0, 0};
  double var[2] = {1, 1};
  int iterations = 0;
  bool converged = false;
  double mean_log_likelihood = 0;  // of the data under the final parameters
};

/// EM from a median split (lower half / upper half: the 1-D 2-means start): component 0 starts
/// on the lower half, so it keeps the lower mean unless the data says otherwise. Needs >= 2 values.
Gmm1d fit_gmm_1d(const std::vector<double>& x, const GmmOptions& o = {});
/// Posterior probability of component `k` for each value.
std::vector<double> gmm_posterior(const Gmm1d& g, const std::vector<double>& x, int k);
/// DivideMix-style clean probability: losses min-max normalized to [0, 1], GMM fitted, posterior
/// of the lower-mean component. All-equal losses (nothing to split) give 1 for every sample.
std::vector<double> clean_probability(const std::vector<double>& loss, const GmmOptions& o = {},
                                      Gmm1d* fitted = nullptr);

// ---- vocabulary and candidate sets ----------------------------------------------------------

struct Vocabulary {
  std::vector<std::string> names;  // [L] canonical strings, in order of first appearance
  std::vector<int64_t> text_row;   // [L] the first /texts row carrying each name
  at::Tensor label;                // [n] int64 vocabulary id of each training image
  at::Tensor text_features;        // [L, D] float32 features of text_row (NaN rows: unknown)
};

/// The MLLM label of every row of `train` (the first /texts row with image = that row and, when
/// `source` >= 0, /texts/source = source), canonicalized with `canon`. Throws DataError naming
/// the first unlabeled image.
Vocabulary build_vocabulary(const DataView& train, const std::string& canon, int64_t source);

/// [n, L] bool multi-hot: own label plus the labels of the K nearest other training images
/// (cosine; equal similarities to the lower row index). K = 0: own label only.
at::Tensor candidate_sets(const at::Tensor& x_normalized, const at::Tensor& label, int64_t L,
                          int64_t K);
/// Indices [n, K] of the K nearest other rows (self excluded even among exact duplicates).
at::Tensor knn_excluding_self(const at::Tensor& x_normalized, int64_t K);

// ---- head and training ----------------------------------------------------------------------

struct TrainOptions {
  int64_t k = 5;             // candidate-set neighbours
  double threshold = 0.5;    // clean if GMM clean posterior > threshold
  double lambda = 1.0;       // weight of the partial-label loss on the noisy samples
  int64_t warmup = 5;        // epochs of CE on the raw labels
  int64_t epochs = 30;       // total epochs (warm-up included)
  double lr = 1e-3;
  double weight_decay = 0.0;
  int64_t batch_size = 32;
  double temperature = 0.03;
  std::string head = "linear";   // linear | residual
  std::string init = "auto";     // auto | text | prototype
  bool split = true;             // false: plain CE on the raw labels every epoch (near_no_refine)
  bool refine = true;            // refine the noisy samples' labels within their candidate sets
  bool pll = true;               // partial-label loss on the noisy samples (else they are dropped)
  int64_t min_support = 1;       // names predicted at test time: label of >= this many images
  GmmOptions gmm;
};

struct Trained {
  at::Tensor weight;       // [L, D] class rows (normalized at use)
  at::Tensor adapter;      // [D, D] residual adapter, undefined for the linear head
  at::Tensor active;       // [L] bool: names that may be predicted
  at::Tensor refined;      // [n] int64 final labels
  std::string init_used;   // "text" | "prototype"
  std::vector<double> clean_fraction;  // per split epoch
};

/// Trains the head on normalized features `x` [n, D] with vocabulary `v`; reads torch's global
/// generator (seeded by the runner) for the minibatch order.
Trained train_head(const at::Tensor& x, const Vocabulary& v, const TrainOptions& o,
                   const std::function<void(const std::string&)>& log);
/// Logits [m, L] of normalized features under a trained head (inactive names get -inf).
at::Tensor head_logits(const Trained& t, const at::Tensor& x, double temperature);

}  // namespace vlb::near
