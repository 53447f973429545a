// The registered SARL methods (arXiv 2412.10843, docs/sarl.md): sarl, and the baselines
// global_linear, global_zeroshot, sarl_no_decouple and sarl_shared_text. Inputs:
// /images/feature_maps [N, H·W, C_f], descriptors glove [C, d_w] and text_embedding [C, D_t],
// /images/partial_labels (training targets). Scores are logits [n, C]; every category is an
// independent sigmoid.
#include "vlb/methods/sarl.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/methods/impl/minibatch.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

at::Tensor maps_of(const DataView& v, const std::string& who) {
  at::Tensor m = v.feature_maps();
  if (!m.defined())
    throw ConfigError(fmt::format("{}: dataset '{}' has no /images/feature_maps [N, H*W, C_f] "
                                  "(use source synth_multilabel or a file with feature maps)",
                                  who, v.dataset->path.empty() ? v.dataset->name : v.dataset->path));
  return m;
}

at::Tensor descriptor(const Dataset& ds, const std::string& kind, const std::string& who) {
  auto it = ds.descriptors.find(kind);
  if (it == ds.descriptors.end()) {
    std::string have;
    for (const auto& [k, t] : ds.descriptors) have += (have.empty() ? "" : ", ") + k;
    throw ConfigError(fmt::format("{}: dataset has no /classes/descriptors/{} (has: {})", who, kind,
                                  have.empty() ? "none" : have));
  }
  return it->second;
}

// Training targets: the partial labels; files without them train on the full labels.
at::Tensor train_targets(const DataView& train, const RunContext& ctx, const std::string& who) {
  at::Tensor y = train.partial_labels();
  if (!y.defined()) {
    y = train.labels();
    if (!y.defined()) throw ConfigError(who + ": the training split has no /images/labels or /images/partial_labels");
    ctx.log(who + ": no /images/partial_labels; training on /images/labels");
  }
  return y.to(torch::kChar);
}

// Loss and optimiser parameters every trained method here shares.
struct TrainOptions {
  std::string loss = "bce", optimizer = "adam";
  double lr = 1e-3, momentum = 0.9, weight_decay = 1e-4, loss_weight = 1.0;
  int64_t epochs = 20, batch_size = 32;
  sarl::AslOptions asl;
};

const OptionTable<TrainOptions>& train_table() {
  static const OptionTable<TrainOptions> table = [] {
    using T = TrainOptions;
    using A = sarl::AslOptions;
    OptionTable<T> t;
    t.add("loss", &T::loss, "partial BCE over known labels, or the asymmetric loss")
        .choices({"bce", "asl"})
        .add("gamma_neg", &T::asl, &A::gamma_neg, "ASL focusing of negatives (γ−)").range(0.0, 10.0)
        .add("gamma_pos", &T::asl, &A::gamma_pos, "ASL focusing of positives (γ+)").range(0.0, 10.0)
        .add("clip", &T::asl, &A::clip, "ASL probability margin of negatives").range(0.0, 1.0)
        .add("asl_reduction", &T::asl, &A::reduction, "ASL: sum (DualCoOp) or mean over known entries")
        .choices({"sum", "mean"})
        .add("loss_weight", &T::loss_weight, "loss multiplier (DualCoOp loss_w)").range(0.0, 1e6)
        .add("optimizer", &T::optimizer, "optimiser").choices({"adam", "sgd"})
        .add("lr", &T::lr, "learning rate").range(1e-8, 10.0)
        .add("momentum", &T::momentum, "SGD momentum").range(0.0, 0.999)
        .add("weight_decay", &T::weight_decay, "L2 weight decay").range(0.0, 1.0)
        .add("epochs", &T::epochs, "passes over the training split").range(0, 100000)
        .add("batch_size", &T::batch_size, "images per step").range(1, 1 << 20);
    return t;
  }();
  return table;
}

