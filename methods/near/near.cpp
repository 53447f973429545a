// The registered NeaR methods: near, near_no_refine, and the baselines mllm_labels,
// near_knn_only, vocab_zeroshot and kmeans (docs/near.md). Every one predicts a name string from
// the vocabulary discovered in the training images' MLLM labels (aux["pred_text"], a /texts row)
// and never reads the training labels.
#include "vlb/methods/near.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <limits>
#include <map>

#include "vlb/core/error.h"
#include "vlb/core/text.h"
#include "vlb/methods/impl/neighbours.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

// Shared shape: the vocabulary from the training images' labels; predict() gives vocabulary ids.
class VocabMethod : public Method {
 public:
  explicit VocabMethod(const Params& p)
      : canon_(p.get_string("canonical")), source_(p.get_int("label_source")) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    if (train.size() < 1) throw ConfigError("near: the training split is empty");
    vocab_ = near::build_vocabulary(train, canon_, source_);
    x_ = l2_normalize(train.features());
    ds_ = train.dataset;
    fit_vocab(ctx);
  }

  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    auto ids = predict_vocab(l2_normalize(eval.features()), ctx).contiguous();  // [n] vocab ids
    const int64_t n = ids.size(0), C = ds_->num_classes();
    // scores [n, C]: 1 where the predicted name is a class name (canonically), else 0. Only for
    // the cls/* metrics' shape; ov/* metrics read pred_text.
    std::map<std::string, int64_t> cls;
    for (int64_t c = 0; c < C; ++c) cls.emplace(canonical_label(ds_->class_names[c], canon_), c);
    auto scores = torch::zeros({n, C});
    auto rows = torch::empty({n}, torch::kLong);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = ids[i].item<int64_t>();
      rows[i] = vocab_.text_row[v];
      auto it = cls.find(vocab_.names[v]);
      if (it != cls.end()) scores[i][it->second] = 1.0;
    }
    Prediction p{scores, {{"pred_text", rows}, {"pred_vocab", ids}}};
    extra_aux(p);
    return p;
  }

 protected:
  virtual void fit_vocab(const RunContext& ctx) = 0;
  virtual at::Tensor predict_vocab(const at::Tensor& x, const RunContext& ctx) = 0;
  virtual void extra_aux(Prediction&) {}
  int64_t L() const { return static_cast<int64_t>(vocab_.names.size()); }

  std::string canon_;
  int64_t source_;
  near::Vocabulary vocab_;
  at::Tensor x_;  // normalised training features
  const Dataset* ds_ = nullptr;
};

void add_vocab_params(ParamSchema& s) {
  s.add_string("canonical", "full", {"none", "case", "full"},
               "label canonicalisation: none, case (lower-case, collapse whitespace), full (also "
               "punctuation, '_' and '-' -> space)")
      .add_int("label_source", kMllmLabelSource, -1, 127,
               "/texts/source of the MLLM label rows (-1: any row with image >= 0)");
}

// ---- near, near_no_refine -------------------------------------------------------------------

class Near : public VocabMethod {
 public:
  Near(const Params& p, bool split) : VocabMethod(p) {
    o_.epochs = p.get_int("epochs");
    o_.lr = p.get_float("lr");
    o_.weight_decay = p.get_float("weight_decay");
    o_.batch_size = p.get_int("batch_size");
    o_.temperature = p.get_float("temperature");
    o_.head = p.get_string("head");
    o_.init = p.get_string("init");
    o_.split = split;
    if (split) {
      o_.k = p.get_int("k");
      o_.threshold = p.get_float("threshold");
      o_.lambda = p.get_float("lambda");
      o_.warmup = p.get_int("warmup");
      o_.refine = p.get_bool("refine");
      o_.pll = p.get_bool("pll");
      o_.min_support = p.get_int("min_support");
      o_.gmm.max_iter = static_cast<int>(p.get_int("gmm_max_iter"));
      o_.gmm.tol = p.get_float("gmm_tol");
      o_.gmm.reg_covar = p.get_float("gmm_reg_covar");
      if (o_.warmup >= o_.epochs)
        throw ConfigError(fmt::format("near: warmup ({}) must be < epochs ({}), or no epoch "
                                      "refines anything", o_.warmup, o_.epochs));
    } else {
      o_.k = 0;
      o_.refine = o_.pll = false;
    }
  }

 protected:
  void fit_vocab(const RunContext& ctx) override { trained_ = near::train_head(x_, vocab_, o_, ctx.log); }
  at::Tensor predict_vocab(const at::Tensor& x, const RunContext&) override {
    return near::head_logits(trained_, x, o_.temperature).argmax(1);
  }

 private:
  near::TrainOptions o_;
  near::Trained trained_;
};

