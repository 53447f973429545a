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
#include "vlb/core/options.h"
#include "vlb/core/text.h"
#include "vlb/methods/impl/neighbours.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

// Options every method here shares: how the training images' label strings are read.
struct VocabOptions {
  std::string canonical = "full";
  int64_t label_source = kMllmLabelSource;
};

const OptionTable<VocabOptions>& vocab_table() {
  static const OptionTable<VocabOptions> table = [] {
    OptionTable<VocabOptions> t;
    t.add("canonical", &VocabOptions::canonical,
          "label canonicalization: none, case (lower-case, collapse whitespace), full (also "
          "punctuation, '_' and '-' -> space)")
        .choices({"none", "case", "full"})
        .add("label_source", &VocabOptions::label_source,
             "/texts/source of the MLLM label rows (-1: any row with image >= 0)")
        .range(-1, 127);
    return t;
  }();
  return table;
}

// Shared shape: the vocabulary from the training images' labels; predict() gives vocabulary ids.
class VocabMethod : public Method {
 public:
  explicit VocabMethod(const VocabOptions& o) : canon_(o.canonical), source_(o.label_source) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    if (train.size() < 1) throw ConfigError("near: the training split is empty");
    vocab_ = near::build_vocabulary(train, canon_, source_);
    x_ = l2_normalize(train.features());
    ds_ = train.dataset;
    fit_vocab(ctx);
  }

  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    auto ids = predict_vocab(l2_normalize(eval.features()), ctx);  // [n] vocab ids
    const int64_t n = ids.size(0), C = ds_->num_classes();
    const at::Device dev = ids.device();
    // scores [n, C]: 1 where the predicted name is a class name (canonically), else 0. Only for
    // the cls/* metrics' shape; ov/* metrics read pred_text. The names live on the host, so the
    // ids are copied there once.
    std::map<std::string, int64_t> cls;
    for (int64_t c = 0; c < C; ++c) cls.emplace(canonical_label(ds_->class_names[c], canon_), c);
    auto ids_host = ids.cpu().contiguous();
    const int64_t* ip = ids_host.data_ptr<int64_t>();
    std::vector<int64_t> rows(n), hit_row, hit_class;
    for (int64_t i = 0; i < n; ++i) {
      rows[i] = vocab_.text_row[ip[i]];
      auto it = cls.find(vocab_.names[ip[i]]);
      if (it != cls.end()) hit_row.push_back(i), hit_class.push_back(it->second);
    }
    auto scores = torch::zeros({n, C}, torch::TensorOptions().device(dev));
    if (!hit_row.empty()) scores.index_put_({list_on(hit_row, dev), list_on(hit_class, dev)}, 1.0);
    Prediction p{scores,
                 {{"pred_text", list_on(rows, dev)},
                  {"pred_vocab", ids},
                  {"vocab_size", torch::tensor({L()}, torch::kLong)}}};
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
  at::Tensor x_;  // normalized training features
  const Dataset* ds_ = nullptr;
};

// ---- near, near_no_refine -------------------------------------------------------------------

struct NearOptions {
  VocabOptions vocab;
  near::TrainOptions train;
};

// The head's options; `split` adds those of the clean/noisy split (near_no_refine has none).
OptionTable<near::TrainOptions> train_table(bool split) {
  using T = near::TrainOptions;
  using G = near::GmmOptions;
  OptionTable<T> t;
  t.add("epochs", &T::epochs, "training epochs, warm-up included [reconstructed]").range(1, 100000)
      .add("lr", &T::lr, "Adam learning rate [reconstructed]").range(0.0, 10.0)
      .add("weight_decay", &T::weight_decay, "Adam weight decay [reconstructed]").range(0.0, 10.0)
      .add("batch_size", &T::batch_size, "minibatch size [reconstructed]").range(1, 1000000)
      .add("temperature", &T::temperature,
           "cosine-logit temperature (CLIP's learned value is 0.01) [reconstructed]")
      .range(1e-4, 10.0)
      .add("head", &T::head,
           "trainable class rows only, or also a residual adapter on the image features "
           "(feature-level stand-in for CLIP fine-tuning) [reconstructed]")
      .choices({"linear", "residual"})
      .add("init", &T::init,
           "class rows start at the label texts' embeddings or the raw-label image means; "
           "auto: text when every label has an embedding [reconstructed]")
      .choices({"auto", "text", "prototype"});
  if (!split) return t;
  t.add("k", &T::k, "neighbours whose labels join an image's candidate set [K unknown]")
      .range(0, 100000)
      .add("threshold", &T::threshold,
           "clean if the GMM clean posterior exceeds it (DivideMix's 0.5) [reconstructed]")
      .range(0.0, 1.0)
      .add("lambda", &T::lambda, "weight of the partial-label loss [reconstructed]").range(0.0, 1000.0)
      .add("warmup", &T::warmup, "epochs of CE on the raw labels [reconstructed]").range(0, 100000)
      .add("refine", &T::refine, "refine noisy labels within their candidate sets (ablation)")
      .add("pll", &T::pll, "partial-label loss on the noisy samples (ablation; off: dropped)")
      .add("min_support", &T::min_support,
           "predict only names carried by >= this many images after refinement [reconstructed]")
      .range(0, 100000)
      .add("gmm_max_iter", &T::gmm, &G::max_iter, "GMM EM iterations (DivideMix: 10)").range(1, 100000)
      .add("gmm_tol", &T::gmm, &G::tol, "GMM convergence tolerance (DivideMix: 1e-2)").range(0.0, 1.0)
      .add("gmm_reg_covar", &T::gmm, &G::reg_covar, "GMM variance floor (DivideMix: 5e-4)")
      .range(0.0, 1.0);
  return t;
}