// Seeded minibatch training of `forward` (maps [b, P, C_f] -> logits [b, C]) on `x`, `y`.
void train_loop(const TrainOptions& o, std::vector<at::Tensor> params,
                const std::function<at::Tensor(const at::Tensor&)>& forward, const at::Tensor& x,
                const at::Tensor& y, const RunContext& ctx) {
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (o.optimizer == "adam")
    opt = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  else
    opt = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  // A generator of its own, apart from the global one the initialisation draws from.
  MiniBatches batches(x.size(0), {o.batch_size, 1, x.device().str()},
                      at::make_generator<at::CPUGeneratorImpl>(ctx.seed + 7919));
  for (int64_t ep = 0; ep < o.epochs; ++ep) {
    double total = 0;
    for (const at::Tensor& idx : batches.epoch()) {
      at::Tensor logits = forward(x.index_select(0, idx));
      at::Tensor t = y.index_select(0, idx);
      at::Tensor loss = o.loss == "bce" ? sarl::partial_bce(logits, t) : sarl::asymmetric_loss(logits, t, o.asl);
      loss = loss * o.loss_weight;
      opt->zero_grad();
      loss.backward();
      opt->step();
      total += loss.item<double>();
    }
    if (ep + 1 == o.epochs || ep % 5 == 0) ctx.log(fmt::format("epoch {} loss {:.4f}", ep, total));
  }
}

at::Tensor predict_batched(const std::function<at::Tensor(const at::Tensor&)>& forward, const at::Tensor& x) {
  torch::NoGradGuard ng;
  std::vector<at::Tensor> out;
  for (int64_t s = 0; s < x.size(0); s += 256) out.push_back(forward(x.slice(0, s, std::min(x.size(0), s + 256))));
  return out.empty() ? torch::zeros({0, 0}, x.options()) : torch::cat(out, 0);
}

// ---- SARL and its ablations ---------------------------------------------------------------

struct SarlOptions {
  int64_t rank = 512, tile = 4;
  std::string score_param = "standard";  // standard | rank_scaled
  std::string word_kind = "glove";
  std::string projection = "per_category";  // per_category | shared
  std::string proj_init = "identity", text_kind = "text_embedding";
  double logit_scale = 10.0;
  bool class_bias = true;
  TrainOptions train;
};

// What tells the registered variants apart (not options).
struct SarlVariant {
  bool decouple = true;
  std::string text = "per_category";  // per_category | shared
};

// `decouple` adds the decoupling's options (sarl_no_decouple has none).
const OptionTable<SarlOptions>& sarl_table(bool decouple) {
  auto make = [](bool dec) {
    using S = SarlOptions;
    OptionTable<S> t;
    if (dec)
      t.add("rank", &S::rank, "rank d of the low-rank bilinear attention (lineage: 512 / 1024)")
          .range(1, 65536)
          .add("tile", &S::tile, "categories per tile of the decoupling (memory B·P·tile·d)")
          .range(1, 100000)
          .add("score_param", &S::score_param,
               "standard: train w' of e = w'ᵀ tanh(u ⊙ v) directly; rank_scaled: train d·w' "
               "(the same function, a rank-independent Adam step in e; Note [SARL: rank-scaled score])")
          .choices({"standard", "rank_scaled"})
          .add("word_kind", &S::word_kind, "descriptor with the category word vectors (GloVe)");
    t.add("projection", &S::projection, "feature -> text-space projection")
        .choices({"per_category", "shared"})
        .add("proj_init", &S::proj_init, "identity when C_f = D_t").choices({"identity", "random"})
        .add("text_kind", &S::text_kind, "descriptor with the category text embeddings")
        .add("logit_scale", &S::logit_scale, "τ in τ·cos(g_c, t_c)").range(0.0, 1000.0)
        .add("class_bias", &S::class_bias, "a learnable bias per category after the cosine")
        .include(&S::train, train_table());
    return t;
  };
  static const OptionTable<SarlOptions> with = make(true), without = make(false);
  return decouple ? with : without;
}