void add_train_params(ParamSchema& s, bool split) {
  const near::TrainOptions d;
  s.add_int("epochs", d.epochs, 1, 100000, "training epochs, warm-up included [reconstructed]")
      .add_float("lr", d.lr, 0.0, 10.0, "Adam learning rate [reconstructed]")
      .add_float("weight_decay", d.weight_decay, 0.0, 10.0, "Adam weight decay [reconstructed]")
      .add_int("batch_size", d.batch_size, 1, 1000000, "minibatch size [reconstructed]")
      .add_float("temperature", d.temperature, 1e-4, 10.0,
                 "cosine-logit temperature (CLIP's learned value is 0.01) [reconstructed]")
      .add_string("head", d.head, {"linear", "residual"},
                  "trainable class rows only, or also a residual adapter on the image features "
                  "(feature-level stand-in for CLIP fine-tuning) [reconstructed]")
      .add_string("init", d.init, {"auto", "text", "prototype"},
                  "class rows start at the label texts' embeddings or the raw-label image means; "
                  "auto: text when every label has an embedding [reconstructed]");
  if (!split) return;
  const near::GmmOptions g;
  s.add_int("k", d.k, 0, 100000, "neighbours whose labels join an image's candidate set [K unknown]")
      .add_float("threshold", d.threshold, 0.0, 1.0, "clean if the GMM clean posterior exceeds it "
                 "(DivideMix's 0.5) [reconstructed]")
      .add_float("lambda", d.lambda, 0.0, 1000.0, "weight of the partial-label loss [reconstructed]")
      .add_int("warmup", d.warmup, 0, 100000, "epochs of CE on the raw labels [reconstructed]")
      .add_bool("refine", d.refine, "refine noisy labels within their candidate sets (ablation)")
      .add_bool("pll", d.pll, "partial-label loss on the noisy samples (ablation; off: dropped)")
      .add_int("min_support", d.min_support, 0, 100000,
               "predict only names carried by >= this many images after refinement [reconstructed]")
      .add_int("gmm_max_iter", g.max_iter, 1, 100000, "GMM EM iterations (DivideMix: 10)")
      .add_float("gmm_tol", g.tol, 0.0, 1.0, "GMM convergence tolerance (DivideMix: 1e-2)")
      .add_float("gmm_reg_covar", g.reg_covar, 0.0, 1.0, "GMM variance floor (DivideMix: 5e-4)");
}

// ---- mllm_labels, near_knn_only ------------------------------------------------------------

class KnnLabels : public VocabMethod {
 public:
  KnnLabels(const Params& p, int64_t k) : VocabMethod(p), k_(k) {}

 protected:
  void fit_vocab(const RunContext&) override {}
  at::Tensor predict_vocab(const at::Tensor& x, const RunContext&) override {
    const int64_t k = std::min<int64_t>(k_, x_.size(0));
    auto nn = topk_inner_product(x, x_, k).indices.contiguous();
    auto lab = vocab_.label.contiguous();
    const int64_t n = x.size(0);
    auto out = torch::empty({n}, torch::kLong);
    std::vector<int64_t> count(L(), 0);
    for (int64_t i = 0; i < n; ++i) {
      // Majority over the k nearest; a tie goes to the name met first (the nearer image).
      int64_t best = -1, best_count = 0;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t v = lab[nn[i][j].item<int64_t>()].item<int64_t>();
        if (++count[v] > best_count) {
          best_count = count[v];
          best = v;
        }
      }
      for (int64_t j = 0; j < k; ++j) count[lab[nn[i][j].item<int64_t>()].item<int64_t>()] = 0;
      out[i] = best;
    }
    return out;
  }

 private:
  int64_t k_;
};

// ---- vocab_zeroshot ------------------------------------------------------------------------

class VocabZeroShot : public VocabMethod {
 public:
  using VocabMethod::VocabMethod;

 protected:
  void fit_vocab(const RunContext&) override {
    auto t = vocab_.text_features;
    auto ok = torch::isfinite(t).all(1) & t.norm(2, 1).gt(0);
    if (!ok.any().item<bool>())
      throw DataError(ds_->path, "/texts/features",
                      "vocab_zeroshot needs text embeddings of the label strings; all are NaN/zero");
    text_ = l2_normalize(torch::where(ok.unsqueeze(1), t, torch::zeros_like(t)));
    ok_ = ok;
  }
  at::Tensor predict_vocab(const at::Tensor& x, const RunContext&) override {
    auto s = x.mm(text_.t()).masked_fill(ok_.logical_not().unsqueeze(0), -std::numeric_limits<float>::infinity());
    return s.argmax(1);
  }

 private:
  at::Tensor text_, ok_;
};

// ---- kmeans --------------------------------------------------------------------------------

// Spherical k-means on the evaluation features (label-free floor). Note [NeaR: kmeans floor]:
// clusters = 0 uses the true number of classes (an oracle, as in FineR's KMeans baseline);
// clusters are named by the majority MLLM label of the training images nearest to each centre.
class KMeans : public VocabMethod {
 public:
  KMeans(const Params& p) : VocabMethod(p), k_(p.get_int("clusters")), iters_(p.get_int("max_iter")) {}

