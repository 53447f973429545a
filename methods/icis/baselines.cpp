// Training-free injection baselines of the ICIS paper (spec §1.8): ConSE, COSTA, VGSE-WAvg,
// VGSE-SMO. All share the base classifier and the joint head of InjectionMethod.
#include <torch/torch.h>

#include <fmt/format.h>

#include <limits>

#include "vlb/methods/icis.h"
#include "vlb/core/error.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace icis {

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
    // Keep the T most probable seen classes and renormalise (Norouzi et al.'s ConSE); topk's
    // order among equal probabilities does not matter, since equal weights sum the same.
    auto top = p.topk(top_t, 1);
    auto kept = torch::zeros_like(p).scatter_(1, std::get<1>(top), std::get<0>(top));
    p = kept / kept.sum(1, true);
  }
  auto e = p.mm(a_seen);
  return l2_normalize(e).mm(l2_normalize(a_all).t());
}

namespace {

class Costa final : public InjectionMethod {
 public:
  using InjectionMethod::InjectionMethod;

 protected:
  at::Tensor inject(const RunContext&) override {
    return costa_weights(a_unseen_, a_seen_, omega_seen_);
  }
};

class VgseWavg final : public InjectionMethod {
 public:
  VgseWavg(const Params& p, std::string name)
      : InjectionMethod(p, std::move(name)), eta_(p.get_float("eta")),
        norm_scale_(p.get_bool("norm_scale")) {}

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
  VgseSmo(const Params& p, std::string name)
      : InjectionMethod(p, std::move(name)), lr_(p.get_float("smo_lr")),
        max_iter_(p.get_int("smo_max_iter")), norm_scale_(p.get_bool("norm_scale")) {}

 protected:
  at::Tensor inject(const RunContext& ctx) override {
    // Per unseen class u, r in R^S minimises MSE(softmax(r) A_s, a_u) by plain SGD; rows are
    // independent, so all classes step together with an explicit gradient:
    // dL/dp = (2/d) A_s e, dL/dr = p * (g - <p, g>).
    const int64_t U = a_unseen_.size(0), S = a_seen_.size(0), d = a_seen_.size(1);
    // Note [VGSE-SMO init]: N(0, 2/S) read as variance 2/S (std sqrt(2/S)) [UNVERIFIED].
    auto r = torch::randn({U, S}, torch::kDouble) * std::sqrt(2.0 / S);
    auto as = a_seen_.to(torch::kDouble), au = a_unseen_.to(torch::kDouble);
    auto active = torch::ones({U, 1}, torch::kDouble);
    std::vector<double> best(U, std::numeric_limits<double>::infinity());
    std::vector<int> counter(U, 0);
    int64_t it = 0;
    for (; it < max_iter_; ++it) {
      auto p = torch::softmax(r, 1);
      auto e = p.mm(as) - au;                         // [U, d]
      auto loss = e.pow(2).mean(1);                   // [U]
      auto g = (2.0 / d) * e.mm(as.t());              // [U, S]
      auto grad = p * (g - (p * g).sum(1, true));
      r = r - lr_ * active * grad;
      // Note [VGSE-SMO stop]: a class stops once its loss failed to improve by 1e-7 more than
      // 10 times in a row (the official counter); capped at smo_max_iter.
      auto lp = loss.contiguous();
      const double* l = lp.data_ptr<double>();
      bool any = false;
      for (int64_t u = 0; u < U; ++u) {
        if (active[u][0].item<double>() == 0) continue;
        if (best[u] - l[u] < 1e-7) ++counter[u]; else counter[u] = 0;
        best[u] = std::min(best[u], l[u]);
        if (counter[u] > 10) active[u][0] = 0.0; else any = true;
      }
      if (!any) break;
    }
    ctx.log(fmt::format("vgse_smo: {} SGD steps", it));
    auto w = torch::softmax(r, 1).to(torch::kFloat).mm(omega_seen_);
    return norm_scale_ ? norm_scale_heuristic(w) : w;
  }

