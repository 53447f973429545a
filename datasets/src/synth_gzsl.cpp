// The seeded synthetic GZSL generator and its dataset source (see vlb/datasets/synth_gzsl.h).
#include "vlb/datasets/synth_gzsl.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>

#include "vlb/core/error.h"
#include "vlb/datasets/cached_source.h"

namespace vlb {
namespace {

at::Tensor l2n(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

// Bump when generate_synth_gzsl's output changes for the same options (cache key).
constexpr const char* kVersion = "1";

const OptionTable<SynthGzslOptions>& gzsl_options() {
  static const OptionTable<SynthGzslOptions> t = [] {
    using O = SynthGzslOptions;
    OptionTable<O> o;
    o.add("classes", &O::classes, "number of classes").range(3, 100000)
        .add("unseen", &O::unseen, "unseen classes (no training rows)").range(1, 100000)
        .add("dim", &O::dim, "feature dimension").range(2, 8192)
        .add("latent_dim", &O::latent_dim, "hidden class code size").range(1, 1024)
        .add("train_per_class", &O::train_per_class, "trainval rows per seen class")
            .range(1, 100000)
        .add("test_per_class", &O::test_per_class, "test rows per class").range(1, 100000)
        .add("spread", &O::spread, "image noise relative to the prototype").range(0.0, 100.0)
        .add("attributes", &O::attributes, "length of the `att` descriptor").range(1, 4096)
        .add("word_dim", &O::word_dim, "length of the `word` descriptor").range(1, 4096)
        .add("attribute_gain", &O::attribute_gain, "tanh gain (nonlinearity)").range(0.0, 100.0)
        .add("attribute_noise", &O::attribute_noise, "descriptor noise std").range(0.0, 100.0)
        .add("seed", &O::seed, "random seed").range(0, 9.0e15);
    return o;
  }();
  return t;
}

}  // namespace

Dataset generate_synth_gzsl(const SynthGzslOptions& o) {
  if (o.classes < 3 || o.unseen < 1 || o.unseen >= o.classes - 1 || o.dim < 2 ||
      o.latent_dim < 1 || o.train_per_class < 1 || o.test_per_class < 1 || o.attributes < 1 ||
      o.word_dim < 1)
    throw ConfigError("synth_gzsl: need classes >= 3, 1 <= unseen <= classes - 2, dim >= 2, "
                      "latent_dim, train/test_per_class, attributes, word_dim >= 1");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  auto randn = [&](at::IntArrayRef size) { return at::randn(size, gen, f32); };
  const int64_t C = o.classes, D = o.dim, K = o.latent_dim;

  auto z = randn({C, K});
  auto protos = l2n(z.mm(randn({K, D})));
  auto att = torch::tanh(o.attribute_gain * z.mm(randn({K, o.attributes})) / std::sqrt(double(K))) +
             o.attribute_noise * randn({C, o.attributes});
  auto word = torch::sin(z.mm(randn({K, o.word_dim})) / std::sqrt(double(K))) +
              2 * o.attribute_noise * randn({C, o.word_dim});
  auto order = at::randperm(C, gen, torch::kLong);
  auto unseen = std::get<0>(order.narrow(0, 0, o.unseen).sort());
  auto seen = std::get<0>(order.narrow(0, o.unseen, C - o.unseen).sort());

  auto images = [&](int64_t c, int64_t n) {
    auto noise = randn({n, D}) * (o.spread / std::sqrt(double(D)));
    return l2n(protos[c].unsqueeze(0) + noise);
  };
  std::vector<at::Tensor> feats, labels;
  int64_t row = 0;
  Dataset ds;
  auto add_split = [&](const std::string& name, const at::Tensor& classes, int64_t per) {
    const int64_t start = row;
    auto cl = classes.contiguous();
    for (int64_t i = 0; i < cl.numel(); ++i) {
      const int64_t c = cl.data_ptr<int64_t>()[i];
      feats.push_back(images(c, per));
      labels.push_back(torch::full({per}, c, torch::kLong));
      row += per;
    }
    ds.splits[name] = torch::arange(start, row, torch::kLong);
  };
  add_split("trainval", seen, o.train_per_class);
  add_split("test_seen", seen, o.test_per_class);
  add_split("test_unseen", unseen, o.test_per_class);
  ds.splits["test"] = torch::cat({ds.splits["test_seen"], ds.splits["test_unseen"]});

  ds.name = "synth_gzsl";
  for (int64_t c = 0; c < C; ++c) ds.class_names.push_back(fmt::format("class_{:03d}", c));
  ds.features = torch::cat(feats);
  ds.label = torch::cat(labels);
  ds.descriptors["att"] = att.contiguous();
  ds.descriptors["word"] = word.contiguous();
  ds.class_splits["seen"] = seen;
  ds.class_splits["unseen"] = unseen;
  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth_gzsl ") + kVersion;
  ds.attrs["source_files"] = "[]";
  ds.attrs["synth_params"] = params_json_text(gzsl_options().to_params(o));
  ds.feature_dtype = "float32";
  return ds;
}

void register_synth_gzsl_source(DatasetRegistry& reg) {
  reg.add(make_generator_entry(
      EntryInfo{"synth_gzsl",
                "seeded synthetic GZSL data: seen/unseen classes, descriptors `att`/`word` that are "
                "nonlinear maps of the classes' hidden codes (cached by parameters)",
                {}, kVersion},
      gzsl_options(), &generate_synth_gzsl));
}

}  // namespace vlb
