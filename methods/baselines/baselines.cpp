// The baselines every leaderboard needs: zero-shot CLIP, nearest class mean and the linear probe.
#include <torch/torch.h>

#include <fmt/format.h>

#include <limits>
#include <map>
#include <string>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/methods/impl/minibatch.h"
#include "vlb/methods/impl/ops.h"
#include "vlb/methods/method.h"

namespace vlb {
namespace {

// ---- zeroshot ------------------------------------------------------------------------------

struct ZeroShotOptions {
  std::string descriptor;  // empty: the /texts prompts
};

const OptionTable<ZeroShotOptions>& zeroshot_options() {
  static const auto table = [] {
    OptionTable<ZeroShotOptions> t;
    t.add("descriptor", &ZeroShotOptions::descriptor,
          "use this descriptor kind as class embeddings instead of /texts prompts");
    return t;
  }();
  return table;
}

// Zero-shot CLIP: cosine similarity between an image and each class's text embedding.
class ZeroShot final : public Method {
 public:
  explicit ZeroShot(const ZeroShotOptions& o) : o_(o) {}

  void fit(const DataView& train, const RunContext&) override {
    const Dataset& ds = *train.dataset;
    const int64_t C = ds.num_classes();
    if (!o_.descriptor.empty()) {
      auto it = ds.descriptors.find(o_.descriptor);
      if (it == ds.descriptors.end())
        throw ConfigError(fmt::format("zeroshot: the dataset has no descriptor kind '{}'",
                                      o_.descriptor));
      classifier_ = l2_normalize(it->second.to(torch::kFloat));
      return;
    }
    const Texts& t = ds.texts;
    if (t.size() == 0 || !t.cls.defined())
      throw DataError(ds.path, "/texts",
                      "zeroshot needs class texts (/texts/features with /texts/class), or set "
                      "params.descriptor to a descriptor kind");
    // Note [prompt ensembling]: as in CLIP, each prompt embedding is normalized, the prompts of a
    // class are averaged, and the mean is normalized again.
    auto mask = t.cls.ge(0);
    auto cls = t.cls.masked_select(mask);
    auto feats = l2_normalize(t.features.index({mask}).to(torch::kFloat));
    at::Tensor counts;
    classifier_ = l2_normalize(class_means(feats, cls, C, &counts));
    auto missing = counts.eq(0).nonzero();
    if (missing.size(0) > 0) {
      int64_t c = missing[0][0].item<int64_t>();
      throw DataError(ds.path, "/texts/class",
                      fmt::format("zeroshot: {} of {} classes have no text (first: '{}', id {})",
                                  missing.size(0), C, ds.class_names[c], c));
    }
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard no_grad;
    return {torch::mm(l2_normalize(eval.features()), classifier_.t()), {}};
  }

 private:
  ZeroShotOptions o_;
  at::Tensor classifier_;  // [C, D], unit rows
};

// ---- ncm -----------------------------------------------------------------------------------

struct NcmOptions {
  bool normalize = true;
};

const OptionTable<NcmOptions>& ncm_options() {
  static const auto table = [] {
    OptionTable<NcmOptions> t;
    t.add("normalize", &NcmOptions::normalize,
          "L2-normalize features and class means (cosine); false = dot product");
    return t;
  }();
  return table;
}

// Nearest class mean: cosine to the normalized mean of each class's normalized training features.
class NearestClassMean final : public Method {
 public:
  explicit NearestClassMean(const NcmOptions& o) : o_(o) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    auto x = train.features();
    auto y = train.label();
    if (y.numel() == 0) throw ConfigError("ncm: the training split '" + train.split + "' is empty");
    if (o_.normalize) x = l2_normalize(x);
    at::Tensor counts;
    means_ = class_means(x, y, train.dataset->num_classes(), &counts);
    if (o_.normalize) means_ = l2_normalize(means_);
    // Classes without training rows can never be predicted (unlike a zero mean, which would
    // score 0 and could win when all cosines are negative).
    absent_ = counts.eq(0);
    int64_t n_absent = absent_.sum().item<int64_t>();
    if (n_absent > 0) ctx.log("ncm: " + std::to_string(n_absent) + " classes have no training rows");
    n_absent_ = n_absent;
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard no_grad;
    auto x = eval.features();
    if (o_.normalize) x = l2_normalize(x);
    auto scores = torch::mm(x, means_.t());
    scores.masked_fill_(absent_.unsqueeze(0), -std::numeric_limits<float>::infinity());
    return {scores, {{"absent_classes", torch::tensor({n_absent_}, torch::kLong)}}};
  }