const OptionTable<NearOptions>& near_table(bool split) {
  auto make = [](bool s) {
    OptionTable<NearOptions> t;
    t.include(&NearOptions::vocab, vocab_table()).include(&NearOptions::train, train_table(s));
    return t;
  };
  static const OptionTable<NearOptions> with_split = make(true), without_split = make(false);
  return split ? with_split : without_split;
}

class Near : public VocabMethod {
 public:
  explicit Near(const NearOptions& o) : VocabMethod(o.vocab), o_(o.train) {
    if (o_.split && o_.warmup >= o_.epochs)
      throw ConfigError(fmt::format("near: warmup ({}) must be < epochs ({}), or no epoch "
                                    "refines anything", o_.warmup, o_.epochs));
  }

 protected:
  void fit_vocab(const RunContext& ctx) override { trained_ = near::train_head(x_, vocab_, o_, ctx.log); }
  // The clean/noisy selection and refinement results, as scalars for metrics.json "aux".
  void extra_aux(Prediction& p) override {
    auto scalar = [&](const char* name, double v) { p.aux[name] = torch::tensor({v}, torch::kDouble); };
    const auto& cf = trained_.clean_fraction;
    if (!cf.empty()) {
      scalar("clean_fraction", cf.back());  // last split epoch
      scalar("clean_fraction_first", cf.front());
      p.aux["split_epochs"] = torch::tensor({static_cast<int64_t>(cf.size())}, torch::kLong);
    }
    p.aux["changed_labels"] =
        torch::tensor({trained_.refined.ne(vocab_.label).sum().item<int64_t>()}, torch::kLong);
    p.aux["active_names"] = torch::tensor({trained_.active.sum().item<int64_t>()}, torch::kLong);
    p.aux["init_text"] = torch::tensor({int64_t{trained_.init_used == "text"}}, torch::kLong);
  }
  at::Tensor predict_vocab(const at::Tensor& x, const RunContext&) override {
    return near::head_logits(trained_, x, o_.temperature).argmax(1);
  }

 private:
  near::TrainOptions o_;
  near::Trained trained_;
};

// ---- mllm_labels, near_knn_only ------------------------------------------------------------

class KnnLabels : public VocabMethod {
 public:
  KnnLabels(const VocabOptions& o, int64_t k) : VocabMethod(o), k_(k) {}

 protected:
  void fit_vocab(const RunContext&) override {}
  at::Tensor predict_vocab(const at::Tensor& x, const RunContext&) override {
    const int64_t k = std::min<int64_t>(k_, x_.size(0));
    auto nn = topk_inner_product(x, x_, k).indices;
    auto names = vocab_.label.index_select(0, nn.reshape(-1)).view(nn.sizes());  // [n, k]
    // Majority over the k nearest; a tie goes to the name whose count reaches the maximum first
    // (the nearer image): the first maximum of each neighbour's running name count. Row blocks
    // bound the [rows, k, k] comparison to 16 Mi entries.
    const int64_t n = names.size(0);
    auto upto = torch::ones({k, k}, names.options().dtype(torch::kBool)).tril();
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 24) / (k * k));
    auto out = torch::empty({n}, names.options());
    for (int64_t b = 0; b < n; b += block) {
      auto c = names.narrow(0, b, std::min(block, n - b));
      auto running = (c.unsqueeze(2).eq(c.unsqueeze(1)) & upto).sum(2);  // [rows, k]
      out.narrow(0, b, c.size(0)).copy_(c.gather(1, stable_topk(running, 1).indices).squeeze(1));
    }
    return out;
  }

 private:
  int64_t k_;
};

struct KnnOptions {
  VocabOptions vocab;
  int64_t k = 5;
};

const OptionTable<KnnOptions>& knn_table() {
  static const OptionTable<KnnOptions> table = [] {
    OptionTable<KnnOptions> t;
    t.include(&KnnOptions::vocab, vocab_table())
        .add("k", &KnnOptions::k, "neighbours voting")
        .range(1, 100000);
    return t;
  }();
  return table;
}

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