class Sarl final : public Method {
 public:
  Sarl(std::string name, SarlOptions o, SarlVariant v)
      : name_(std::move(name)), o_(std::move(o)), v_(std::move(v)) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    at::Tensor F = maps_of(train, name_);
    at::Tensor y = train_targets(train, ctx, name_);
    const Dataset& ds = *train.dataset;
    const int64_t C = ds.num_classes(), Cf = F.size(2);
    at::Tensor T0 = descriptor(ds, o_.text_kind, name_).to(torch::kFloat);
    if (T0.size(0) != C) throw ConfigError(fmt::format("{}: descriptor {} has {} rows for {} classes", name_, o_.text_kind, T0.size(0), C));
    const int64_t Dt = T0.size(1);
    // Drawn on the CPU's global generator and moved, so every device starts from the same values.
    auto uni = [dev = F.device()](std::vector<int64_t> shape, int64_t fan_in) {
      const double b = 1.0 / std::sqrt(static_cast<double>(fan_in));  // nn.Linear's default range
      return ((torch::rand(shape) * 2 - 1) * b).to(dev);
    };
    params_.clear();
    if (v_.decouple) {
      X_ = descriptor(ds, o_.word_kind, name_).to(torch::kFloat);
      if (X_.size(0) != C) throw ConfigError(fmt::format("{}: descriptor {} has {} rows for {} classes", name_, o_.word_kind, X_.size(0), C));
      // Note [SARL: folded fc3·fc4]: e = (P w)ᵀ tanh(u ⊙ v) + const; the constant cancels in the
      // softmax, so one vector w' = P w is trained instead of P, b_P, w, b_w (same function
      // class; tests/sarl check the identity).
      U_ = uni({Cf, o_.rank}, Cf).requires_grad_();
      V_ = uni({X_.size(1), o_.rank}, X_.size(1)).requires_grad_();
      // Note [SARL: rank-scaled score]: with Adam every entry of w' moves by about lr per step,
      // so the attention score e moves by up to lr·d and the position softmax saturates early at
      // large d (docs/sarl.md, rank sweep). `score_param: rank_scaled` trains w' = d·w_eff and
      // uses w_eff = w'/d: the same initial function and random stream, a step in e of about lr
      // at every rank. Not in the lineage (it trains fc3·fc4 with SGD); `standard` is the default.
      w_ = uni({o_.rank}, o_.rank);
      if (rank_scaled()) w_ = w_ * static_cast<double>(o_.rank);
      w_.requires_grad_();
      params_ = {U_, V_, w_};
    }
    const bool eye = o_.proj_init == "identity" && Cf == Dt;
    if (o_.proj_init == "identity" && Cf != Dt)
      ctx.log(fmt::format("{}: C_f={} != D_t={}, projection initialised at random", name_, Cf, Dt));
    at::Tensor W0 = eye ? torch::eye(Cf, F.options()) : uni({Cf, Dt}, Cf);
    W_ = (o_.projection == "per_category" ? W0.unsqueeze(0).repeat({C, 1, 1}) : W0).clone().requires_grad_();
    params_.push_back(W_);
    // Note [SARL: text vectors]: category-specific prompt learning needs the CLIP text tower;
    // at the feature level each category gets a learnable vector initialised from its text
    // embedding (per_category), or the fixed embeddings plus one shared learnable residual
    // (shared, the analogue of CoOp's unified context).
    if (v_.text == "per_category") {
      Tl_ = T0.clone().requires_grad_();
      params_.push_back(Tl_);
    } else {
      Tfix_ = T0.clone();
      r_ = torch::zeros({Dt}, T0.options()).requires_grad_();
      params_.push_back(r_);
    }
    if (o_.class_bias) {
      b_ = torch::zeros({C}, T0.options()).requires_grad_();
      params_.push_back(b_);
    }
    train_loop(o_.train, params_, [this](const at::Tensor& x) { return forward(x); }, F, y, ctx);
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    if (!W_.defined()) throw Error(name_ + ": predict() before fit()");
    return {predict_batched([this](const at::Tensor& x) { return forward(x); }, maps_of(eval, name_)), {}};
  }

 private:
  at::Tensor forward(const at::Tensor& F) {
    const int64_t B = F.size(0);
    at::Tensor S;  // [B, C, C_f]
    if (v_.decouple) {
      at::Tensor w = rank_scaled() ? w_ / static_cast<double>(o_.rank) : w_;
      S = sarl::semantic_decouple(F, X_, U_, V_, w, o_.tile).features;
    } else {
      const int64_t C = v_.text == "per_category" ? Tl_.size(0) : Tfix_.size(0);
      S = F.mean(1).unsqueeze(1).expand({B, C, F.size(2)});
    }
    at::Tensor g = W_.dim() == 3 ? torch::einsum("bcf,cfd->bcd", {S, W_}) : torch::matmul(S, W_);
    at::Tensor t = v_.text == "per_category" ? Tl_ : Tfix_ + r_;
    at::Tensor cos = (l2_normalize(g, 2) * l2_normalize(t, 1)).sum(2);
    at::Tensor logits = o_.logit_scale * cos;
    return o_.class_bias ? logits + b_ : logits;
  }

  bool rank_scaled() const { return o_.score_param == "rank_scaled"; }

  std::string name_;
  SarlOptions o_;
  SarlVariant v_;
  at::Tensor X_, U_, V_, w_, W_, Tl_, Tfix_, r_, b_;
  std::vector<at::Tensor> params_;
};

