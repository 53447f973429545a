// The ICIS methods (Christensen et al., "Image-free Classifier Injection for Zero-Shot
// Classification", ICCV 2023): joint attribute/weight autoencoders whose cross-modal path a -> w
// injects unseen-class classifier rows. The same trainer, with the auxiliary terms switched off,
// is the single-MLP baseline (MSE or cosine) and Sub.Reg.; the training-free baselines the paper
// compares with (ConSE, COSTA, VGSE-WAvg, VGSE-SMO) follow. The arithmetic lives in blocks.cpp.
#include <torch/torch.h>

#include <fmt/format.h>

#include <functional>
#include <limits>
#include <memory>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/methods/icis.h"
#include "vlb/methods/impl/fused_train.h"
#include "vlb/methods/impl/minibatch.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace icis {
namespace {

// ---- the trained injectors: icis, mlp_injector, subreg ---------------------------------------

// How the a -> [w|b] injector is trained; the member defaults are ICIS's.
struct InjectorOptions {
  std::string architecture = "joint";
  std::string loss = "cosine";
  bool include_unseen = true;
  double w_aa = 1.0;
  double w_wa = 1.0;
  double w_ww = 1.0;
  double w_aw = 1.0;
  double subreg_weight = 0.0;
  int64_t hidden = 2048;
  double lr = 1e-5;
  int64_t batch_size = 16;
  int64_t epochs = 1000;
  bool early_stopping = true;
};

// The single MLP a -> [w|b] regressed with MSE on the seen rows only, optionally with Sub.Reg.
InjectorOptions single_mlp(double subreg_weight) {
  InjectorOptions o;
  o.architecture = "mlp";
  o.loss = "mse";
  o.include_unseen = false;
  o.subreg_weight = subreg_weight;
  return o;
}

const OptionTable<InjectorOptions>& injector_options() {
  static const auto table = [] {
    using O = InjectorOptions;
    OptionTable<O> t;
    t.add("architecture", &O::architecture,
          "joint: attribute + weight autoencoders (ICIS); mlp: a single MLP a -> [w|b] "
          "(only the cross-modal a->w term)")
        .choices({"joint", "mlp"})
        .add("loss", &O::loss, "per-row loss: 1 - cos, or mean squared error")
        .choices({"cosine", "mse"})
        .add("include_unseen", &O::include_unseen,
             "add the unseen classes' descriptors to the attribute autoencoder (L_aa only)")
        .add("w_aa", &O::w_aa, "weight of L_aa (attribute auto-reconstruction)").min(0.0)
        .add("w_wa", &O::w_wa, "weight of L_wa (weight -> attribute); 0 = single-modal ablation")
        .min(0.0)
        .add("w_ww", &O::w_ww, "weight of L_ww (weight auto-reconstruction)").min(0.0)
        .add("w_aw", &O::w_aw, "weight of L_aw (attribute -> weight, the injector)").min(0.0)
        .add("subreg_weight", &O::subreg_weight,
             "subspace-projection regulariser weight (Sub.Reg.; official 0.001)")
        .min(0.0)
        .add("hidden", &O::hidden, "hidden / latent size h").range(1, 65536)
        .add("lr", &O::lr, "Adam learning rate").range(1e-9, 10.0)
        .add("batch_size", &O::batch_size, "classes per mini-batch (16 CUB/SUN, 20 AWA2)")
        .range(1, 1 << 20)
        .add("epochs", &O::epochs, "maximum epochs").range(1, 1000000)
        .add("early_stopping", &O::early_stopping,
             "the official loss-slope early stop (patience 5)");
    return t;
  }();
  return table;
}

// The three trained methods share one options struct and differ only in the injector defaults,
// which each entry's table reads from its prototype.
struct TrainedOptions {
  InjectionOptions injection;
  InjectorOptions injector;
};

OptionTable<TrainedOptions> trained_options(InjectorOptions defaults) {
  OptionTable<TrainedOptions> t(TrainedOptions{InjectionOptions{}, defaults});
  t.include(&TrainedOptions::injection, injection_options())
      .include(&TrainedOptions::injector, injector_options());
  return t;
}

// A linear layer as plain tensors: nn::Linear's forward, without the module, whose to(device)
// cannot move parameters to every kind of device (set_data refuses some tensor types).
struct Linear {
  at::Tensor weight, bias;
  at::Tensor forward(const at::Tensor& x) const { return torch::linear(x, weight, bias); }
};

// nn.Linear's own init (kaiming_uniform_ weight, uniform_ bias), then util.weights_init's
// N(0, 0.02) weight and zero bias, made on the CPU and moved to `device`. The module's
// constructor draws its init from the global generator, which a member trained together must not
// use: for any other `gen` the same draws are made again from it, so that either way the stream
// is the one the official code draws.
Linear make_linear(int64_t in, int64_t out, at::Generator& gen, const at::Device& device) {
  torch::nn::Linear l(in, out);
  torch::NoGradGuard ng;
  if (gen.unsafeGetGeneratorImpl() !=
      at::detail::getDefaultCPUGenerator().unsafeGetGeneratorImpl()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    l->weight.uniform_(-bound, bound, gen);
    l->bias.uniform_(-bound, bound, gen);
  }
  l->weight.normal_(0.0, 0.02, gen);
  l->bias.zero_();
  return {l->weight.detach().to(device).requires_grad_(), l->bias.detach().to(device).requires_grad_()};
}

class Injector final : public InjectionMethod {
 public:
  Injector(const InjectionOptions& common, const InjectorOptions& o, std::string name)
      : InjectionMethod(common, std::move(name)),
        o_(o),
        joint_(o.architecture == "joint"),
        cosine_(o.loss == "cosine") {}

