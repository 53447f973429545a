#pragma once
// CODER (Yi et al., CVPR 2024): an image is represented by its similarities to many texts (its
// cross-modal neighbours). The building blocks below are what the registered methods
// coder_zeroshot, coder_star, coder_fewshot and tip_adapter compose; they are public so tests can
// check each against hand-computed cases. See docs/coder.md for deviations from the official code.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vlb/methods/method.h"
#include "vlb/methods/impl/neighbours.h"

namespace vlb {
namespace coder {

/// How the similarities an image keeps are weighted (a vlbench extension: the official code,
/// YCaigogogo/CVPR24-CODER, keeps all texts with uniform weight).
enum class Weighting { kUniform, kSoftmax, kRankDecay };
Weighting parse_weighting(const std::string& name);  // "uniform" | "softmax" | "rank_decay"

struct NeighbourSelection {
  int64_t k = 0;                      // texts kept per image; 0 = all (official)
  Weighting weighting = Weighting::kUniform;
  double temperature = 0.01;          // softmax weighting only
  NeighbourOptions search;            // backend / chunking of the top-K search
};

/// CODER(x): similarities of unit-norm `x` [n, D] to unit-norm `texts` [M, D], keeping each row's
/// k most similar texts (ties to the lower index) and zeroing the rest; kept entries are
/// multiplied by w: uniform 1; softmax k * softmax(s / T) over the kept ones (mean weight 1);
/// rank_decay 1 / log2(rank + 2) (rank 0 = most similar). k = 0 or k >= M keeps everything.
at::Tensor neighbour_representation(const at::Tensor& x, const at::Tensor& texts,
                                    const NeighbourSelection& sel);

/// The CODER zero-shot score (classify_zero_shot.py): for class c, with A_c its attribute/analogy
/// columns and N_c its name/synonym columns of `rep` [n, M],
///   score[:, c] = 100 * (sum_{j in A_c} rep[:, j] + max_{j in N_c} rep[:, j]) / (|A_c| + 1).
/// A class with no name/synonym text uses 0 for the max term (Note [class without a name text]);
/// a class with no text at all scores -inf. `cls` [M] int64 class of each column, `type` [M] int8
/// TextType.
at::Tensor zeroshot_scores(const at::Tensor& rep, const at::Tensor& cls, const at::Tensor& type,
                           int64_t num_classes);

/// One-vs-one texts: rows of `features` [P, D] (unit norm) describing class cls[p] against
/// class partner[p].
struct PairTexts {
  at::Tensor features;  // [P, D]
  at::Tensor cls;       // [P] int64
  at::Tensor partner;   // [P] int64
};

/// CODER* re-ranking: for each row whose softmax(scores) gap between the first and second class is
/// below theta, the top `top` classes are re-ordered by
///   s(c) = mean_{o in top, o != c} [ mean_j x.O(c,o)_j - mean_j x.O(o,c)_j ]   (0 if a side is missing)
/// with ties kept in the original rank order. Returns new scores whose order on those rows is the
/// re-ranked order, placed above every other class (other rows unchanged), and writes the
/// re-ranked row mask to `reranked` if given. `x` [n, D] unit-norm images.
at::Tensor ovo_rerank(const at::Tensor& scores, const at::Tensor& x, const PairTexts& pairs,
                      double theta, int64_t top = 5, at::Tensor* reranked = nullptr);

/// θ presets of the official code (utils.py): imagenet .1, imagenet_v2 .05, places365 .1,
/// caltech101 .3, dtd .6, cub200 .2, eurosat .3, food101 .1, oxford_pets .1. Throws ConfigError.
double theta_preset(const std::string& dataset);

/// Tip-Adapter cache logits: exp(-beta * (1 - A)) V with A [n, NK] affinities to the cache keys
/// and V [NK, C] one-hot values. minmax = true first rescales each row of A to [0, 1]
/// ((A - min) / (max - min); CODER-Adapter), false uses A as is (Tip-Adapter).
at::Tensor cache_logits(const at::Tensor& affinity, const at::Tensor& values, double beta,
                        bool minmax);
/// Row-wise min-max rescaling used by cache_logits (a constant row becomes all zeros).
at::Tensor row_minmax(const at::Tensor& a);

/// The α/β grid search of classify_few_shot.py: round 1 tries beta_i = 0.1 + i (beta_max - 0.1) /
/// beta_steps (i < beta_steps) and alpha likewise; each later round re-centres both ranges to
/// [0.5 best, 1.5 best] with the same step counts. Accuracy of clip + alpha * cache(beta) on
/// (labels); ties keep the first (lowest β, then α) setting.
struct SearchGrid {
  double beta_max = 200.0, alpha_max = 20.0;
  int64_t beta_steps = 500, alpha_steps = 50, rounds = 3;
};
struct SearchResult {
  double alpha = 0, beta = 0, accuracy = 0;
};
SearchResult search_alpha_beta(const at::Tensor& base_logits, const at::Tensor& affinity,
                               const at::Tensor& values, const at::Tensor& labels, bool minmax,
                               const SearchGrid& grid);

}  // namespace coder
}  // namespace vlb