 protected:
  void fit_vocab(const RunContext&) override {}
  at::Tensor predict_vocab(const at::Tensor& x, const RunContext& ctx) override {
    const int64_t n = x.size(0);
    const int64_t k = std::min<int64_t>(k_ > 0 ? k_ : ds_->num_classes(), n);
    // k-means++ seeding on 1 - cosine, torch's global generator (seeded by the runner).
    std::vector<int64_t> seeds{torch::randint(n, {1}, torch::kLong).item<int64_t>()};
    auto d = (1 - x.mm(x[seeds[0]].unsqueeze(1)).squeeze(1)).clamp_min(0);
    for (int64_t c = 1; c < k; ++c) {
      auto w = d.sum().item<double>() > 0 ? d : torch::ones_like(d);
      seeds.push_back(torch::multinomial(w, 1).item<int64_t>());
      d = torch::minimum(d, (1 - x.mm(x[seeds.back()].unsqueeze(1)).squeeze(1)).clamp_min(0));
    }
    auto centres = x.index_select(0, torch::tensor(seeds, torch::kLong));
    at::Tensor assign;
    int64_t it = 0;
    for (; it < iters_; ++it) {
      auto a = stable_topk(x.mm(centres.t()), 1).indices.squeeze(1);
      if (assign.defined() && a.equal(assign)) break;
      assign = a;
      auto sums = torch::zeros_like(centres).index_add_(0, assign, x);
      auto cnt = torch::bincount(assign, {}, k);
      // An empty cluster keeps its centre.
      centres = torch::where(cnt.gt(0).unsqueeze(1), l2_normalize(sums), centres);
    }
    ctx.log(fmt::format("kmeans: k={} converged after {} iterations", k, it));
    // Name every cluster: majority label of the training images whose nearest centre it is;
    // a cluster no training image falls in takes the label of the training image nearest to it.
    auto tr = stable_topk(x_.mm(centres.t()), 1).indices.squeeze(1).contiguous();
    auto nearest = stable_topk(centres.mm(x_.t()), 1).indices.squeeze(1).contiguous();
    std::vector<std::vector<int64_t>> votes(k, std::vector<int64_t>(L(), 0));
    for (int64_t i = 0; i < x_.size(0); ++i) ++votes[tr[i].item<int64_t>()][vocab_.label[i].item<int64_t>()];
    std::vector<int64_t> name(k);
    for (int64_t c = 0; c < k; ++c) {
      auto best = std::max_element(votes[c].begin(), votes[c].end());  // first max: lower id
      name[c] = *best > 0 ? best - votes[c].begin() : vocab_.label[nearest[c].item<int64_t>()].item<int64_t>();
    }
    cluster_ = assign;
    return torch::tensor(name, torch::kLong).index_select(0, assign);
  }
  void extra_aux(Prediction& p) override { p.aux["pred_cluster"] = cluster_; }

 private:
  int64_t k_, iters_;
  at::Tensor cluster_;
};

template <class F>
void add(MethodRegistry& reg, const char* name, const char* help, F&& schema_fn,
         std::function<std::unique_ptr<Method>(const Params&)> factory) {
  RegistryEntry<Method> e;
  e.name = name;
  e.help = help;
  e.version = "1";
  e.tags = {task_tag(Task::kOpenVocab)};
  add_vocab_params(e.schema);
  schema_fn(e.schema);
  e.factory = std::move(factory);
  reg.add(std::move(e));
}

}  // namespace

void register_near(MethodRegistry& reg) {
  add(reg, "near",
      "NeaR (arXiv 2505.01064, reconstructed at feature level): kNN candidate sets, GMM "
      "clean/noisy split of per-sample losses, label refinement, CE + lambda * partial-label loss",
      [](ParamSchema& s) { add_train_params(s, true); },
      [](const Params& p) -> std::unique_ptr<Method> { return std::make_unique<Near>(p, true); });
  add(reg, "near_no_refine", "NeaR's head trained with plain CE on the raw MLLM labels",
      [](ParamSchema& s) { add_train_params(s, false); },
      [](const Params& p) -> std::unique_ptr<Method> { return std::make_unique<Near>(p, false); });
  add(reg, "mllm_labels", "the raw MLLM label of the nearest training image (no refinement)",
      [](ParamSchema&) {},
      [](const Params& p) -> std::unique_ptr<Method> { return std::make_unique<KnnLabels>(p, 1); });
  add(reg, "near_knn_only", "majority raw MLLM label over the K nearest training images",
      [](ParamSchema& s) { s.add_int("k", 5, 1, 100000, "neighbours voting"); },
      [](const Params& p) -> std::unique_ptr<Method> {
        return std::make_unique<KnnLabels>(p, p.get_int("k"));
      });
  add(reg, "vocab_zeroshot",
      "zero-shot over the discovered vocabulary: cosine to the label strings' text embeddings",
      [](ParamSchema&) {},
      [](const Params& p) -> std::unique_ptr<Method> { return std::make_unique<VocabZeroShot>(p); });
  add(reg, "kmeans",
      "label-free floor: spherical k-means on the evaluation features, clusters named by the "
      "majority MLLM label of the nearest training images",
      [](ParamSchema& s) {
        s.add_int("clusters", 0, 0, 1000000, "clusters; 0 = the dataset's class count (oracle)")
            .add_int("max_iter", 100, 1, 100000, "Lloyd iterations");
      },
      [](const Params& p) -> std::unique_ptr<Method> { return std::make_unique<KMeans>(p); });
}

}  // namespace vlb