 protected:
  at::Tensor inject(const RunContext& ctx) override {
    torch::AutoGradMode grad(true);
    const int64_t S = a_seen_.size(0), da = a_seen_.size(1), d1 = omega_seen_.size(1);
    const auto opts = a_seen_.options();
    // Rows: seen classes with their real weights, then (include_unseen) unseen classes with a
    // zero placeholder and mask 0, which only feed L_aa.
    auto a = a_seen_, w = omega_seen_, mask = torch::ones({S}, opts);
    if (o_.include_unseen) {
      a = torch::cat({a_seen_, a_unseen_});
      w = torch::cat({omega_seen_, torch::zeros({a_unseen_.size(0), d1}, opts)});
      mask = torch::cat({mask, torch::zeros({a_unseen_.size(0)}, opts)});
    }
    // Creation order E_a, D_a, E_w, D_w (as the official joint model) fixes the init stream;
    // drawn on the CPU and moved, so every device starts from the same values.
    at::Generator gen = generator_of(ctx);
    auto enc_a = make_linear(da, o_.hidden, gen, opts.device());
    auto dec_a = make_linear(o_.hidden, da, gen, opts.device());
    auto enc_w = make_linear(d1, o_.hidden, gen, opts.device());
    auto dec_w = make_linear(o_.hidden, d1, gen, opts.device());
    at::Tensor q;
    if (o_.subreg_weight > 0) q = seen_subspace_basis(omega_seen_);
    // One Adam step on a batch, returning its loss, and the injected rows after training: the
    // fused trainer on the CPU by default, LibTorch autograd as the reference
    // (set_autograd_reference) and on any other device (the fused trainer is host code).
    std::function<double(const at::Tensor&)> step;
    std::function<at::Tensor()> result;
    std::unique_ptr<FusedInjector> fused;
    std::unique_ptr<torch::optim::Adam> opt;
    if (!autograd_reference() && opts.device().is_cpu()) {
      FusedInjectorConfig c;
      c.joint = joint_;
      c.cosine = cosine_;
      c.w_aa = o_.w_aa, c.w_wa = o_.w_wa, c.w_ww = o_.w_ww, c.w_aw = o_.w_aw;
      c.subreg_weight = o_.subreg_weight;
      c.lr = o_.lr;
      c.max_batch = o_.batch_size;
      std::vector<at::Tensor> layers;
      for (auto* l : {&enc_a, &dec_a, &enc_w, &dec_w})
        layers.insert(layers.end(), {l->weight.detach(), l->bias.detach()});
      fused = std::make_unique<FusedInjector>(c, a, w, mask, layers, q);
      step = [&](const at::Tensor& idx) { return fused->step(idx); };
      result = [&] { return fused->predict(a_unseen_); };
    } else {
      std::vector<at::Tensor> params;
      for (auto* m : {&enc_a, &dec_w}) params.insert(params.end(), {m->weight, m->bias});
      if (joint_)
        for (auto* m : {&dec_a, &enc_w}) params.insert(params.end(), {m->weight, m->bias});
      opt = std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(o_.lr).betas(std::make_tuple(0.9, 0.999)));
      step = [&](const at::Tensor& idx) {
        return reference_step(*opt, enc_a, dec_a, enc_w, dec_w, a, w, mask, q, idx);
      };
      result = [&] {
        torch::NoGradGuard ng;
        return dec_w.forward(torch::relu(enc_a.forward(a_unseen_)));
      };
    }