// ---- global baselines -----------------------------------------------------------------------

// Note [SARL: global_linear lr]: the pooled features are small in scale, and a from-scratch
// linear head under Adam at 1e-3 stays near chance in 20 epochs; 0.05 is the best of {1e-3,
// 1e-2, 5e-2} on sarl_synth (a choice in the baseline's favour).
struct GlobalLinearOptions {
  TrainOptions train = [] {
    TrainOptions t;
    t.lr = 0.05;
    return t;
  }();
};

const OptionTable<GlobalLinearOptions>& global_linear_table() {
  static const OptionTable<GlobalLinearOptions> table = [] {
    OptionTable<GlobalLinearOptions> t;
    t.include(&GlobalLinearOptions::train, train_table());
    return t;
  }();
  return table;
}

class GlobalLinear final : public Method {
 public:
  explicit GlobalLinear(const GlobalLinearOptions& o) : o_(o.train) {}
  void fit(const DataView& train, const RunContext& ctx) override {
    at::Tensor F = maps_of(train, "global_linear");
    at::Tensor y = train_targets(train, ctx, "global_linear");
    const int64_t Cf = F.size(2), C = train.dataset->num_classes();
    const double b = 1.0 / std::sqrt(static_cast<double>(Cf));
    W_ = ((torch::rand({Cf, C}) * 2 - 1) * b).to(F.device()).requires_grad_();
    b_ = torch::zeros({C}, F.options()).requires_grad_();
    train_loop(o_, {W_, b_}, [this](const at::Tensor& x) { return forward(x); }, F, y, ctx);
  }
  Prediction predict(const DataView& eval, const RunContext&) override {
    if (!W_.defined()) throw Error("global_linear: predict() before fit()");
    return {predict_batched([this](const at::Tensor& x) { return forward(x); }, maps_of(eval, "global_linear")), {}};
  }

 private:
  at::Tensor forward(const at::Tensor& F) { return torch::matmul(F.mean(1), W_) + b_; }
  TrainOptions o_;
  at::Tensor W_, b_;
};

struct ZeroshotOptions {
  std::string text_kind = "text_embedding";
  double logit_scale = 10.0;
};

