// ICIS: joint attribute/weight autoencoders whose cross-modal path a -> w injects unseen-class
// classifier rows (spec methods-icis-near-coder.md §1.3-§1.5). The same trainer, with the
// auxiliary terms switched off, is the single-MLP baseline (MSE or cosine) and Sub.Reg.
#include <torch/torch.h>

#include <fmt/format.h>

#include "vlb/methods/icis.h"
#include "vlb/core/error.h"

namespace vlb {
namespace icis {

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

namespace {

torch::nn::Linear make_linear(int64_t in, int64_t out) {
  torch::nn::Linear l(in, out);
  torch::NoGradGuard ng;
  l->weight.normal_(0.0, 0.02);  // util.weights_init: N(0, 0.02), zero bias
  l->bias.zero_();
  return l;
}

class Injector final : public InjectionMethod {
 public:
  Injector(const Params& p, std::string name)
      : InjectionMethod(p, std::move(name)),
        joint_(p.get_string("architecture") == "joint"),
        cosine_(p.get_string("loss") == "cosine"),
        include_unseen_(p.get_bool("include_unseen")),
        w_aa_(p.get_float("w_aa")),
        w_wa_(p.get_float("w_wa")),
        w_ww_(p.get_float("w_ww")),
        w_aw_(p.get_float("w_aw")),
        w_subreg_(p.get_float("subreg_weight")),
        hidden_(p.get_int("hidden")),
        lr_(p.get_float("lr")),
        batch_size_(p.get_int("batch_size")),
        epochs_(p.get_int("epochs")),
        early_stopping_(p.get_bool("early_stopping")) {}

 protected:
  at::Tensor inject(const RunContext& ctx) override {
    torch::AutoGradMode grad(true);
    const int64_t S = a_seen_.size(0), da = a_seen_.size(1), d1 = omega_seen_.size(1);
    // Rows: seen classes with their real weights, then (include_unseen) unseen classes with a
    // zero placeholder and mask 0, which only feed L_aa.
    auto a = a_seen_, w = omega_seen_, mask = torch::ones({S});
    if (include_unseen_) {
      a = torch::cat({a_seen_, a_unseen_});
      w = torch::cat({omega_seen_, torch::zeros({a_unseen_.size(0), d1})});
      mask = torch::cat({mask, torch::zeros({a_unseen_.size(0)})});
    }
    // Creation order E_a, D_a, E_w, D_w (as the official joint model) fixes the init stream.
    auto enc_a = make_linear(da, hidden_);
    auto dec_a = make_linear(hidden_, da);
    auto enc_w = make_linear(d1, hidden_);
    auto dec_w = make_linear(hidden_, d1);
    std::vector<at::Tensor> params;
    for (auto* m : {&enc_a, &dec_w}) for (auto& t : (*m)->parameters()) params.push_back(t);
    if (joint_)
      for (auto* m : {&dec_a, &enc_w}) for (auto& t : (*m)->parameters()) params.push_back(t);
    torch::optim::Adam opt(params, torch::optim::AdamOptions(lr_).betas(std::make_tuple(0.9, 0.999)));
    at::Tensor q;
    if (w_subreg_ > 0) q = seen_subspace_basis(omega_seen_);

    // Note [early-stop threshold]: literally 2*10e-4 (cosine) / 2*10e-7 (MSE) in the official code.
    SlopeEarlyStop stopper(cosine_ ? 2 * 10e-4 : 2 * 10e-7);
    const int64_t n = a.size(0);
    int64_t epoch = 0;
    for (; epoch < epochs_; ++epoch) {
      auto perm = torch::randperm(n, torch::kLong);
      double sum = 0;
      int64_t batches = 0;
      for (int64_t start = 0; start < n; start += batch_size_) {
        auto idx = perm.narrow(0, start, std::min(batch_size_, n - start));
        auto ab = a.index_select(0, idx), wb = w.index_select(0, idx), mb = mask.index_select(0, idx);
        opt.zero_grad();
        auto z_a = torch::relu(enc_a->forward(ab));
        auto w_aw = dec_w->forward(z_a);
        at::Tensor loss;
        if (joint_) {
          auto z_w = torch::relu(enc_w->forward(wb));
          auto l = joint_losses(ab, wb, mb, dec_a->forward(z_a), dec_a->forward(z_w),
                                dec_w->forward(z_w), w_aw, cosine_);
          loss = w_aa_ * l.aa + w_wa_ * l.wa + w_ww_ * l.ww + w_aw_ * l.aw;
          // Joint Sub.Reg.: Frobenius norm over the batch (joint_latent.py).
          if (w_subreg_ > 0) loss = loss + w_subreg_ * off_subspace(w_aw, q).norm();
        } else {
          auto m = mb.to(torch::kFloat);
          loss = w_aw_ * (row_loss(w_aw, wb, cosine_) * m).sum() / m.sum().clamp_min(1.0);
          // Single-MLP Sub.Reg.: mean over rows of the per-row L2 norm.
          if (w_subreg_ > 0)
            loss = loss + w_subreg_ * off_subspace(w_aw, q).norm(2, {1}).mean();
        }
        loss.backward();
        opt.step();
        sum += loss.item<double>();
        ++batches;
      }
      if (early_stopping_ && stopper.update(sum / batches)) {
        ++epoch;
        break;
      } else if (!early_stopping_) {
        stopper.update(sum / batches);
      }
    }
    epochs_run_ = epoch;
    final_loss_ = stopper.losses().empty() ? 0.0 : stopper.losses().back();
    ctx.log(fmt::format("{}: {} epochs, final loss {:.6f}", name_, epochs_run_, final_loss_));
    torch::NoGradGuard ng;
    return dec_w->forward(torch::relu(enc_a->forward(a_unseen_)));
  }

  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    Prediction p = InjectionMethod::predict(eval, ctx);
    p.aux["epochs_run"] = torch::tensor({epochs_run_});
    return p;
  }

