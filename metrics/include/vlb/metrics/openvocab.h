#pragma once
// Open-vocabulary / clustering metrics for NeaR and the vocabulary-free fine-grained protocol
// (the definitions of FineR, Liu et al. ICLR 2024, utils/metrics.py of its official code): cACC,
// sACC, NMI, ARI, and exact-name accuracy.
//
// What a prediction is, in order of preference (docs/near.md "Predictions"):
//  - aux["pred_cluster"] [n] int64: a cluster id per row (kmeans), used by cacc/nmi/ari;
//  - aux["pred_text"] [n] int64: the /texts row whose string is the predicted name (NeaR and its
//    baselines); its string names the row (sacc, exact) and its row id is the cluster id;
//  - otherwise argmax of scores [n, C] (ties to the lower index): the predicted class name.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "vlb/metrics/metric.h"

namespace vlb {

/// cACC: one-to-one Hungarian matching of predicted clusters to true classes on the count matrix
/// W[p, t] = #{i: pred_i = p, y_i = t}; matched counts / n. Ids may be any int64 (compacted first).
double clustering_accuracy(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth);
/// Normalized mutual information, arithmetic-mean normalization (sklearn's default); natural log.
double normalized_mutual_info(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth);
/// Adjusted Rand index (Hubert & Arabie).
double adjusted_rand_index(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth);

/// cacc, sacc, nmi, ari, name_exact -> ov/cacc, ov/sacc (+ ov/sacc_coverage), ov/nmi, ov/ari,
/// ov/exact.
void register_openvocab_metrics(MetricRegistry& reg);

}  // namespace vlb
