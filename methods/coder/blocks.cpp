// CODER building blocks: neighbour representation, zero-shot score, one-vs-one re-ranking,
// Tip-Adapter-style cache logits and the α/β grid search (methods/include/vlb/methods/coder.h).
#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <utility>

#include "vlb/core/error.h"
#include "vlb/methods/coder.h"
#include "vlb/methods/impl/ops.h"

namespace vlb::coder {

Weighting parse_weighting(const std::string& name) {
  if (name == "uniform") return Weighting::kUniform;
  if (name == "softmax") return Weighting::kSoftmax;
  if (name == "rank_decay") return Weighting::kRankDecay;
  throw ConfigError("unknown weighting '" + name + "' (expected uniform, softmax or rank_decay)");
}

at::Tensor neighbour_representation(const at::Tensor& x, const at::Tensor& texts,
                                    const NeighbourSelection& sel) {
  torch::NoGradGuard no_grad;
  const int64_t M = texts.size(0);
  const int64_t k = (sel.k <= 0 || sel.k >= M) ? M : sel.k;
  if (k == M && sel.weighting == Weighting::kUniform) return torch::mm(x, texts.t());  // official
  TopK nn = topk_inner_product(x, texts, k, sel.search);
  at::Tensor w;
  switch (sel.weighting) {
    case Weighting::kUniform: w = torch::ones_like(nn.values); break;
    case Weighting::kSoftmax:
      w = torch::softmax(nn.values / sel.temperature, 1) * static_cast<double>(k);
      break;
    case Weighting::kRankDecay:
      w = (1.0 / torch::log2(torch::arange(k, nn.values.options()) + 2.0))
              .unsqueeze(0)
              .expand_as(nn.values);
      break;
  }
  auto out = torch::zeros({x.size(0), M}, nn.values.options());
  out.scatter_(1, nn.indices, nn.values * w);
  return out;
}

at::Tensor zeroshot_scores(const at::Tensor& rep, const at::Tensor& cls, const at::Tensor& type,
                           int64_t num_classes) {
  torch::NoGradGuard no_grad;
  const int64_t n = rep.size(0);
  auto t = type.to(torch::kLong);
  auto is_aa = t.eq(static_cast<int64_t>(TextType::kAttribute)) | t.eq(static_cast<int64_t>(TextType::kAnalogy));
  auto is_ns = t.eq(static_cast<int64_t>(TextType::kName)) | t.eq(static_cast<int64_t>(TextType::kSynonym));
  auto scores = torch::empty({n, num_classes}, rep.options());
  // Column lists per class (texts of one class need not be contiguous in the file), read on the
  // host; each list goes back to rep's device once.
  const at::Tensor cls_h = cls.cpu(), aa_h = is_aa.cpu(), ns_h = is_ns.cpu();
  auto cls_a = cls_h.accessor<int64_t, 1>();
  std::vector<std::vector<int64_t>> aa(num_classes), ns(num_classes);
  auto aa_a = aa_h.accessor<bool, 1>();
  auto ns_a = ns_h.accessor<bool, 1>();
  for (int64_t j = 0; j < cls.size(0); ++j) {
    if (cls_a[j] < 0 || cls_a[j] >= num_classes) continue;
    if (aa_a[j]) aa[cls_a[j]].push_back(j);
    if (ns_a[j]) ns[cls_a[j]].push_back(j);
  }
  for (int64_t c = 0; c < num_classes; ++c) {
    auto col = scores.select(1, c);
    const auto n_aa = static_cast<int64_t>(aa[c].size());
    const auto n_ns = static_cast<int64_t>(ns[c].size());
    if (n_aa + n_ns == 0) {
      col.fill_(-std::numeric_limits<float>::infinity());
      continue;
    }
    auto sum = torch::zeros({n}, rep.options());
    if (n_aa) sum += rep.index_select(1, list_on(aa[c], rep.device())).sum(1);
    // Note [class without a name text]: the official code always has a name text; with none we
    // average the attribute/analogy texts alone rather than invent a max term.
    int64_t count = n_aa;
    if (n_ns) {
      sum += std::get<0>(rep.index_select(1, list_on(ns[c], rep.device())).max(1));
      count += 1;
    }
    col.copy_(100.0 * sum / static_cast<double>(count));
  }
  return scores;
}

double theta_preset(const std::string& d) {
  static const std::map<std::string, double> presets = {
      {"imagenet", 0.1},   {"imagenet_v2", 0.05}, {"places365", 0.1}, {"caltech101", 0.3},
      {"dtd", 0.6},        {"cub200", 0.2},       {"eurosat", 0.3},   {"food101", 0.1},
      {"oxford_pets", 0.1}};
  auto it = presets.find(d);
  if (it == presets.end()) {
    std::vector<std::string> names;
    for (const auto& kv : presets) names.push_back(kv.first);
    throw ConfigError(fmt::format("unknown CODER* theta preset '{}' ({}; known: {})", d,
                                  did_you_mean(d, names), fmt::join(names, ", ")));
  }
  return it->second;
}

at::Tensor ovo_rerank(const at::Tensor& scores, const at::Tensor& x, const PairTexts& pairs,
                      double theta, int64_t top, at::Tensor* reranked) {
  torch::NoGradGuard no_grad;
  const int64_t n = scores.size(0);
  top = std::min<int64_t>(top, scores.size(1));
  auto out = scores.clone();
  auto mask = torch::zeros({n}, scores.options().dtype(torch::kBool));
  if (top < 2 || n == 0) {
    if (reranked) *reranked = mask;
    return out;
  }
  TopK best = stable_topk(scores, top);
  auto prob = torch::softmax(scores.to(torch::kDouble), 1);
  auto p_top = prob.gather(1, best.indices.narrow(1, 0, 2));
  auto gap = p_top.select(1, 0) - p_top.select(1, 1);
  auto rows = gap.lt(theta).nonzero().flatten();
  mask.index_fill_(0, rows, true);
  if (reranked) *reranked = mask;
  if (rows.numel() == 0 || !pairs.features.defined() || pairs.features.size(0) == 0) return out;

  // Note [re-ranking on the host]: the one-vs-one vote is a short sequential loop per uncertain
  // row; its inputs (similarities to the pair texts, top classes) are copied to the host once and
  // the new scores go back in one index_put_.
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> pair_rows;
  const at::Tensor pc_h = pairs.cls.cpu(), po_h = pairs.partner.cpu();
  auto pc = pc_h.accessor<int64_t, 1>();
  auto po = po_h.accessor<int64_t, 1>();
  for (int64_t p = 0; p < pairs.cls.size(0); ++p) pair_rows[{pc[p], po[p]}].push_back(p);
  const at::Tensor sims = torch::mm(x.index_select(0, rows), pairs.features.t()).cpu();  // [r, P]
  const at::Tensor idx = best.indices.index_select(0, rows).cpu();
  const at::Tensor top1 = best.values.index_select(0, rows).select(1, 0).cpu();
  const at::Tensor rows_h = rows.cpu();
  auto idx_a = idx.accessor<int64_t, 2>();
  auto rows_a = rows_h.accessor<int64_t, 1>();
  auto top1_a = top1.accessor<float, 1>();
  std::vector<int64_t> put_row, put_col;
  std::vector<float> put_value;
  for (int64_t r = 0; r < rows_h.size(0); ++r) {
    auto srow = sims[r];
    auto side = [&](int64_t c, int64_t o, double* v) {
      auto it = pair_rows.find({c, o});
      if (it == pair_rows.end()) return false;
      *v = srow.index_select(0, torch::tensor(it->second, torch::kLong)).mean().item<double>();
      return true;
    };
    std::vector<double> s(top, 0.0);
    for (int64_t a = 0; a < top; ++a) {
      double total = 0;
      for (int64_t b = 0; b < top; ++b) {
        if (a == b) continue;
        double v_co = 0, v_oc = 0;
        if (side(idx_a[r][a], idx_a[r][b], &v_co) && side(idx_a[r][b], idx_a[r][a], &v_oc))
          total += v_co - v_oc;
      }
      s[a] = total / static_cast<double>(top - 1);
    }
    std::vector<int64_t> order(top);
    for (int64_t a = 0; a < top; ++a) order[a] = a;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
    // Re-ranked classes go above every other class, in their new order.
    const int64_t row = rows_a[r];
    const float base = top1_a[r];
    for (int64_t rank = 0; rank < top; ++rank) {
      put_row.push_back(row);
      put_col.push_back(idx_a[r][order[rank]]);
      put_value.push_back(base + static_cast<float>(top - rank));
    }
  }
  out.index_put_({list_on(put_row, out.device()), list_on(put_col, out.device())},
                 list_on(put_value, out.device()));
  return out;
}

at::Tensor row_minmax(const at::Tensor& a) {
  auto lo = std::get<0>(a.min(1, true));
  auto hi = std::get<0>(a.max(1, true));
  return (a - lo) / (hi - lo).clamp_min(1e-12);
}

at::Tensor cache_logits(const at::Tensor& affinity, const at::Tensor& values, double beta,
                        bool minmax) {
  torch::NoGradGuard no_grad;
  auto a = minmax ? row_minmax(affinity) : affinity;
  return torch::mm(torch::exp(-beta * (1.0 - a)), values);
}

SearchResult search_alpha_beta(const at::Tensor& base_logits, const at::Tensor& affinity,
                               const at::Tensor& values, const at::Tensor& labels, bool minmax,
                               const SearchGrid& grid) {
  torch::NoGradGuard no_grad;
  auto a = minmax ? row_minmax(affinity) : affinity;
  auto one_minus_a = 1.0 - a;
  const double n = static_cast<double>(labels.size(0));
  SearchResult best{-1, -1, -1};
  double b_lo = 0.1, b_hi = grid.beta_max, a_lo = 0.1, a_hi = grid.alpha_max;
  for (int64_t round = 0; round < grid.rounds; ++round) {
    SearchResult round_best{-1, -1, -1};
    for (int64_t i = 0; i < grid.beta_steps; ++i) {
      const double beta = b_lo + static_cast<double>(i) * (b_hi - b_lo) / grid.beta_steps;
      auto cache = torch::mm(torch::exp(-beta * one_minus_a), values);
      for (int64_t j = 0; j < grid.alpha_steps; ++j) {
        const double alpha = a_lo + static_cast<double>(j) * (a_hi - a_lo) / grid.alpha_steps;
        auto pred = (base_logits + alpha * cache).argmax(1);
        const double acc = pred.eq(labels).sum().item<int64_t>() / n;
        if (acc > round_best.accuracy) round_best = {alpha, beta, acc};
      }
    }
    best = round_best;  // the official code reports the last round's best
    b_lo = 0.5 * best.beta, b_hi = 1.5 * best.beta;
    a_lo = 0.5 * best.alpha, a_hi = 1.5 * best.alpha;
  }
  return best;
}

}  // namespace vlb::coder