const OptionTable<ZeroshotOptions>& zeroshot_table() {
  static const OptionTable<ZeroshotOptions> table = [] {
    OptionTable<ZeroshotOptions> t;
    t.add("text_kind", &ZeroshotOptions::text_kind, "descriptor with the category text embeddings")
        .add("logit_scale", &ZeroshotOptions::logit_scale, "scores are logit_scale · cosine")
        .range(0.0, 1000.0);
    return t;
  }();
  return table;
}

class GlobalZeroshot final : public Method {
 public:
  explicit GlobalZeroshot(const ZeroshotOptions& o) : kind_(o.text_kind), scale_(o.logit_scale) {}
  void fit(const DataView& train, const RunContext&) override {
    T_ = descriptor(*train.dataset, kind_, "global_zeroshot").to(torch::kFloat);
  }
  Prediction predict(const DataView& eval, const RunContext&) override {
    at::Tensor g = maps_of(eval, "global_zeroshot").mean(1);
    if (!T_.defined()) throw Error("global_zeroshot: predict() before fit()");
    if (g.size(1) != T_.size(1))
      throw ConfigError(fmt::format("global_zeroshot: feature dimension {} differs from the text "
                                    "embedding dimension {} of descriptor {}", g.size(1), T_.size(1), kind_));
    return {scale_ * torch::matmul(l2_normalize(g), l2_normalize(T_).t()), {}};
  }

 private:
  std::string kind_;
  double scale_;
  at::Tensor T_;
};

}  // namespace

void register_sarl(MethodRegistry& reg) {
  const std::vector<std::string> tags{task_tag(Task::kMultiLabel), "needs:feature_maps", "device:cuda"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), tags.begin(), tags.end());
    return more;
  };
  const auto trained = with({"trains", "needs:multilabels", "needs:descriptor:@text_kind"});
  const auto decoupled = with({"trains", "needs:multilabels", "needs:descriptor:@text_kind",
                               "needs:descriptor:@word_kind"});
  using M = std::unique_ptr<Method>;
  reg.add(make_entry<Method, SarlOptions>(
      {"sarl",
       "SARL: semantic decoupling (low-rank bilinear attention over H·W guided by GloVe) + "
       "category-specific matching (per-category projection, learnable per-category text vector, "
       "cosine, sigmoid); partial BCE or ASL (docs/sarl.md)",
       decoupled},
      sarl_table(true),
      [](const SarlOptions& o) -> M { return std::make_unique<Sarl>("sarl", o, SarlVariant{}); }));
  reg.add(make_entry<Method, SarlOptions>(
      {"sarl_no_decouple",
       "SARL without the decoupling: the mean-pooled map for every category, same matching",
       trained},
      sarl_table(false), [](const SarlOptions& o) -> M {
        return std::make_unique<Sarl>("sarl_no_decouple", o, SarlVariant{false, "per_category"});
      }));
  reg.add(make_entry<Method, SarlOptions>(
      {"sarl_shared_text",
       "SARL with a shared text scheme: fixed text embeddings + one learnable residual for all "
       "categories, instead of per-category text vectors",
       decoupled},
      sarl_table(true), [](const SarlOptions& o) -> M {
        return std::make_unique<Sarl>("sarl_shared_text", o, SarlVariant{true, "shared"});
      }));
  reg.add(make_entry<Method, GlobalLinear>(
      {"global_linear", "mean-pooled feature map -> per-category linear logits, partial BCE or ASL",
       with({"trains", "needs:multilabels"})},
      global_linear_table()));
  reg.add(make_entry<Method, GlobalZeroshot>(
      {"global_zeroshot",
       "cosine of the mean-pooled feature map to the category text embeddings (no training)",
       with({"training_free", "needs:descriptor:@text_kind"})},
      zeroshot_table()));
}

}  // namespace vlb