 private:
  bool joint_, cosine_, include_unseen_;
  double w_aa_, w_wa_, w_ww_, w_aw_, w_subreg_;
  int64_t hidden_;
  double lr_;
  int64_t batch_size_, epochs_;
  bool early_stopping_;
  int64_t epochs_run_ = 0;
  double final_loss_ = 0;
};

struct InjectorDefaults {
  std::string architecture = "joint", loss = "cosine";
  bool include_unseen = true;
  double subreg = 0.0;
};

RegistryEntry<Method> injector_entry(const std::string& name, const std::string& help,
                                     const InjectorDefaults& d) {
  RegistryEntry<Method> e;
  e.name = name;
  e.help = help;
  e.version = "1";
  add_common_params(e.schema);
  e.schema
      .add_string("architecture", d.architecture, {"joint", "mlp"},
                  "joint: attribute + weight autoencoders (ICIS); mlp: a single MLP a -> [w|b] "
                  "(only the cross-modal a->w term)")
      .add_string("loss", d.loss, {"cosine", "mse"}, "per-row loss: 1 - cos, or mean squared error")
      .add_bool("include_unseen", d.include_unseen,
                "add the unseen classes' descriptors to the attribute autoencoder (L_aa only)")
      .add_float("w_aa", 1.0, 0.0, std::nullopt, "weight of L_aa (attribute auto-reconstruction)")
      .add_float("w_wa", 1.0, 0.0, std::nullopt, "weight of L_wa (weight -> attribute); 0 = single-modal ablation")
      .add_float("w_ww", 1.0, 0.0, std::nullopt, "weight of L_ww (weight auto-reconstruction)")
      .add_float("w_aw", 1.0, 0.0, std::nullopt, "weight of L_aw (attribute -> weight, the injector)")
      .add_float("subreg_weight", d.subreg, 0.0, std::nullopt,
                 "subspace-projection regulariser weight (Sub.Reg.; official 0.001)")
      .add_int("hidden", 2048, 1, 65536, "hidden / latent size h")
      .add_float("lr", 1e-5, 1e-9, 10.0, "Adam learning rate")
      .add_int("batch_size", 16, 1, 1 << 20, "classes per mini-batch (16 CUB/SUN, 20 AWA2)")
      .add_int("epochs", 1000, 1, 1000000, "maximum epochs")
      .add_bool("early_stopping", true, "the official loss-slope early stop (patience 5)");
  e.tags = {task_tag(Task::kGzsl), "trains"};
  e.factory = [name](const Params& p) -> std::unique_ptr<Method> {
    return std::make_unique<Injector>(p, name);
  };
  return e;
}

}  // namespace
}  // namespace icis

void register_icis_trained(MethodRegistry& reg) {
  reg.add(icis::injector_entry(
      "icis", "ICIS: joint autoencoders inject unseen-class classifier rows from descriptors",
      {}));
}

void register_mlp_injector(MethodRegistry& reg) {
  icis::InjectorDefaults d;
  d.architecture = "mlp";
  d.loss = "mse";
  d.include_unseen = false;
  reg.add(icis::injector_entry(
      "mlp_injector", "single MLP a -> [w|b] regressed on the seen classifier (MSE or cosine)", d));
}

void register_subreg(MethodRegistry& reg) {
  icis::InjectorDefaults d;
  d.architecture = "mlp";
  d.loss = "mse";
  d.include_unseen = false;
  d.subreg = 0.001;
  reg.add(icis::injector_entry(
      "subreg", "single MLP + subspace-projection regulariser (Sub.Reg., Akyurek et al.)", d));
}

// The training-free injection baselines live in baselines.cpp.
void register_icis_baselines(MethodRegistry& reg);

void register_icis(MethodRegistry& reg) {
  register_icis_trained(reg);
  register_mlp_injector(reg);
  register_subreg(reg);
  register_icis_baselines(reg);
}

}  // namespace vlb
