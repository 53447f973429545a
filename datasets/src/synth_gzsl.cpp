// The seeded synthetic GZSL generator and its dataset source (see vlb/datasets/synth_gzsl.h).
#include "vlb/datasets/cached_source.h"
#include "vlb/datasets/synth_gzsl.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/feature_store.h"


namespace vlb {
namespace {

at::Tensor l2n(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

// Bump when generate_synth_gzsl's output changes for the same options (cache key).
constexpr const char* kVersion = "1";

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
  nlohmann::json params = {{"classes", o.classes},
                           {"unseen", o.unseen},
                           {"dim", o.dim},
                           {"latent_dim", o.latent_dim},
                           {"train_per_class", o.train_per_class},
                           {"test_per_class", o.test_per_class},
                           {"spread", o.spread},
                           {"attributes", o.attributes},
                           {"word_dim", o.word_dim},
                           {"attribute_gain", o.attribute_gain},
                           {"attribute_noise", o.attribute_noise},
                           {"seed", o.seed}};
  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth_gzsl ") + kVersion;
  ds.attrs["source_files"] = "[]";
  ds.attrs["synth_params"] = params.dump();
  ds.feature_dtype = "float32";
  return ds;
}

void register_synth_gzsl_source(DatasetRegistry& reg) {
  const SynthGzslOptions d;
  RegistryEntry<DatasetSource> e;
  e.name = "synth_gzsl";
  e.help = "seeded synthetic GZSL data: seen/unseen classes, descriptors `att`/`word` that are "
           "nonlinear maps of the classes' hidden codes (cached by parameters)";
  e.version = kVersion;
  e.schema.add_int("classes", d.classes, 3, 100000, "number of classes")
      .add_int("unseen", d.unseen, 1, 100000, "unseen classes (no training rows)")
      .add_int("dim", d.dim, 2, 8192, "feature dimension")
      .add_int("latent_dim", d.latent_dim, 1, 1024, "hidden class code size")
      .add_int("train_per_class", d.train_per_class, 1, 100000, "trainval rows per seen class")
      .add_int("test_per_class", d.test_per_class, 1, 100000, "test rows per class")
      .add_float("spread", d.spread, 0.0, 100.0, "image noise relative to the prototype")
      .add_int("attributes", d.attributes, 1, 4096, "length of the `att` descriptor")
      .add_int("word_dim", d.word_dim, 1, 4096, "length of the `word` descriptor")
      .add_float("attribute_gain", d.attribute_gain, 0.0, 100.0, "tanh gain (nonlinearity)")
      .add_float("attribute_noise", d.attribute_noise, 0.0, 100.0, "descriptor noise std")
      .add_int("seed", d.seed, 0, 9.0e15, "random seed");
  e.factory = [](const Params& p) -> std::unique_ptr<DatasetSource> {
    SynthGzslOptions o;
    o.classes = p.get_int("classes");
    o.unseen = p.get_int("unseen");
    o.dim = p.get_int("dim");
    o.latent_dim = p.get_int("latent_dim");
    o.train_per_class = p.get_int("train_per_class");
    o.test_per_class = p.get_int("test_per_class");
    o.spread = p.get_float("spread");
    o.attributes = p.get_int("attributes");
    o.word_dim = p.get_int("word_dim");
    o.attribute_gain = p.get_float("attribute_gain");
    o.attribute_noise = p.get_float("attribute_noise");
    o.seed = p.get_int("seed");
    return make_cached_generator_source("synth_gzsl", kVersion, p, [o] { return generate_synth_gzsl(o); });
  };
  reg.add(std::move(e));
}

}  // namespace vlb
