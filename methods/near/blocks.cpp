// NeaR building blocks (vlb/methods/near.h). The steps the paper (arXiv 2505.01064) states (kNN
// candidate sets, GMM on the per-sample loss -> clean/noisy, label refinement, partial-label
// learning) are implemented as it describes them; no official code exists, so every other choice
// is a named option with a Note [NeaR: ...] here and in docs/near.md.
#include "vlb/methods/near.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "vlb/core/error.h"
#include "vlb/core/text.h"
#include "vlb/methods/impl/minibatch.h"
#include "vlb/methods/impl/neighbours.h"
#include "vlb/methods/impl/ops.h"

namespace vlb::near {
namespace {

constexpr double kLog2Pi = 1.8378770664093453;

double log_normal(double x, double m, double v) { return -0.5 * (kLog2Pi + std::log(v) + (x - m) * (x - m) / v); }

// log(w0 N0) and log(w1 N1) of one value.
void log_joint(const Gmm1d& g, double x, double out[2]) {
  for (int k = 0; k < 2; ++k) out[k] = std::log(g.weight[k]) + log_normal(x, g.mean[k], g.var[k]);
}

double log_sum(const double a[2]) {
  const double m = std::max(a[0], a[1]);
  return m + std::log(std::exp(a[0] - m) + std::exp(a[1] - m));
}

}  // namespace

Gmm1d fit_gmm_1d(const std::vector<double>& x, const GmmOptions& o) {
  const size_t n = x.size();
  if (n < 2) throw Error("fit_gmm_1d: needs at least 2 values, got " + std::to_string(n));
  for (double v : x)
    if (!std::isfinite(v)) throw Error("fit_gmm_1d: non-finite value");
  // Median split start: sorted lower half -> component 0, upper half -> component 1.
  std::vector<double> s(x);
  std::sort(s.begin(), s.end());
  const size_t h = n / 2;
  Gmm1d g;
  auto stats = [&](size_t b, size_t e, int k) {
    double m = 0, v = 0;
    for (size_t i = b; i < e; ++i) m += s[i];
    m /= static_cast<double>(e - b);
    for (size_t i = b; i < e; ++i) v += (s[i] - m) * (s[i] - m);
    g.mean[k] = m;
    g.var[k] = v / static_cast<double>(e - b) + o.reg_covar;
    g.weight[k] = static_cast<double>(e - b) / static_cast<double>(n);
  };
  stats(0, h, 0);
  stats(h, n, 1);
  std::vector<double> r(n);  // responsibility of component 1
  double prev = -std::numeric_limits<double>::infinity();
  for (int it = 1; it <= o.max_iter; ++it) {
    // E-step (log domain: a value far from both means does not underflow to 0/0).
    double ll = 0;
    for (size_t i = 0; i < n; ++i) {
      double lj[2];
      log_joint(g, x[i], lj);
      const double lse = log_sum(lj);
      ll += lse;
      r[i] = std::exp(lj[1] - lse);
    }
    ll /= static_cast<double>(n);
    g.iterations = it;
    g.mean_log_likelihood = ll;
    if (std::abs(ll - prev) < o.tol) {
      g.converged = true;
      break;
    }
    prev = ll;
    // M-step; a component that lost all its mass keeps its previous parameters.
    for (int k = 0; k < 2; ++k) {
      double nk = 0, m = 0;
      for (size_t i = 0; i < n; ++i) {
        const double rk = k ? r[i] : 1 - r[i];
        nk += rk;
        m += rk * x[i];
      }
      if (nk < 1e-10) continue;
      m /= nk;
      double v = 0;
      for (size_t i = 0; i < n; ++i) v += (k ? r[i] : 1 - r[i]) * (x[i] - m) * (x[i] - m);
      g.mean[k] = m;
      g.var[k] = v / nk + o.reg_covar;
      g.weight[k] = nk / static_cast<double>(n);
    }
  }
  if (!g.converged) {  // report the likelihood of the final parameters
    double ll = 0;
    for (double v : x) {
      double lj[2];
      log_joint(g, v, lj);
      ll += log_sum(lj);
    }
    g.mean_log_likelihood = ll / static_cast<double>(n);
  }
  return g;
}

std::vector<double> gmm_posterior(const Gmm1d& g, const std::vector<double>& x, int k) {
  std::vector<double> p(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double lj[2];
    log_joint(g, x[i], lj);
    p[i] = std::exp(lj[k] - log_sum(lj));
  }
  return p;
}

std::vector<double> clean_probability(const std::vector<double>& loss, const GmmOptions& o,
                                      Gmm1d* fitted) {
  if (loss.empty()) return {};
  const auto [lo, hi] = std::minmax_element(loss.begin(), loss.end());
  if (!(*hi - *lo > 1e-12) || loss.size() < 2) return std::vector<double>(loss.size(), 1.0);
  std::vector<double> z(loss.size());
  for (size_t i = 0; i < loss.size(); ++i) z[i] = (loss[i] - *lo) / (*hi - *lo);
  Gmm1d g = fit_gmm_1d(z, o);
  if (fitted) *fitted = g;
  return gmm_posterior(g, z, g.mean[0] <= g.mean[1] ? 0 : 1);
}

Vocabulary build_vocabulary(const DataView& train, const std::string& canon, int64_t source) {
  const Dataset& ds = *train.dataset;
  const Texts& t = ds.texts;
  if (t.size() == 0)
    throw DataError(ds.path, "/texts",
                    "NeaR needs one MLLM label string per training image as a /texts row with "
                    "image = that row (docs/near.md, `vlb convert near-labels`); the file has no texts");
  // First label row of each image (file order). The strings live on the host, so the index
  // columns that pick them are copied there.
  std::map<int64_t, int64_t> first;
  auto img = t.image.cpu().contiguous();
  auto src = t.source.cpu().to(torch::kLong).contiguous();
  const int64_t* ip = img.data_ptr<int64_t>();
  const int64_t* sp = src.data_ptr<int64_t>();
  for (int64_t r = 0; r < t.size(); ++r)
    if (ip[r] >= 0 && (source < 0 || sp[r] == source)) first.emplace(ip[r], r);
  Vocabulary v;
  std::map<std::string, int64_t> id;
  auto rows = train.rows.cpu().contiguous();
  const int64_t n = rows.size(0);
  std::vector<int64_t> lab(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = rows.data_ptr<int64_t>()[i];
    auto it = first.find(row);
    if (it == first.end())
      throw DataError(ds.path, "/texts/image",
                      fmt::format("training image row {} (split '{}') has no MLLM label text{} "
                                  "({} of {} training images are labelled)", row, train.split,
                                  source >= 0 ? fmt::format(" with /texts/source = {}", source) : "",
                                  std::count_if(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + n,
                                                [&](int64_t r) { return first.count(r) > 0; }), n));
    const std::string name = canonical_label(t.strings[it->second], canon);
    auto [pos, inserted] = id.emplace(name, static_cast<int64_t>(v.names.size()));
    if (inserted) {
      v.names.push_back(name);
      v.text_row.push_back(it->second);
    }
    lab[i] = pos->second;
  }
  const at::Device dev = train.rows.device();
  v.label = list_on(lab, dev);
  v.text_features = t.features.index_select(0, list_on(v.text_row, dev)).to(torch::kFloat);
  return v;
}

at::Tensor knn_excluding_self(const at::Tensor& x, int64_t K) {
  const int64_t n = x.size(0);
  K = std::min<int64_t>(K, n - 1);
  const auto opts = x.options().dtype(torch::kLong);
  if (K <= 0) return torch::zeros({n, 0}, opts);
  // K + 1 with stable ties; drop the row itself wherever it landed (duplicates may precede it),
  // else the last: each row keeps the first K entries that are not itself, in order.
  auto idx = topk_inner_product(x, x, K + 1).indices;
  auto other = idx.ne(torch::arange(n, opts).unsqueeze(1));
  auto keep = other & other.cumsum(1).le(K);
  return idx.masked_select(keep).view({n, K});
}

at::Tensor candidate_sets(const at::Tensor& x, const at::Tensor& label, int64_t L, int64_t K) {
  const int64_t n = x.size(0);
  auto S = torch::zeros({n, L}, x.options().dtype(torch::kBool));
  S.index_put_({torch::arange(n, label.options()), label}, true);
  auto nn = knn_excluding_self(x, K);
  if (nn.size(1) > 0) {
    auto rows = torch::arange(n, label.options()).unsqueeze(1).expand_as(nn);
    S.index_put_({rows.reshape(-1), label.index_select(0, nn.reshape(-1))}, true);
  }
  return S;
}

namespace {

struct Head {
  torch::Tensor W, A;
  bool residual = false;
  torch::Tensor logits(const torch::Tensor& x, double tau) const {
    torch::Tensor h = x;
    // Note [NeaR: head]: a residual adapter h = norm(x + xA), A = 0 at the start, stands in for
    // fine-tuning CLIP's image tower; "linear" trains only the class rows.
    if (residual) h = l2_normalize(x + x.mm(A));
    auto w = l2_normalize(W);
    return h.mm(w.t()) / tau;
  }
};

}  // namespace

Trained train_head(const at::Tensor& x, const Vocabulary& v, const TrainOptions& o,
                   const std::function<void(const std::string&)>& log) {
  const int64_t n = x.size(0), D = x.size(1), L = static_cast<int64_t>(v.names.size());
  const auto y0 = v.label;
  Trained out;
  // Note [NeaR: initialisation]: class rows start at the label texts' embeddings (CLIP's text
  // classifier, as fine-tuning CLIP would) when every name has one, else at the normalized mean
  // of the images carrying each raw label ("prototype"). "auto" picks text when possible.
  const bool have_text = v.text_features.defined() && v.text_features.numel() > 0 &&
                         torch::isfinite(v.text_features).all().item<bool>() &&
                         (v.text_features.norm(2, 1) > 0).all().item<bool>();
  std::string init = o.init;
  if (init == "auto") init = have_text ? "text" : "prototype";
  torch::Tensor W0;
  if (init == "text") {
    if (!have_text)
      throw ConfigError("near: init = text needs a finite text embedding for every label string "
                        "(some /texts/features rows of the labels are NaN or zero); use init: "
                        "prototype or auto");
    W0 = l2_normalize(v.text_features);
  } else {
    W0 = l2_normalize(class_means(x, y0, L));
  }
  out.init_used = init;
  Head head;
  head.W = W0.clone().set_requires_grad(true);
  head.residual = o.head == "residual";
  std::vector<torch::Tensor> params{head.W};
  if (head.residual) {
    head.A = torch::zeros({D, D}, x.options()).set_requires_grad(true);
    params.push_back(head.A);
  }
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));

  const auto S = candidate_sets(x, y0, L, o.k);
  auto yhat = y0.clone();
  // Torch's global generator; the index tensors are copied to x's device.
  MiniBatches batches(n, {std::max<int64_t>(1, o.batch_size), 1, x.device().str()});
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const bool split_epoch = o.split && epoch >= o.warmup && n >= 2;
    auto clean = torch::ones({n}, x.options().dtype(torch::kBool));
    if (split_epoch) {
      torch::NoGradGuard ng;
      auto logits = head.logits(x, o.temperature);
      // The two-component GMM is fitted on the host: the per-sample losses go there (as the
      // floats they are; widened there), the clean mask comes back.
      auto l = torch::nn::functional::cross_entropy(
                   logits, yhat, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
                   .cpu().to(torch::kDouble).contiguous();
      std::vector<double> lv(l.data_ptr<double>(), l.data_ptr<double>() + n);
      auto p = clean_probability(lv, o.gmm);
      auto clean_host = torch::from_blob(p.data(), {n}, torch::kDouble).gt(o.threshold);
      out.clean_fraction.push_back(clean_host.to(torch::kDouble).mean().item<double>());
      clean = clean_host.to(x.device());
      if (o.refine) {
        // Refinement: a noisy sample takes the most probable name of its candidate set.
        auto masked = logits.masked_fill(S.logical_not(), -std::numeric_limits<float>::infinity());
        auto best = masked.argmax(1);  // first maximum: lower vocabulary id on ties
        yhat = torch::where(clean, yhat, best);
      }
    }
    for (const auto& idx : batches.epoch()) {
      auto logits = head.logits(x.index_select(0, idx), o.temperature);
      auto yb = yhat.index_select(0, idx);
      auto cb = clean.index_select(0, idx).to(torch::kFloat);
      auto logp = torch::log_softmax(logits, 1);
      auto ce = -logp.gather(1, yb.unsqueeze(1)).squeeze(1);
      torch::Tensor loss = (ce * cb).sum();
      if (split_epoch && o.pll) {
        // Partial-label loss: -log of the probability mass on the candidate set.
        auto sb = S.index_select(0, idx);
        auto pl = -torch::logsumexp(logp.masked_fill(sb.logical_not(), -1e30), 1);
        loss = loss + o.lambda * (pl * (1 - cb)).sum();
      }
      loss = loss / static_cast<double>(idx.size(0));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  out.weight = head.W.detach();
  if (head.residual) out.adapter = head.A.detach();
  out.refined = yhat;
  // Note [NeaR: vocabulary pruning]: names that no training image carries any more after
  // refinement are not predicted (min_support = 1 keeps every name still in use).
  auto support = torch::bincount(yhat, {}, L);
  out.active = support.ge(o.min_support);
  if (!out.active.any().item<bool>()) out.active = support.gt(0);
  if (log)
    log(fmt::format("near: {} names, init {}, {} changed labels, {} active names{}", L, init,
                    yhat.ne(y0).sum().item<int64_t>(), out.active.sum().item<int64_t>(),
                    out.clean_fraction.empty() ? std::string()
                                               : fmt::format(", last clean fraction {:.3f}",
                                                             out.clean_fraction.back())));
  return out;
}

at::Tensor head_logits(const Trained& t, const at::Tensor& x, double temperature) {
  torch::NoGradGuard ng;
  Head h;
  h.W = t.weight;
  h.A = t.adapter;
  h.residual = t.adapter.defined();
  auto logits = h.logits(x, temperature);
  return logits.masked_fill(t.active.logical_not().unsqueeze(0), -std::numeric_limits<float>::infinity());
}

}  // namespace vlb::near
