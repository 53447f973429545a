// Nearest class mean: cosine to the normalised mean of each class's normalised training features.
#include <torch/torch.h>

#include "vlb/core/error.h"
#include "vlb/methods/method.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

class NearestClassMean final : public Method {
 public:
  explicit NearestClassMean(const Params& p) : normalize_(p.get_bool("normalize")) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    auto x = train.features();
    auto y = train.label();
    if (y.numel() == 0) throw ConfigError("ncm: the training split '" + train.split + "' is empty");
    if (normalize_) x = l2_normalize(x);
    at::Tensor counts;
    means_ = class_means(x, y, train.dataset->num_classes(), &counts);
    if (normalize_) means_ = l2_normalize(means_);
    // Classes without training rows can never be predicted (unlike a zero mean, which would
    // score 0 and could win when all cosines are negative).
    absent_ = counts.eq(0);
    int64_t n_absent = absent_.sum().item<int64_t>();
    if (n_absent > 0) ctx.log("ncm: " + std::to_string(n_absent) + " classes have no training rows");
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard no_grad;
    auto x = eval.features();
    if (normalize_) x = l2_normalize(x);
    auto scores = torch::mm(x, means_.t());
    scores.masked_fill_(absent_.unsqueeze(0), -std::numeric_limits<float>::infinity());
    return {scores, {}};
  }

 private:
  bool normalize_;
  at::Tensor means_;   // [C, D]
  at::Tensor absent_;  // [C] bool
};

}  // namespace

void register_ncm(MethodRegistry& reg) {
  RegistryEntry<Method> e;
  e.name = "ncm";
  e.help = "Nearest class mean: cosine to normalised class means of the training features";
  e.version = "1";
  e.schema.add_bool("normalize", true,
                    "L2-normalise features and class means (cosine); false = dot product");
  e.tags = {task_tag(Task::kClassification), "training_free"};
  e.factory = [](const Params& p) { return std::make_unique<NearestClassMean>(p); };
  reg.add(std::move(e));
}

}  // namespace vlb