struct KMeansOptions {
  VocabOptions vocab;
  int64_t clusters = 0;
  int64_t max_iter = 100;
};

const OptionTable<KMeansOptions>& kmeans_table() {
  static const OptionTable<KMeansOptions> table = [] {
    OptionTable<KMeansOptions> t;
    t.include(&KMeansOptions::vocab, vocab_table())
        .add("clusters", &KMeansOptions::clusters, "clusters; 0 = the dataset's class count (oracle)")
        .range(0, 1000000)
        .add("max_iter", &KMeansOptions::max_iter, "Lloyd iterations")
        .range(1, 100000);
    return t;
  }();
  return table;
}

// Spherical k-means on the evaluation features (label-free floor). Note [NeaR: kmeans floor]:
// clusters = 0 uses the true number of classes (an oracle, as in FineR's KMeans baseline);
// clusters are named by the majority MLLM label of the training images nearest to each centre.
class KMeans : public VocabMethod {
 public:
  explicit KMeans(const KMeansOptions& o) : VocabMethod(o.vocab), k_(o.clusters), iters_(o.max_iter) {}

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
      // Drawn on the CPU's generator, so that every device picks the same centres.
      seeds.push_back(torch::multinomial(w.cpu(), 1).item<int64_t>());
      d = torch::minimum(d, (1 - x.mm(x[seeds.back()].unsqueeze(1)).squeeze(1)).clamp_min(0));
    }
    auto centres = x.index_select(0, list_on(seeds, x.device()));
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
    iterations_ = it;
    // Name every cluster: majority label of the training images whose nearest centre it is;
    // a cluster no training image falls in takes the label of the training image nearest to it.
    auto tr = stable_topk(x_.mm(centres.t()), 1).indices.squeeze(1);
    auto nearest = stable_topk(centres.mm(x_.t()), 1).indices.squeeze(1);
    auto votes = torch::zeros({k, L()}, tr.options())
                     .index_put_({tr, vocab_.label}, torch::ones_like(tr), /*accumulate=*/true);
    auto top = stable_topk(votes, 1);  // first maximum: lower vocabulary id
    auto name = torch::where(top.values.squeeze(1).gt(0), top.indices.squeeze(1),
                             vocab_.label.index_select(0, nearest));
    cluster_ = assign;
    return name.index_select(0, assign);
  }
  void extra_aux(Prediction& p) override {
    p.aux["pred_cluster"] = cluster_;
    p.aux["kmeans_iterations"] = torch::tensor({iterations_}, torch::kLong);
  }

 private:
  int64_t k_, iters_, iterations_ = 0;
  at::Tensor cluster_;
};

}  // namespace

void register_near(MethodRegistry& reg) {
  const std::vector<std::string> tags{task_tag(Task::kOpenVocab), "needs:image_texts", "device:cuda"};
  std::vector<std::string> trained = tags;
  trained.push_back("trains");
  using M = std::unique_ptr<Method>;
  reg.add(make_entry<Method, NearOptions>(
      {"near",
       "NeaR (arXiv 2505.01064, reconstructed at feature level): kNN candidate sets, GMM "
       "clean/noisy split of per-sample losses, label refinement, CE + lambda * partial-label loss",
       trained},
      near_table(true), [](const NearOptions& o) -> M { return std::make_unique<Near>(o); }));
  reg.add(make_entry<Method, NearOptions>(
      {"near_no_refine", "NeaR's head trained with plain CE on the raw MLLM labels", trained},
      near_table(false), [](NearOptions o) -> M {
        o.train.split = false;
        o.train.k = 0;
        o.train.refine = o.train.pll = false;
        return std::make_unique<Near>(o);
      }));
  reg.add(make_entry<Method, VocabOptions>(
      {"mllm_labels", "the raw MLLM label of the nearest training image (no refinement)", tags},
      vocab_table(), [](const VocabOptions& o) -> M { return std::make_unique<KnnLabels>(o, 1); }));
  reg.add(make_entry<Method, KnnOptions>(
      {"near_knn_only", "majority raw MLLM label over the K nearest training images", tags},
      knn_table(), [](const KnnOptions& o) -> M { return std::make_unique<KnnLabels>(o.vocab, o.k); }));
  reg.add(make_entry<Method, VocabZeroShot>(
      {"vocab_zeroshot",
       "zero-shot over the discovered vocabulary: cosine to the label strings' text embeddings", tags},
      vocab_table()));
  reg.add(make_entry<Method, KMeans>(
      {"kmeans",
       "label-free floor: spherical k-means on the evaluation features, clusters named by the "
       "majority MLLM label of the nearest training images",
       tags},
      kmeans_table()));
}

}  // namespace vlb