    // Note [early-stop threshold]: literally 2*10e-4 (cosine) / 2*10e-7 (MSE) in the official code.
    SlopeEarlyStop stopper(cosine_ ? 2 * 10e-4 : 2 * 10e-7);
    MiniBatches batches(a.size(0), MiniBatchOptions{o_.batch_size, 1, opts.device().str()}, gen);
    int64_t epoch = 0;
    for (; epoch < o_.epochs; ++epoch) {
      double sum = 0;
      int64_t count = 0;
      for (const auto& idx : batches.epoch()) {
        sum += step(idx);
        ++count;
      }
      if (o_.early_stopping && stopper.update(sum / count)) {
        ++epoch;
        break;
      } else if (!o_.early_stopping) {
        stopper.update(sum / count);
      }
    }
    epochs_run_ = epoch;
    final_loss_ = stopper.losses().empty() ? 0.0 : stopper.losses().back();
    ctx.log(fmt::format("{}: {} epochs, final loss {:.6f}", name_, epochs_run_, final_loss_));
    return result();
  }

  // One autograd step of the reference path; returns the batch loss.
  double reference_step(torch::optim::Adam& opt, const Linear& enc_a, const Linear& dec_a,
                        const Linear& enc_w, const Linear& dec_w, const at::Tensor& a,
                        const at::Tensor& w, const at::Tensor& mask, const at::Tensor& q,
                        const at::Tensor& idx) {
    auto ab = a.index_select(0, idx), wb = w.index_select(0, idx), mb = mask.index_select(0, idx);
    opt.zero_grad();
    auto z_a = torch::relu(enc_a.forward(ab));
    auto w_aw = dec_w.forward(z_a);
    at::Tensor loss;
    if (joint_) {
      auto z_w = torch::relu(enc_w.forward(wb));
      auto l = joint_losses(ab, wb, mb, dec_a.forward(z_a), dec_a.forward(z_w),
                            dec_w.forward(z_w), w_aw, cosine_);
      loss = o_.w_aa * l.aa + o_.w_wa * l.wa + o_.w_ww * l.ww + o_.w_aw * l.aw;
      // Joint Sub.Reg.: Frobenius norm over the batch (joint_latent.py).
      if (o_.subreg_weight > 0) loss = loss + o_.subreg_weight * off_subspace(w_aw, q).norm();
    } else {
      auto m = mb.to(torch::kFloat);
      loss = o_.w_aw * (row_loss(w_aw, wb, cosine_) * m).sum() / m.sum().clamp_min(1.0);
      // Single-MLP Sub.Reg.: mean over rows of the per-row L2 norm.
      if (o_.subreg_weight > 0)
        loss = loss + o_.subreg_weight * off_subspace(w_aw, q).norm(2, {1}).mean();
    }
    loss.backward();
    opt.step();
    return loss.item<double>();
  }

  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    Prediction p = InjectionMethod::predict(eval, ctx);
    p.aux["epochs_run"] = torch::tensor({epochs_run_}, torch::kLong);
    p.aux["final_loss"] = torch::tensor({final_loss_}, torch::kDouble);
    return p;
  }

 private:
  InjectorOptions o_;
  bool joint_, cosine_;
  int64_t epochs_run_ = 0;
  double final_loss_ = 0;
};

// One Injector class serves three entries, so the entry hands it its name.
RegistryEntry<Method> injector_entry(EntryInfo info, InjectorOptions defaults) {
  return make_entry<Method, TrainedOptions>(
      info, trained_options(defaults),
      [name = info.name](const TrainedOptions& o) -> std::unique_ptr<Method> {
        return std::make_unique<Injector>(o.injection, o.injector, name);
      });
}

// ---- the training-free baselines: conse, costa, vgse_wavg, vgse_smo ----------------------------

struct CostaOptions {
  InjectionOptions injection;
};

const OptionTable<CostaOptions>& costa_options() {
  static const auto table = [] {
    OptionTable<CostaOptions> t;
    t.include(&CostaOptions::injection, injection_options());
    return t;
  }();
  return table;
}

struct ConseOptions {
  InjectionOptions injection;
  int64_t top_t = 0;
};