 private:
  double lr_;
  int64_t max_iter_;
  bool norm_scale_;
};

class Conse final : public InjectionMethod {
 public:
  Conse(const Params& p, std::string name)
      : InjectionMethod(p, std::move(name)), top_t_(p.get_int("top_t")) {}

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard ng;
    const int64_t d1 = omega_seen_.size(1);
    auto logits = torch::addmm(omega_seen_.select(1, d1 - 1), eval.features(),
                               omega_seen_.narrow(1, 0, d1 - 1).t());
    auto scores = conse_scores(logits, a_seen_, a_all_, top_t_);
    auto member = torch::zeros({num_classes_}, torch::kBool);
    member.index_fill_(0, seen_, true).index_fill_(0, unseen_, true);
    scores.masked_fill_(member.logical_not().unsqueeze(0), -std::numeric_limits<float>::infinity());
    return {scores, {}};
  }

 protected:
  // ConSE injects no weights: it scores by descriptor similarity (predict above).
  at::Tensor inject(const RunContext&) override {
    return torch::zeros({a_unseen_.size(0), omega_seen_.size(1)});
  }

 private:
  int64_t top_t_;
};

template <class T>
RegistryEntry<Method> entry(const std::string& name, const std::string& help,
                            const std::function<void(ParamSchema&)>& extra = {}) {
  RegistryEntry<Method> e;
  e.name = name;
  e.help = help;
  e.version = "1";
  add_common_params(e.schema);
  if (extra) extra(e.schema);
  e.tags = {task_tag(Task::kGzsl), "trains"};
  e.factory = [name](const Params& p) -> std::unique_ptr<Method> {
    return std::make_unique<T>(p, name);
  };
  return e;
}

}  // namespace
}  // namespace icis

void register_conse(MethodRegistry& reg) {
  reg.add(icis::entry<icis::Conse>(
      "conse", "ConSE: softmax-weighted seen descriptors, cosine to every class descriptor",
      [](ParamSchema& s) {
        // Note [ConSE top_t]: the ICIS repo weights all seen classes (top_t 0, the default);
        // the original ConSE keeps the T most probable ones (T = 10 there). With a flat
        // base-classifier softmax (L2-normalised CLIP features) the all-class mean is nearly
        // the same for every image and ConSE falls to chance; docs/icis.md.
        s.add_int("top_t", 0, 0, 1 << 20,
                  "0: weight every seen class (ICIS repo). T > 0: keep the T most probable seen "
                  "classes, renormalised (original ConSE)");
      }));
}

void register_costa(MethodRegistry& reg) {
  reg.add(icis::entry<icis::Costa>(
      "costa", "COSTA: unseen weights = descriptor-similarity-weighted seen classifier rows"));
}

void register_vgse_wavg(MethodRegistry& reg) {
  reg.add(icis::entry<icis::VgseWavg>(
      "vgse_wavg", "VGSE-WAvg: exp(-eta * descriptor distance) weighted seen classifier rows",
      [](ParamSchema& s) {
        s.add_float("eta", 5.0, 0.0, std::nullopt, "distance temperature")
            .add_bool("norm_scale", true, "rescale injected rows to 1/(10 * mean row norm)");
      }));
}

void register_vgse_smo(MethodRegistry& reg) {
  reg.add(icis::entry<icis::VgseSmo>(
      "vgse_smo", "VGSE-SMO: per unseen class, softmax mixture of seen descriptors fitted by SGD",
      [](ParamSchema& s) {
        s.add_float("smo_lr", 1000.0, 1e-6, 1e9, "SGD learning rate")
            .add_int("smo_max_iter", 5000, 1, 10000000, "SGD step cap")
            .add_bool("norm_scale", true, "rescale injected rows to 1/(10 * mean row norm)");
      }));
}

void register_icis_baselines(MethodRegistry& reg) {
  register_conse(reg);
  register_costa(reg);
  register_vgse_wavg(reg);
  register_vgse_smo(reg);
}

}  // namespace vlb
