// The synth_textbank generator and dataset source (datasets/include/vlb/datasets/synth_textbank.h).
#include "vlb/datasets/synth_textbank.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>

#include "vlb/datasets/cached_source.h"

namespace vlb {
namespace {

constexpr const char* kVersion = "1";

at::Tensor l2n(const at::Tensor& x) { return x / x.norm(2, {-1}, true).clamp_min(1e-12); }

}  // namespace

Dataset generate_synth_textbank(const SynthTextBankOptions& o) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  const int64_t C = o.classes + (o.classes % 2), D = o.dim;
  auto randn = [&](at::IntArrayRef s) { return at::randn(s, gen, torch::kFloat); };
  auto noise = [&](double scale) { return randn({D}) * (scale / std::sqrt(static_cast<double>(D))); };

  // Sibling prototypes: p_{2k+1} = s p_{2k} + sqrt(1 - s^2) u, u orthogonal to p_{2k}.
  auto protos = l2n(randn({C, D}));
  for (int64_t k = 0; k + 1 < C; k += 2) {
    auto a = protos[k];
    auto u = protos[k + 1] - (protos[k + 1] * a).sum() * a;
    protos[k + 1] = l2n(o.sibling_cos * a + std::sqrt(1 - o.sibling_cos * o.sibling_cos) * l2n(u));
  }
  auto gap = l2n(randn({D})) * o.modality_gap;
  auto text_of = [&](const at::Tensor& v) { return l2n(l2n(v) + gap); };

  Dataset ds;
  ds.name = "synth_textbank";
  for (int64_t c = 0; c < C; ++c) ds.class_names.push_back(fmt::format("class_{}", c));

  // Images: split blocks in order train, val, test; rows of one class interleaved by class.
  std::vector<at::Tensor> feats, labels;
  int64_t row = 0;
  auto add_split = [&](const std::string& name, int64_t per_class) {
    if (per_class <= 0) return;
    auto y = torch::arange(C, torch::kLong).repeat_interleave(per_class);
    auto x = l2n(protos.index_select(0, y) + randn({C * per_class, D}) * (o.spread / std::sqrt(double(D))));
    feats.push_back(x);
    labels.push_back(y);
    ds.splits[name] = torch::arange(row, row + C * per_class, torch::kLong);
    row += C * per_class;
  };
  add_split("train", o.train_per_class);
  add_split("val", o.val_per_class);
  add_split("test", o.test_per_class);
  ds.features = torch::cat(feats);
  ds.label = torch::cat(labels);

  std::vector<at::Tensor> tf;
  std::vector<int64_t> tcls, tpartner;
  std::vector<int8_t> ttype;
  auto add_text = [&](const at::Tensor& v, int64_t c, TextType t, int64_t partner, std::string s) {
    tf.push_back(text_of(v));
    tcls.push_back(c);
    ttype.push_back(static_cast<int8_t>(t));
    tpartner.push_back(partner);
    ds.texts.strings.push_back(std::move(s));
  };
  auto sibling = [](int64_t c) { return c ^ 1; };
  for (int64_t c = 0; c < C; ++c) {
    const auto& cn = ds.class_names[c];
    add_text(protos[c] + noise(o.name_noise), c, TextType::kName, -1, "a photo of a " + cn);
    for (int64_t a = 0; a < o.attributes; ++a)
      add_text(protos[c] + noise(o.attribute_noise), c, TextType::kAttribute, -1,
               fmt::format("{} which has attribute {}", cn, a));
    const auto n_mis = static_cast<int64_t>(std::llround(o.misleading * o.analogies));
    for (int64_t a = 0; a < o.analogies; ++a) {
      if (a < n_mis) {  // misleading: mostly the sibling
        add_text(0.4 * protos[c] + protos[sibling(c)] + noise(o.name_noise), c, TextType::kAnalogy, -1,
                 fmt::format("a {} similar to {}", cn, ds.class_names[sibling(c)]));
      } else {
        int64_t other = at::randint(C, {1}, gen, torch::kLong).item<int64_t>();
        if (other == c || other == sibling(c)) other = (c + 2) % C;
        add_text(protos[c] + 0.5 * protos[other] + noise(o.name_noise), c, TextType::kAnalogy, -1,
                 fmt::format("a {} similar to {}", cn, ds.class_names[other]));
      }
    }
    for (int64_t s = 0; s < o.synonyms; ++s)
      add_text(protos[c] + noise(o.name_noise), c, TextType::kSynonym, -1,
               fmt::format("a photo of a {} (synonym {})", cn, s));
    if (C > 1)
      for (int64_t p = 0; p < o.pair_texts; ++p)
        add_text(l2n(protos[c] - protos[sibling(c)]) + noise(o.pair_noise), c, TextType::kPair,
                 sibling(c), fmt::format("{} unlike {}: cue {}", cn, ds.class_names[sibling(c)], p));
  }
  for (int64_t b = 0; b < o.bank; ++b)
    add_text(randn({D}), -1, TextType::kOther, -1, fmt::format("bank text {}", b));

