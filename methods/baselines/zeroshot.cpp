// Zero-shot CLIP: cosine similarity between an image and each class's text embedding.
#include <torch/torch.h>

#include <fmt/format.h>

#include "vlb/core/error.h"
#include "vlb/methods/method.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

class ZeroShot final : public Method {
 public:
  explicit ZeroShot(const Params& p) : descriptor_(p.get_string("descriptor")) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    const Dataset& ds = *train.dataset;
    const int64_t C = ds.num_classes();
    if (!descriptor_.empty()) {
      auto it = ds.descriptors.find(descriptor_);
      if (it == ds.descriptors.end())
        throw ConfigError(fmt::format("zeroshot: the dataset has no descriptor kind '{}'",
                                      descriptor_));
      classifier_ = l2_normalize(it->second.to(torch::kFloat));
      return;
    }
    const Texts& t = ds.texts;
    if (t.size() == 0 || !t.cls.defined())
      throw DataError(ds.path, "/texts",
                      "zeroshot needs class texts (/texts/features with /texts/class), or set "
                      "params.descriptor to a descriptor kind");
    // Note [prompt ensembling]: as in CLIP, each prompt embedding is normalised, the prompts of a
    // class are averaged, and the mean is normalised again.
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
  std::string descriptor_;
  at::Tensor classifier_;  // [C, D], unit rows
};

}  // namespace

void register_zeroshot(MethodRegistry& reg) {
  RegistryEntry<Method> e;
  e.name = "zeroshot";
  e.help = "Zero-shot CLIP: cosine to class text embeddings (prompt ensemble averaged)";
  e.version = "1";
  e.schema.add_string("descriptor", "", {},
                      "use this descriptor kind as class embeddings instead of /texts prompts");
  e.tags = {task_tag(Task::kClassification), task_tag(Task::kGzsl), "training_free",
            "needs:texts"};
  e.factory = [](const Params& p) { return std::make_unique<ZeroShot>(p); };
  reg.add(std::move(e));
}

}  // namespace vlb