const OptionTable<ConseOptions>& conse_options() {
  static const auto table = [] {
    OptionTable<ConseOptions> t;
    // Note [ConSE top_t]: the ICIS repo weights all seen classes (top_t 0, the default);
    // the original ConSE keeps the T most probable ones (T = 10 there). With a flat
    // base-classifier softmax (L2-normalized CLIP features) the all-class mean is nearly
    // the same for every image and ConSE falls to chance; docs/icis.md.
    t.include(&ConseOptions::injection, injection_options())
        .add("top_t", &ConseOptions::top_t,
             "0: weight every seen class (ICIS repo). T > 0: keep the T most probable seen "
             "classes, renormalized (original ConSE)")
        .range(0, 1 << 20);
    return t;
  }();
  return table;
}

struct VgseWavgOptions {
  InjectionOptions injection;
  double eta = 5.0;
  bool norm_scale = true;
};

const OptionTable<VgseWavgOptions>& vgse_wavg_options() {
  static const auto table = [] {
    using O = VgseWavgOptions;
    OptionTable<O> t;
    t.include(&O::injection, injection_options())
        .add("eta", &O::eta, "distance temperature").min(0.0)
        .add("norm_scale", &O::norm_scale, "rescale injected rows to 1/(10 * mean row norm)");
    return t;
  }();
  return table;
}

struct VgseSmoOptions {
  InjectionOptions injection;
  double smo_lr = 1000.0;
  int64_t smo_max_iter = 5000;
  bool norm_scale = true;
};

const OptionTable<VgseSmoOptions>& vgse_smo_options() {
  static const auto table = [] {
    using O = VgseSmoOptions;
    OptionTable<O> t;
    t.include(&O::injection, injection_options())
        .add("smo_lr", &O::smo_lr, "SGD learning rate").range(1e-6, 1e9)
        .add("smo_max_iter", &O::smo_max_iter, "SGD step cap").range(1, 10000000)
        .add("norm_scale", &O::norm_scale, "rescale injected rows to 1/(10 * mean row norm)");
    return t;
  }();
  return table;
}

class Costa final : public InjectionMethod {
 public:
  explicit Costa(const CostaOptions& o) : InjectionMethod(o.injection, "costa") {}

 protected:
  at::Tensor inject(const RunContext&) override {
    return costa_weights(a_unseen_, a_seen_, omega_seen_);
  }
};

class VgseWavg final : public InjectionMethod {
 public:
  explicit VgseWavg(const VgseWavgOptions& o)
      : InjectionMethod(o.injection, "vgse_wavg"), eta_(o.eta), norm_scale_(o.norm_scale) {}

 protected:
  at::Tensor inject(const RunContext&) override {
    // Note [VGSE neighbours]: all seen classes are averaged; the official --vgse_nbs is unused.
    auto w = wavg_weights(a_unseen_, a_seen_, omega_seen_, eta_);
    return norm_scale_ ? norm_scale_heuristic(w) : w;
  }

 private:
  double eta_;
  bool norm_scale_;
};

class VgseSmo final : public InjectionMethod {
 public:
  explicit VgseSmo(const VgseSmoOptions& o)
      : InjectionMethod(o.injection, "vgse_smo"),
        lr_(o.smo_lr),
        max_iter_(o.smo_max_iter),
        norm_scale_(o.norm_scale) {}

 protected:
  at::Tensor inject(const RunContext& ctx) override {
    // Per unseen class u, r in R^S minimises MSE(softmax(r) A_s, a_u) by plain SGD; rows are
    // independent, so all classes step together with an explicit gradient:
    // dL/dp = (2/d) A_s e, dL/dr = p * (g - <p, g>).
    const int64_t U = a_unseen_.size(0), S = a_seen_.size(0), d = a_seen_.size(1);
    // Note [VGSE-SMO init]: N(0, 2/S) read as variance 2/S (std sqrt(2/S)) [UNVERIFIED]. Drawn
    // on the CPU and moved, so every device starts from the same values.
    auto r = (at::randn({U, S}, generator_of(ctx), torch::kDouble) * std::sqrt(2.0 / S))
                 .to(a_seen_.device());
    auto as = a_seen_.to(torch::kDouble), au = a_unseen_.to(torch::kDouble);
    // Note [VGSE-SMO stop]: a class stops once its loss failed to improve by 1e-7 more than 10
    // times in a row (the official counter); capped at smo_max_iter. The per-class state stays on
    // the device; a stopped class's r no longer changes, so its state may go on updating unread.
    auto active = torch::ones({U, 1}, as.options());
    auto best = torch::full({U}, std::numeric_limits<double>::infinity(), as.options());
    auto counter = torch::zeros({U}, as.options().dtype(torch::kLong));
    int64_t it = 0;
    for (; it < max_iter_; ++it) {
      auto p = torch::softmax(r, 1);
      auto e = p.mm(as) - au;                         // [U, d]
      auto loss = e.pow(2).mean(1);                   // [U]
      auto g = (2.0 / d) * e.mm(as.t());              // [U, S]
      auto grad = p * (g - (p * g).sum(1, true));
      r = r - lr_ * active * grad;
      counter = torch::where((best - loss).lt(1e-7), counter + 1, torch::zeros_like(counter));
      best = torch::minimum(best, loss);
      active = active * counter.le(10).unsqueeze(1).to(torch::kDouble);
      if (!active.any().item<bool>()) break;
    }
    ctx.log(fmt::format("vgse_smo: {} SGD steps", it));
    steps_ = it;
    auto w = torch::softmax(r, 1).to(torch::kFloat).mm(omega_seen_);
    return norm_scale_ ? norm_scale_heuristic(w) : w;
  }

