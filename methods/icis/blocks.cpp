// The ICIS building blocks (losses, Sub.Reg. projection, early stop, training-free injection
// rules) and the seen/unseen setup, base classifier and joint head shared by every injection
// method (methods/include/vlb/methods/icis.h).
#include "vlb/methods/icis.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <limits>
#include <memory>

#include "vlb/core/error.h"
#include "vlb/methods/impl/fused_train.h"
#include "vlb/methods/impl/minibatch.h"
#include "vlb/methods/impl/ops.h"

namespace vlb::icis {

at::Tensor row_loss(const at::Tensor& x, const at::Tensor& y, bool cosine) {
  if (cosine)
    return 1.0 - torch::nn::functional::cosine_similarity(
                     x, y, torch::nn::functional::CosineSimilarityFuncOptions().dim(1).eps(1e-8));
  return (x - y).pow(2).mean(1);
}

JointLosses joint_losses(const at::Tensor& a, const at::Tensor& w, const at::Tensor& mask,
                         const at::Tensor& a_aa, const at::Tensor& a_wa, const at::Tensor& w_ww,
                         const at::Tensor& w_aw, bool cosine) {
  auto m = mask.to(a.scalar_type());
  auto denom = m.sum().clamp_min(1.0);
  JointLosses l;
  l.aa = row_loss(a_aa, a, cosine).mean();
  l.wa = (row_loss(a_wa, a, cosine) * m).sum() / denom;
  l.ww = (row_loss(w_ww, w, cosine) * m).sum() / denom;
  l.aw = (row_loss(w_aw, w, cosine) * m).sum() / denom;
  return l;
}

at::Tensor seen_subspace_basis(const at::Tensor& omega_seen) {
  // Note [Sub.Reg. projection]: the official code divides x Q by the column norms of Q, which
  // are 1 for a reduced QR, so the projection is x Q Q^T.
  return std::get<0>(torch::linalg_qr(omega_seen.t(), "reduced"));
}

at::Tensor off_subspace(const at::Tensor& x, const at::Tensor& q) {
  return x - x.mm(q).mm(q.t());
}

bool SlopeEarlyStop::update(double epoch_loss) {
  losses_.push_back(epoch_loss);
  const int64_t epoch = static_cast<int64_t>(losses_.size()) - 1;
  if (epoch <= 20) return false;
  double last = 0, prev = 0;
  const size_t n = losses_.size();
  for (size_t i = n - 10; i < n; ++i) last += losses_[i];
  for (size_t i = n - 20; i < n - 10; ++i) prev += losses_[i];
  const double slope = -(last / 10 - prev / 10) / 10;
  counter_ = slope < threshold_ ? counter_ + 1 : 0;
  return counter_ == patience_;
}

at::Tensor costa_weights(const at::Tensor& a_unseen, const at::Tensor& a_seen,
                         const at::Tensor& omega_seen) {
  auto k = a_unseen.mm(a_seen.t());  // [U, S] co-occurrence-like similarities
  return k.mm(omega_seen) / (k.sum(1, true) + 1e-4);
}

at::Tensor wavg_weights(const at::Tensor& a_unseen, const at::Tensor& a_seen,
                        const at::Tensor& omega_seen, double eta) {
  auto dist = torch::cdist(a_unseen.unsqueeze(0), a_seen.unsqueeze(0)).squeeze(0);
  return torch::exp(-eta * dist).mm(omega_seen);
}

at::Tensor norm_scale_heuristic(const at::Tensor& w) {
  return w / (10.0 * w.norm(2, {1}).mean());
}

at::Tensor conse_scores(const at::Tensor& seen_logits, const at::Tensor& a_seen,
                        const at::Tensor& a_all, int64_t top_t) {
  auto p = torch::softmax(seen_logits, 1);
  if (top_t > 0 && top_t < p.size(1)) {
    // Keep the T most probable seen classes and renormalize (Norouzi et al.'s ConSE); topk's
    // order among equal probabilities does not matter, since equal weights sum the same.
    auto top = p.topk(top_t, 1);
    auto kept = torch::zeros_like(p).scatter_(1, std::get<1>(top), std::get<0>(top));
    p = kept / kept.sum(1, true);
  }
  auto e = p.mm(a_seen);
  return l2_normalize(e).mm(l2_normalize(a_all).t());
}

const OptionTable<InjectionOptions>& injection_options() {
  static const auto table = [] {
    using O = InjectionOptions;
    using B = BaseClassifierOptions;
    OptionTable<O> t;
    t.add("descriptor", &O::descriptor, "class descriptor kind (/classes/descriptors/<kind>)")
        .add("descriptor_norm", &O::descriptor_norm,
             "l2: L2-normalize each class descriptor row (official: att columns are unit "
             "norm as stored, wiki2vec/ConceptNet rows are normalized at load)")
        .choices({"l2", "none"})
        .add("seen_split", &O::seen_split, "/class_splits entry of the seen classes")
        .add("unseen_split", &O::unseen_split, "/class_splits entry of the unseen classes")
        .add("base_lr", &O::base, &B::lr, "base classifier: Adam learning rate").range(1e-8, 10.0)
        .add("base_epochs", &O::base, &B::epochs, "base classifier: epochs").range(1, 100000)
        .add("base_batch_size", &O::base, &B::batch_size, "base classifier: mini-batch size")
        .range(1, 1 << 20)
        .add("inject_norm", &O::inject_norm,
             "none (official): use the injected rows as predicted. seen_mean: rescale all "
             "injected [w|b] rows by one factor so that their mean ||w|| equals the seen "
             "classifier's (Note [inject_norm]; a deviation, off by default)")
        .choices({"none", "seen_mean"})
        .add("base_select_split", &O::base_select_split,
             "empty: keep the last base-classifier epoch. A split name (the official code "
             "uses test_seen): keep the epoch with the best per-class accuracy on that "
             "split's seen-class rows. Leaks the test set into the base model; reported as "
             "aux base_selected_epoch");
    return t;
  }();
  return table;
}

at::Tensor train_base_classifier(const at::Tensor& x, const at::Tensor& y_local, int64_t num_seen,
                                 const BaseClassifierOptions& o, const at::Tensor& select_x,
                                 const at::Tensor& select_y, int64_t* selected_epoch,
                                 at::Generator gen) {
  const int64_t n = x.size(0), d = x.size(1);
  // Drawn on the CPU and moved, so every device starts from the same values.
  auto w = at::normal(0.0, 0.02, {num_seen, d}, gen).to(x.device()).requires_grad_(true);
  auto b = torch::zeros({num_seen}, x.options().requires_grad(true));
  // The fused steps on the CPU by default; autograd + torch::optim::Adam as the reference and on
  // any other device. Either way w and b hold the current parameters at the end of each epoch.
  std::unique_ptr<FusedSoftmax> fused;
  std::unique_ptr<torch::optim::Adam> opt;
  if (autograd_reference() || !x.device().is_cpu()) {
    opt = std::make_unique<torch::optim::Adam>(
        std::vector<at::Tensor>{w, b},
        torch::optim::AdamOptions(o.lr).betas(std::make_tuple(0.9, 0.999)));
  } else {
    fused = std::make_unique<FusedSoftmax>(x, y_local, w.detach(), b.detach(), o.lr, o.batch_size);
    w = fused->weight();
    b = fused->bias();
  }
  const bool select = select_x.defined() && select_x.size(0) > 0;
  double best_acc = -1.0;
  at::Tensor best;
  MiniBatches batches(n, MiniBatchOptions{o.batch_size, 1, x.device().str()}, gen);
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    for (const auto& idx : batches.epoch()) {
      if (fused) {
        fused->step(idx);
        continue;
      }
      opt->zero_grad();
      auto logits = torch::addmm(b, x.index_select(0, idx), w.t());
      auto loss = torch::nn::functional::cross_entropy(logits, y_local.index_select(0, idx));
      loss.backward();
      opt->step();
    }
    if (select) {
      torch::NoGradGuard ng;
      auto pred = torch::addmm(b, select_x, w.t()).argmax(1);
      // Per-class mean accuracy over the classes present (argmax ties: lowest index, as torch).
      auto hit = pred.eq(select_y).to(torch::kDouble);
      auto tot = torch::zeros({num_seen}, hit.options()).index_add_(0, select_y, torch::ones_like(hit));
      auto cor = torch::zeros({num_seen}, hit.options()).index_add_(0, select_y, hit);
      auto present = tot.gt(0);
      double acc = (cor.masked_select(present) / tot.masked_select(present)).mean().item<double>();
      if (acc > best_acc) {  // strictly better: the earliest best epoch wins
        best_acc = acc;
        best = torch::cat({w.detach(), b.detach().unsqueeze(1)}, 1).clone();
        if (selected_epoch) *selected_epoch = epoch;
      }
    }
  }
  if (select) return best;
  if (selected_epoch) *selected_epoch = o.epochs - 1;
  return torch::cat({w.detach(), b.detach().unsqueeze(1)}, 1);
}

