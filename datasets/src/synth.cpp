// The seeded synthetic generator and the `synth` source; see Note [synthetic CLIP-like features]
// in synth.h.
#include "vlb/datasets/synth.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "vlb/core/error.h"
#include "vlb/datasets/cached_source.h"

namespace vlb {
namespace {

// Bump when generate_synth's output changes for the same options, so stale caches are not reused.
constexpr const char* kVersion = "1";

const OptionTable<SynthOptions>& synth_options() {
  static const OptionTable<SynthOptions> t = [] {
    using O = SynthOptions;
    OptionTable<O> o;
    o.add("classes", &O::classes, "number of classes").range(2, 10000)
        .add("dim", &O::dim, "feature dimension").range(2, 8192)
        .add("train_per_class", &O::train_per_class, "train images per class").range(1, 100000)
        .add("val_per_class", &O::val_per_class, "val images per class (0: no val)")
            .range(0, 100000)
        .add("test_per_class", &O::test_per_class, "test images per class").range(1, 100000)
        .add("spread", &O::spread, "within-class noise, relative to prototype norm")
            .range(0.0, 100.0)
        .add("nuisance_dims", &O::nuisance_dims, "shared high-variance directions").range(0, 1024)
        .add("nuisance_scale", &O::nuisance_scale, "std of the nuisance directions")
            .range(0.0, 100.0)
        .add("modality_gap", &O::modality_gap, "norm of the image->text shift").range(0.0, 100.0)
        .add("text_noise", &O::text_noise, "class text distance from prototype").range(0.0, 100.0)
        .add("templates", &O::templates, "prompt templates per class").range(1, 1000)
        .add("template_noise", &O::template_noise, "per-template offset scale").range(0.0, 100.0)
        .add("attributes", &O::attributes, "attribute descriptor length").range(1, 4096)
        .add("attribute_noise", &O::attribute_noise, "attribute descriptor noise").range(0.0, 100.0)
        .add("seed", &O::seed, "random seed").range(0, 9.0e15);
    return o;
  }();
  return t;
}

at::Tensor l2n(const at::Tensor& x) {
  return x / x.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12);
}

}  // namespace

Dataset generate_synth(const SynthOptions& o) {
  if (o.classes < 2 || o.dim < 2 || o.train_per_class < 1 || o.test_per_class < 1 ||
      o.val_per_class < 0 || o.templates < 1 || o.attributes < 1 || o.nuisance_dims < 0)
    throw ConfigError("synth: classes/dim >= 2, train/test_per_class >= 1, templates >= 1 and "
                      "attributes >= 1 are required");
  // A private generator: results depend on o.seed only, not on global torch state.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  auto randn = [&](at::IntArrayRef size) { return at::randn(size, gen, f32); };
  const int64_t C = o.classes, D = o.dim;
  const double inv_sqrt_d = 1.0 / std::sqrt(static_cast<double>(D));

  at::Tensor protos = l2n(randn({C, D}));
  // Shared nuisance directions: an orthonormal basis [k, D] (k <= D).
  const int64_t k = std::min(o.nuisance_dims, D);
  at::Tensor nuisance;
  if (k > 0) nuisance = std::get<0>(at::linalg_qr(randn({D, k}))).t().contiguous();

  Dataset ds;
  ds.name = "synth";
  for (int64_t c = 0; c < C; ++c) ds.class_names.push_back(fmt::format("class_{:03d}", c));

  std::vector<at::Tensor> feats, labels;
  int64_t row = 0;
  // Splits occupy consecutive row ranges, so their indices are sorted by construction.
  for (auto [name, per_class] : {std::pair<const char*, int64_t>{"train", o.train_per_class},
                                 {"val", o.val_per_class},
                                 {"test", o.test_per_class}}) {
    if (per_class == 0) continue;
    const int64_t n = C * per_class;
    at::Tensor y = torch::arange(C, torch::kLong).repeat_interleave(per_class);
    at::Tensor x = protos.index_select(0, y) + o.spread * inv_sqrt_d * randn({n, D});
    if (k > 0) x = x + (o.nuisance_scale * randn({n, k})).matmul(nuisance);
    feats.push_back(l2n(x));
    labels.push_back(y);
    ds.splits[name] = torch::arange(row, row + n, torch::kLong);
    row += n;
  }
  ds.features = torch::cat(feats);
  ds.label = torch::cat(labels);

  // Texts: prototype + per-class noise + per-template offset + the constant modality gap.
  const int64_t T = o.templates;
  at::Tensor gap = l2n(randn({D})) * o.modality_gap;
  at::Tensor cls_off = o.text_noise * inv_sqrt_d * randn({C, D});
  at::Tensor tmpl_off = o.template_noise * inv_sqrt_d * randn({T, D});
  at::Tensor texts = l2n((protos + cls_off).unsqueeze(1) + tmpl_off.unsqueeze(0) + gap);  // C,T,D
  ds.texts.features = texts.reshape({C * T, D}).contiguous();
  ds.texts.cls = torch::arange(C, torch::kLong).repeat_interleave(T);
  ds.texts.image = torch::full({C * T}, -1, torch::kLong);
  ds.texts.source = torch::zeros({C * T}, torch::kChar);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < T; ++t)
      ds.texts.strings.push_back(fmt::format("a photo of a {} (template {})", ds.class_names[c], t));

  ds.descriptors["text_emb"] = l2n(texts.mean(1));
  at::Tensor attr_map = randn({D, o.attributes}) * inv_sqrt_d;
  ds.descriptors["attributes"] =
      l2n(protos.matmul(attr_map) + o.attribute_noise * randn({C, o.attributes}));

  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth ") + kVersion;
  ds.attrs["source_files"] = "[]";
  ds.attrs["synth_params"] = params_json_text(synth_options().to_params(o));
  ds.feature_dtype = "float32";
  return ds;
}

void register_synth_source(DatasetRegistry& reg) {
  reg.add(make_generator_entry(
      EntryInfo{"synth",
                "seeded synthetic CLIP-like features (cached under the cache dir by parameters)", {},
                kVersion},
      synth_options(), &generate_synth));
}

}  // namespace vlb