 private:
  NcmOptions o_;
  int64_t n_absent_ = 0;
  at::Tensor means_;   // [C, D]
  at::Tensor absent_;  // [C] bool
};

// ---- linear_probe --------------------------------------------------------------------------

struct LinearProbeOptions {
  std::string optimizer = "lbfgs";
  double l2 = 1e-4;
  int64_t max_iter = 300;
  int64_t epochs = 100;
  double lr = 1e-3;
  int64_t batch_size = 256;
  bool normalize = true;
};

const OptionTable<LinearProbeOptions>& linear_probe_options() {
  static const auto table = [] {
    using O = LinearProbeOptions;
    OptionTable<O> t;
    t.add("optimizer", &O::optimizer, "lbfgs: full-batch, deterministic; adam: seeded mini-batches")
        .choices({"lbfgs", "adam"})
        .add("l2", &O::l2, "L2 penalty on the weights (mean-loss scale)").min(0.0)
        .add("max_iter", &O::max_iter, "L-BFGS iterations").range(1, 100000)
        .add("epochs", &O::epochs, "Adam epochs").range(1, 100000)
        .add("lr", &O::lr, "Adam learning rate").range(1e-8, 10.0)
        .add("batch_size", &O::batch_size, "Adam mini-batch size").range(1, 1 << 20)
        .add("normalize", &O::normalize, "L2-normalize features first");
    return t;
  }();
  return table;
}

// Note [linear probe objective]: mean cross-entropy + (l2 / 2) * ||W||^2 (the bias is not
// penalised). CLIP's paper uses scikit-learn's L-BFGS logistic regression with C swept on a
// validation split; C corresponds to l2 = 1 / (C * n_train) here. We solve the same convex problem
// with LibTorch's L-BFGS (strong Wolfe line search) from a zero start, so the result does not
// depend on the seed; `adam` is a seeded mini-batch alternative for large training sets.
class LinearProbe final : public Method {
 public:
  explicit LinearProbe(const LinearProbeOptions& o) : o_(o) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    SerialIntraOp serial;  // Note [Trained together]: the same bits at any thread count
    auto x = train.features();
    auto y = train.label();
    if (y.numel() == 0)
      throw ConfigError("linear_probe: the training split '" + train.split + "' is empty");
    if (o_.normalize) x = l2_normalize(x);
    const int64_t C = train.dataset->num_classes();
    W_ = torch::zeros({x.size(1), C}, x.options().requires_grad(true));
    b_ = torch::zeros({C}, x.options().requires_grad(true));
    auto objective = [&](const at::Tensor& xb, const at::Tensor& yb) {
      auto logits = torch::addmm(b_, xb, W_);
      return torch::nn::functional::cross_entropy(logits, yb) + 0.5 * o_.l2 * W_.pow(2).sum();
    };
    if (o_.optimizer == "lbfgs") {
      torch::optim::LBFGS opt({W_, b_}, torch::optim::LBFGSOptions(1.0)
                                             .max_iter(o_.max_iter)
                                             .history_size(20)
                                             .tolerance_grad(1e-7)
                                             .tolerance_change(1e-10)
                                             .line_search_fn("strong_wolfe"));
      auto closure = [&]() {
        opt.zero_grad();
        auto loss = objective(x, y);
        loss.backward();
        return loss;
      };
      // LBFGS::step returns the loss of its first closure call (the objective at the start), so
      // the final objective is evaluated again at the weights it leaves.
      opt.step(closure);
      torch::NoGradGuard no_grad;
      const double final_objective = objective(x, y).item<double>();
      // LBFGS keeps one state entry (under its first parameter) counting iterations and closure
      // calls over all step() calls; there is one here.
      int64_t iterations = 0, evaluations = 0;
      for (const auto& kv : opt.state()) {
        const auto& s = static_cast<const torch::optim::LBFGSParamState&>(*kv.second);
        iterations = s.n_iter();
        evaluations = s.func_evals();
      }
      log_line_ = fmt::format("linear_probe: final objective {:.6f} after {} L-BFGS iterations "
                              "({} function evaluations)",
                              final_objective, iterations, evaluations);
      ctx.log(log_line_);
      fit_aux_["lbfgs_iterations"] = torch::tensor({iterations}, torch::kLong);
      fit_aux_["lbfgs_evaluations"] = torch::tensor({evaluations}, torch::kLong);
      fit_aux_["final_objective"] = torch::tensor({final_objective}, torch::kDouble);
    } else {
      torch::optim::Adam opt({W_, b_}, torch::optim::AdamOptions(o_.lr));
      MiniBatches batches(x.size(0), MiniBatchOptions{o_.batch_size, 1, ctx.device},
                          generator_of(ctx));
      for (int64_t epoch = 0; epoch < o_.epochs; ++epoch) {
        for (const auto& idx : batches.epoch()) {
          opt.zero_grad();
          auto loss = objective(x.index_select(0, idx), y.index_select(0, idx));
          loss.backward();
          opt.step();
        }
      }
      // A fixed epoch count (no early stopping): recorded with the objective it reached.
      torch::NoGradGuard no_grad;
      fit_aux_["epochs_run"] = torch::tensor({o_.epochs}, torch::kLong);
      fit_aux_["final_objective"] = torch::tensor({objective(x, y).item<double>()}, torch::kDouble);
    }
    W_ = W_.detach();
    b_ = b_.detach();
    if (!torch::isfinite(W_).all().item<bool>())
      throw Error("linear_probe: training diverged (non-finite weights); lower lr or raise l2");
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard no_grad;
    auto x = eval.features();
    if (o_.normalize) x = l2_normalize(x);
    return {torch::addmm(b_, x, W_), fit_aux_};
  }

