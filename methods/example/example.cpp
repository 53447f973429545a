// The worked example of docs/adding-a-method.md: a k-nearest-neighbour vote over the training
// features, a classic few-shot baseline, as a complete method family in one file.
//
// Everything a method on an existing task shape needs is here: an Options struct whose default
// member initialisers are the parameter defaults, one OptionTable that declares each option once
// (name, range, help), the Method class, and register_example(), which the one line
// `X(example)` in experiments/include/vlb/experiments/builtins.h calls.
#include <torch/torch.h>

#include <limits>
#include <string>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/methods/impl/ops.h"
#include "vlb/methods/method.h"

namespace vlb {
namespace {

struct KnnOptions {
  int64_t k = 5;
  std::string weighting = "uniform";
  double temperature = 0.1;
};

const OptionTable<KnnOptions>& knn_options() {
  static const auto table = [] {
    OptionTable<KnnOptions> t;
    t.add("k", &KnnOptions::k, "neighbours that vote (capped at the training rows)").range(1, 100000)
        .add("weighting", &KnnOptions::weighting,
             "uniform: one vote each; similarity: exp(cosine / temperature)")
        .choices({"uniform", "similarity"})
        .add("temperature", &KnnOptions::temperature, "softness of the similarity weights")
        .range(1e-4, 100.0);
    return t;
  }();
  return table;
}

// Note [kNN scores]: the score of class c is the summed weight of the k most similar training
// rows (cosine, ties to the lower training row) that carry label c, so the argmax is the
// weighted majority vote, and classes without a voter score 0.
class Knn final : public Method {
 public:
  explicit Knn(const KnnOptions& o) : o_(o) {}

  void fit(const DataView& train, const RunContext&) override {
    x_ = l2_normalize(train.features());
    y_ = train.label();
    if (y_.numel() == 0) throw ConfigError("knn: the training split '" + train.split + "' is empty");
    num_classes_ = train.dataset->num_classes();
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard no_grad;
    auto sim = torch::mm(l2_normalize(eval.features()), x_.t());
    auto top = stable_topk(sim, o_.k);
    auto w = o_.weighting == "uniform" ? torch::ones_like(top.values)
                                       : torch::exp(top.values / o_.temperature);
    auto scores = torch::zeros({sim.size(0), num_classes_}, sim.options());
    scores.scatter_add_(1, y_.index({top.indices}), w);
    return {scores, {}};
  }

 private:
  KnnOptions o_;
  at::Tensor x_, y_;
  int64_t num_classes_ = 0;
};

}  // namespace

void register_example(MethodRegistry& reg) {
  reg.add(make_entry<Method, Knn>(
      {"knn", "k-nearest-neighbour vote over the normalized training features (cosine)",
       {task_tag(Task::kClassification), "training_free", "device:cuda"}},
      knn_options()));
}

}  // namespace vlb