InjectionMethod::InjectionMethod(const InjectionOptions& o, std::string name)
    : name_(std::move(name)), o_(o) {}

void InjectionMethod::fit(const DataView& train, const RunContext& ctx) {
  const Dataset& ds = *train.dataset;
  num_classes_ = ds.num_classes();
  for (const auto* split : {&o_.seen_split, &o_.unseen_split})
    if (!ds.class_splits.count(*split))
      throw DataError(ds.path, "/class_splits/" + *split,
                      name_ + ": the dataset has no such class split (a GZSL dataset needs "
                              "seen and unseen class splits)");
  seen_ = ds.class_splits.at(o_.seen_split).to(torch::kLong);
  unseen_ = ds.class_splits.at(o_.unseen_split).to(torch::kLong);
  auto it = ds.descriptors.find(o_.descriptor);
  if (it == ds.descriptors.end()) {
    std::string avail;
    for (const auto& kv : ds.descriptors) avail += (avail.empty() ? "" : ", ") + kv.first;
    throw DataError(ds.path, "/classes/descriptors/" + o_.descriptor,
                    fmt::format("{}: no such descriptor kind (available: {})", name_,
                                avail.empty() ? "none" : avail));
  }
  a_all_ = it->second.to(torch::kFloat);
  if (o_.descriptor_norm == "l2") a_all_ = l2_normalize(a_all_);
  a_seen_ = a_all_.index_select(0, seen_);
  a_unseen_ = a_all_.index_select(0, unseen_);

  // Seen class id -> row of the base classifier; training rows must all be seen classes.
  auto local = torch::full({num_classes_}, -1, seen_.options());
  local.index_put_({seen_}, torch::arange(seen_.size(0), seen_.options()));
  auto y = train.label();
  auto y_local = local.index_select(0, y.clamp_min(0));
  auto bad = (y.lt(0) | y_local.lt(0)).nonzero();
  if (bad.size(0) > 0) {
    int64_t r = bad[0][0].item<int64_t>();
    throw DataError(ds.path, "/splits/" + train.split,
                    fmt::format("{}: training row {} (dataset row {}) has label {}, which is not "
                                "a seen class: the base classifier is trained on seen classes only",
                                name_, r, train.rows[r].item<int64_t>(), y[r].item<int64_t>()));
  }
  if (y.numel() == 0) throw ConfigError(name_ + ": the training split '" + train.split + "' is empty");

  at::Tensor sel_x, sel_y;
  if (!o_.base_select_split.empty()) {
    DataView sv = make_view(ds, o_.base_select_split);
    auto sy = local.index_select(0, sv.label().clamp_min(0));
    auto keep = sy.ge(0) & sv.label().ge(0);
    sel_x = sv.features().index({keep});
    sel_y = sy.index({keep});
  }
  omega_seen_ = train_base_classifier(train.features(), y_local, seen_.size(0), o_.base, sel_x,
                                      sel_y, &base_selected_epoch_, generator_of(ctx));
  ctx.log(fmt::format("{}: base classifier over {} seen classes (epoch {})", name_, seen_.size(0),
                      base_selected_epoch_));
  torch::NoGradGuard ng;
  omega_unseen_ = inject(ctx).detach();
  if (!torch::isfinite(omega_unseen_).all().item<bool>())
    throw Error(name_ + ": injected weights are not finite (training diverged)");
  // Note [inject_norm]: nothing in the official code ties the length of an injected row to the
  // seen rows': cosine losses leave it at what the initialisation gives (about 0.06 for D 64,
  // h 256), while a base classifier on L2-normalized features learns rows of length 1-3. Unseen
  // classes then never win the joint argmax (U = 0) although the ZSL head is good. The paper's
  // ResNet regime happens to make the lengths comparable. We record the ratio and, when asked,
  // rescale the injected rows by one factor (relative lengths and [w|b] directions unchanged).
  const int64_t d = omega_seen_.size(1) - 1;
  const double seen_len = omega_seen_.narrow(1, 0, d).norm(2, {1}).mean().item<double>();
  const double inj_len = omega_unseen_.narrow(1, 0, d).norm(2, {1}).mean().item<double>();
  inject_norm_ratio_ = seen_len > 0 ? inj_len / seen_len : 0.0;
  if (o_.inject_norm == "seen_mean" && inj_len > 0) {
    omega_unseen_ = omega_unseen_ * (seen_len / inj_len);
  } else if (inject_norm_ratio_ < 0.25) {
    ctx.log(fmt::format("{}: injected rows are {:.3g}x the length of the seen rows; unseen classes "
                        "will rarely win the joint head (GZSL U near 0). inject_norm: seen_mean "
                        "rescales them (docs/icis.md)",
                        name_, inject_norm_ratio_));
  }
}

Prediction InjectionMethod::predict(const DataView& eval, const RunContext&) {
  torch::NoGradGuard ng;
  const int64_t d1 = omega_seen_.size(1);
  // Classes in neither split are not part of the GZSL head: -inf scores.
  auto omega = torch::zeros({num_classes_, d1}, omega_seen_.options());
  omega.index_copy_(0, seen_, omega_seen_);
  omega.index_copy_(0, unseen_, omega_unseen_);
  auto member = torch::zeros({num_classes_}, seen_.options().dtype(torch::kBool));
  member.index_fill_(0, seen_, true).index_fill_(0, unseen_, true);
  auto w = omega.narrow(1, 0, d1 - 1);
  auto b = omega.select(1, d1 - 1);
  auto scores = torch::addmm(b, eval.features(), w.t());
  scores.masked_fill_(member.logical_not().unsqueeze(0),
                      -std::numeric_limits<float>::infinity());
  Prediction p{scores, {}};
  p.aux["base_selected_epoch"] = torch::tensor({base_selected_epoch_});
  p.aux["inject_norm_ratio"] = torch::tensor({inject_norm_ratio_});
  return p;
}

}  // namespace vlb::icis