  // L-BFGS starts from zeros and draws nothing: members that differ only in their seed (and
  // train on the same rows) solve one problem. It is solved once; the rest go side by side.
  void fit_together(std::vector<Member>& members) override {
    std::vector<Member> distinct;
    std::vector<size_t> source(members.size());  // member -> its problem in distinct
    for (size_t i = 0; i < members.size(); ++i) {
      size_t j = 0;
      while (j < distinct.size() && !same_lbfgs_problem(distinct[j], members[i])) ++j;
      if (j == distinct.size()) distinct.push_back(members[i]);
      source[i] = j;
    }
    Method::fit_together(distinct);
    for (size_t i = 0; i < members.size(); ++i) {
      const Member& d = distinct[source[i]];
      members[i].error = d.error;
      if (d.method == members[i].method || !d.error.empty()) continue;
      auto* to = static_cast<LinearProbe*>(members[i].method);
      const auto* from = static_cast<const LinearProbe*>(d.method);
      to->W_ = from->W_;  // never written after fit: sharing the storage is safe
      to->b_ = from->b_;
      to->fit_aux_ = from->fit_aux_;
      to->log_line_ = from->log_line_;
      members[i].ctx->log(from->log_line_);
    }
  }

 private:
  static bool same_lbfgs_problem(const Member& a, const Member& b) {
    const auto* p = dynamic_cast<const LinearProbe*>(a.method);
    const auto* q = dynamic_cast<const LinearProbe*>(b.method);
    if (!p || !q || p->o_.optimizer != "lbfgs" || q->o_.optimizer != "lbfgs") return false;
    if (p->o_.l2 != q->o_.l2 || p->o_.max_iter != q->o_.max_iter ||
        p->o_.normalize != q->o_.normalize)
      return false;
    const DataView &x = *a.train, &y = *b.train;
    return x.dataset == y.dataset && x.split == y.split && x.rows.sizes() == y.rows.sizes() &&
           torch::equal(x.rows, y.rows);
  }

  LinearProbeOptions o_;
  at::Tensor W_, b_;
  std::map<std::string, at::Tensor> fit_aux_;  // optimiser diagnostics, metrics.json "aux"
  std::string log_line_;
};

}  // namespace

void register_baselines(MethodRegistry& reg) {
  reg.add(make_entry<Method, ZeroShot>(
      {"zeroshot", "Zero-shot CLIP: cosine to class text embeddings (prompt ensemble averaged)",
       {task_tag(Task::kClassification), task_tag(Task::kGzsl), "training_free", "device:cuda",
        "needs:class_texts?descriptor=", "needs:descriptor:@descriptor?descriptor!="}},
      zeroshot_options()));
  reg.add(make_entry<Method, NearestClassMean>(
      {"ncm", "Nearest class mean: cosine to normalized class means of the training features",
       {task_tag(Task::kClassification), "training_free", "device:cuda"}},
      ncm_options()));
  reg.add(make_entry<Method, LinearProbe>(
      {"linear_probe",
       "Multinomial logistic regression on frozen features (L2, L-BFGS or seeded Adam)",
       {task_tag(Task::kClassification), "trains", "together", "device:cuda"}},
      linear_probe_options()));
}

}  // namespace vlb
