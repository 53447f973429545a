#pragma once
// Compositional benchmarks and retrieval (metrics/src/composition.cpp, docs/composition.md).
//
// All of them read image-text similarities of a kImageText Prediction, in one of two forms:
//  - aux["image_emb"] [n, E] (one row per evaluated image, in Targets::rows order) and
//    aux["text_emb"] [T, E] (every dataset text): similarity = dot product (methods L2-normalize,
//    so it is the cosine). Preferred when present: nothing of size n x T is ever needed;
//  - otherwise scores [n, T].
// Group benchmarks read Dataset::groups (SCHEMA.md "Groups"); items whose images are not all among
// the evaluated rows are skipped (an empty result is an error naming the group and split).
//
// Registered metrics (each takes `group`, the /groups/<name> to score; outputs are prefixed by it):
//  sugarcrepe       2-way, correct <=> s(pos) > s(neg) strictly; per-subset accuracy + mean
//  aro_relation     2-way strict; macro mean over relations minus the official symmetric list
//  aro_attribution  2-way strict; macro mean over attribute pairs with >= min_count items (25)
//  order            k-way, correct <=> argmax == 0 (ties: numpy argmax, first index wins)
//  winoground       text / image / group scores (strict >)
//  retrieval        R@1/5/10 image->text and text->image over captions of the evaluated images,
//                   in chunks of `chunk` query rows (no n x T matrix)
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vlb/metrics/metric.h"

namespace vlb {

void register_composition_metrics(MetricRegistry& reg);

namespace composition {

/// The relation names the ARO authors drop before macro-averaging VG-Relation (their notebook's
/// `symmetric` list, 157 names).
const std::vector<std::string>& aro_symmetric_relations();

/// How retrieval ranks ties between the ground truth and another candidate.
enum class RankTies { kLowerIndex, kPessimistic, kOptimistic };
RankTies parse_rank_ties(const std::string& s);

struct Recall {
  std::vector<int64_t> ks;
  std::vector<double> i2t, t2i;  // per k, fraction of queries with a ground truth in the top k
  int64_t n_images = 0, n_texts = 0;  // queries counted (images with >= 1 caption; texts)
};

/// Bidirectional recall@k. `block(kind, begin, end)` returns similarities of query rows
/// [begin, end): kind 0 = images x texts ([c, m]), kind 1 = texts x images ([c, n]).
/// text_image[j] in [0, n) is caption j's image. At most `chunk` query rows are asked at once.
Recall retrieval_recall(const std::function<at::Tensor(int, int64_t, int64_t)>& block, int64_t n,
                        const at::Tensor& text_image, const std::vector<int64_t>& ks, int64_t chunk,
                        RankTies ties);

/// The same from embeddings ([n, E], [m, E]; similarity = dot product, computed in double).
Recall retrieval_recall(const at::Tensor& image_emb, const at::Tensor& text_emb,
                        const at::Tensor& text_image, const std::vector<int64_t>& ks, int64_t chunk,
                        RankTies ties);

}  // namespace composition
}  // namespace vlb
