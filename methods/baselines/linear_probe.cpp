// Linear probe: multinomial logistic regression on frozen features, with an L2 penalty.
#include <torch/torch.h>

#include <fmt/format.h>

#include "vlb/core/error.h"
#include "vlb/methods/method.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

// Note [linear probe objective]: mean cross-entropy + (l2 / 2) * ||W||^2 (the bias is not
// penalised). CLIP's paper uses scikit-learn's L-BFGS logistic regression with C swept on a
// validation split; C corresponds to l2 = 1 / (C * n_train) here. We solve the same convex problem
// with LibTorch's L-BFGS (strong Wolfe line search) from a zero start, so the result does not
// depend on the seed; `adam` is a seeded mini-batch alternative for large training sets.
class LinearProbe final : public Method {
 public:
  explicit LinearProbe(const Params& p)
      : optimizer_(p.get_string("optimizer")),
        l2_(p.get_float("l2")),
        max_iter_(p.get_int("max_iter")),
        epochs_(p.get_int("epochs")),
        lr_(p.get_float("lr")),
        batch_size_(p.get_int("batch_size")),
        normalize_(p.get_bool("normalize")) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    auto x = train.features();
    auto y = train.label();
    if (y.numel() == 0)
      throw ConfigError("linear_probe: the training split '" + train.split + "' is empty");
    if (normalize_) x = l2_normalize(x);
    const int64_t C = train.dataset->num_classes();
    W_ = torch::zeros({x.size(1), C}, torch::requires_grad());
    b_ = torch::zeros({C}, torch::requires_grad());
    auto objective = [&](const at::Tensor& xb, const at::Tensor& yb) {
      auto logits = torch::addmm(b_, xb, W_);
      return torch::nn::functional::cross_entropy(logits, yb) + 0.5 * l2_ * W_.pow(2).sum();
    };
    if (optimizer_ == "lbfgs") {
      torch::optim::LBFGS opt({W_, b_}, torch::optim::LBFGSOptions(1.0)
                                             .max_iter(max_iter_)
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
      auto loss = opt.step(closure);
      ctx.log(fmt::format("linear_probe: final objective {:.6f}", loss.item<double>()));
    } else {
      torch::optim::Adam opt({W_, b_}, torch::optim::AdamOptions(lr_));
      const int64_t n = x.size(0);
      for (int64_t epoch = 0; epoch < epochs_; ++epoch) {
        auto perm = torch::randperm(n, torch::kLong);  // global generator, seeded by the runner
        for (int64_t start = 0; start < n; start += batch_size_) {
          auto idx = perm.narrow(0, start, std::min(batch_size_, n - start));
          opt.zero_grad();
          auto loss = objective(x.index_select(0, idx), y.index_select(0, idx));
          loss.backward();
          opt.step();
        }
      }
    }
    W_ = W_.detach();
    b_ = b_.detach();
    if (!torch::isfinite(W_).all().item<bool>())
      throw Error("linear_probe: training diverged (non-finite weights); lower lr or raise l2");
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard no_grad;
    auto x = eval.features();
    if (normalize_) x = l2_normalize(x);
    return {torch::addmm(b_, x, W_), {}};
  }

 private:
  std::string optimizer_;
  double l2_;
  int64_t max_iter_, epochs_;
  double lr_;
  int64_t batch_size_;
  bool normalize_;
  at::Tensor W_, b_;
};

}  // namespace

void register_linear_probe(MethodRegistry& reg) {
  RegistryEntry<Method> e;
  e.name = "linear_probe";
  e.help = "Multinomial logistic regression on frozen features (L2, L-BFGS or seeded Adam)";
  e.version = "1";
  e.schema.add_string("optimizer", "lbfgs", {"lbfgs", "adam"},
                      "lbfgs: full-batch, deterministic; adam: seeded mini-batches")
      .add_float("l2", 1e-4, 0.0, std::nullopt, "L2 penalty on the weights (mean-loss scale)")
      .add_int("max_iter", 300, 1, 100000, "L-BFGS iterations")
      .add_int("epochs", 100, 1, 100000, "Adam epochs")
      .add_float("lr", 1e-3, 1e-8, 10.0, "Adam learning rate")
      .add_int("batch_size", 256, 1, 1 << 20, "Adam mini-batch size")
      .add_bool("normalize", true, "L2-normalise features first");
  e.tags = {task_tag(Task::kClassification), "trains"};
  e.factory = [](const Params& p) { return std::make_unique<LinearProbe>(p); };
  reg.add(std::move(e));
}

}  // namespace vlb