 public:
  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    Prediction p = InjectionMethod::predict(eval, ctx);
    p.aux["smo_steps"] = torch::tensor({steps_}, torch::kLong);
    return p;
  }

 private:
  double lr_;
  int64_t max_iter_, steps_ = 0;
  bool norm_scale_;
};

class Conse final : public InjectionMethod {
 public:
  explicit Conse(const ConseOptions& o) : InjectionMethod(o.injection, "conse"), top_t_(o.top_t) {}

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard ng;
    const int64_t d1 = omega_seen_.size(1);
    auto logits = torch::addmm(omega_seen_.select(1, d1 - 1), eval.features(),
                               omega_seen_.narrow(1, 0, d1 - 1).t());
    auto scores = conse_scores(logits, a_seen_, a_all_, top_t_);
    auto member = torch::zeros({num_classes_}, seen_.options().dtype(torch::kBool));
    member.index_fill_(0, seen_, true).index_fill_(0, unseen_, true);
    scores.masked_fill_(member.logical_not().unsqueeze(0), -std::numeric_limits<float>::infinity());
    // ConSE scores through the base classifier only: its selected epoch is its one side output.
    return {scores, {{"base_selected_epoch", torch::tensor({base_selected_epoch_}, torch::kLong)}}};
  }

 protected:
  // ConSE injects no weights: it scores by descriptor similarity (predict above).
  at::Tensor inject(const RunContext&) override {
    return torch::zeros({a_unseen_.size(0), omega_seen_.size(1)}, omega_seen_.options());
  }

 private:
  int64_t top_t_;
};

}  // namespace
}  // namespace icis

void register_icis(MethodRegistry& reg) {
  using namespace icis;
  const std::vector<std::string> tags = {task_tag(Task::kGzsl), "trains", "needs:descriptor:@descriptor",
                                         "needs:class_split:@seen_split",
                                         "needs:class_split:@unseen_split", "together",
                                         "device:cuda"};
  reg.add(injector_entry(
      {"icis", "ICIS: joint autoencoders inject unseen-class classifier rows from descriptors",
       tags},
      InjectorOptions{}));
  reg.add(injector_entry(
      {"mlp_injector",
       "single MLP a -> [w|b] regressed on the seen classifier (MSE or cosine)", tags},
      single_mlp(0.0)));
  reg.add(injector_entry(
      {"subreg", "single MLP + subspace-projection regulariser (Sub.Reg., Akyurek et al.)",
       tags},
      single_mlp(0.001)));
  reg.add(make_entry<Method, Conse>(
      {"conse", "ConSE: softmax-weighted seen descriptors, cosine to every class descriptor",
       tags},
      conse_options()));
  reg.add(make_entry<Method, Costa>(
      {"costa", "COSTA: unseen weights = descriptor-similarity-weighted seen classifier rows",
       tags},
      costa_options()));
  reg.add(make_entry<Method, VgseWavg>(
      {"vgse_wavg", "VGSE-WAvg: exp(-eta * descriptor distance) weighted seen classifier rows",
       tags},
      vgse_wavg_options()));
  reg.add(make_entry<Method, VgseSmo>(
      {"vgse_smo",
       "VGSE-SMO: per unseen class, softmax mixture of seen descriptors fitted by SGD", tags},
      vgse_smo_options()));
}

}  // namespace vlb