  const auto T = static_cast<int64_t>(tf.size());
  ds.texts.features = torch::stack(tf);
  ds.texts.cls = torch::tensor(tcls, torch::kLong);
  ds.texts.partner = torch::tensor(tpartner, torch::kLong);
  ds.texts.type = torch::from_blob(ttype.data(), {T}, torch::kChar).clone();
  ds.texts.image = torch::full({T}, -1, torch::kLong);
  ds.texts.source = torch::zeros({T}, torch::kChar);
  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth_textbank ") + kVersion;
  ds.attrs["source_files"] = "[]";
  return ds;
}

namespace {

const OptionTable<SynthTextBankOptions>& textbank_options() {
  static const OptionTable<SynthTextBankOptions> t = [] {
    using O = SynthTextBankOptions;
    OptionTable<O> o;
    o.add("classes", &O::classes, "classes (rounded up to even: sibling pairs)").range(2, 10000)
        .add("dim", &O::dim, "feature dimension").range(2, 8192)
        .add("train_per_class", &O::train_per_class, "train images per class").range(1, 100000)
        .add("val_per_class", &O::val_per_class, "val images per class (0: no val)")
            .range(0, 100000)
        .add("test_per_class", &O::test_per_class, "test images per class").range(1, 100000)
        .add("spread", &O::spread, "image noise, relative to the prototype norm").range(0.0, 100.0)
        .add("sibling_cos", &O::sibling_cos, "cosine between sibling prototypes").range(-1.0, 1.0)
        .add("modality_gap", &O::modality_gap, "norm of the image->text shift").range(0.0, 100.0)
        .add("name_noise", &O::name_noise, "noise of name/synonym/analogy texts").range(0.0, 100.0)
        .add("attributes", &O::attributes, "attribute texts per class").range(0, 1000)
        .add("attribute_noise", &O::attribute_noise, "noise of attribute texts").range(0.0, 100.0)
        .add("analogies", &O::analogies, "analogy texts per class").range(0, 1000)
        .add("misleading", &O::misleading, "fraction of analogies towards the sibling")
            .range(0.0, 1.0)
        .add("synonyms", &O::synonyms, "synonym texts per class").range(0, 1000)
        .add("pair_texts", &O::pair_texts, "one-vs-one texts per ordered sibling pair")
            .range(0, 1000)
        .add("pair_noise", &O::pair_noise, "noise of pair texts").range(0.0, 100.0)
        .add("bank", &O::bank, "free-standing bank texts").range(0, 1000000)
        .add("seed", &O::seed, "random seed").range(0, 9.0e15);
    return o;
  }();
  return t;
}

}  // namespace

void register_synth_textbank_source(DatasetRegistry& reg) {
  reg.add(make_generator_entry(
      EntryInfo{"synth_textbank",
                "seeded synthetic features with a typed per-class text bank (CODER shape)", {},
                kVersion},
      textbank_options(), &generate_synth_textbank));
}

}  // namespace vlb
