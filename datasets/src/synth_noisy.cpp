// The noisy-MLLM-label simulator and the synth_noisy generator / dataset source
// (datasets/include/vlb/datasets/synth_noisy.h).
#include "vlb/datasets/synth_noisy.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <limits>
#include <set>

#include "vlb/core/error.h"
#include "vlb/datasets/cached_source.h"

namespace vlb {
namespace {

// Bump when generate_synth_noisy's output changes for the same options (cache key).
constexpr const char* kVersion = "1";

at::Tensor l2n(const at::Tensor& x) { return x / x.norm(2, {-1}, true).clamp_min(1e-12); }

double uniform(at::Generator& gen) { return at::rand({1}, gen, torch::kDouble).item<double>(); }
int64_t randint(at::Generator& gen, int64_t n) {
  return at::randint(n, {1}, gen, torch::kLong).item<int64_t>();
}

std::string first_word(const std::string& s) { return s.substr(0, s.find(' ')); }
std::string last_word(const std::string& s) {
  auto p = s.rfind(' ');
  return p == std::string::npos ? s : s.substr(p + 1);
}

// Surface forms an MLLM writes for the same name; all canonicalize ("full") to the name.
std::string surface_form(const std::string& name, int64_t which) {
  std::string s = name;
  switch (which % 4) {
    case 0:  // Title Case
      for (size_t i = 0; i < s.size(); ++i)
        if (i == 0 || s[i - 1] == ' ') s[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
      return s;
    case 1: std::replace(s.begin(), s.end(), ' ', '-'); return s;
    case 2: return s + ".";
    default: std::replace(s.begin(), s.end(), ' ', '_'); return s;
  }
}

// Synonym templates: a second name for the same class (index s of class c).
std::string synonym_of(const std::string& name, const std::string& family, int64_t s) {
  switch (s % 4) {
    case 0: return name + " " + family;
    case 1: return "common " + name;
    case 2: return name + " variety";
    default: return "wild " + name;
  }
}

}  // namespace

SimulatedLabels simulate_noisy_labels(const at::Tensor& features, const at::Tensor& label,
                                      const at::Tensor& class_means,
                                      const std::vector<std::string>& class_names,
                                      const std::vector<int64_t>& family,
                                      const std::vector<std::string>& family_names,
                                      const NoisyLabelOptions& o) {
  const int64_t C = static_cast<int64_t>(class_names.size());
  const double other = o.p_synonym + o.p_confusion + o.p_coarse;
  if (o.p_exact < 0 || o.p_exact > 1 || o.p_synonym < 0 || o.p_confusion < 0 || o.p_coarse < 0 ||
      other > 1.0 + 1e-9)
    throw ConfigError(fmt::format(
        "noisy labels: the non-exact shares p_synonym + p_confusion + p_coarse = {} must be <= 1 "
        "(the rest is hallucination), each >= 0, and p_exact in [0, 1]", other));
  if (C < 2) throw ConfigError("noisy labels: need at least 2 classes");
  if (class_means.size(0) != C || static_cast<int64_t>(family.size()) != C)
    throw Error("simulate_noisy_labels: class_means / family must have one row per class");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  auto x = l2n(features.to(torch::kFloat));
  auto means = l2n(class_means.to(torch::kFloat));
  auto y = label.to(torch::kLong).contiguous();
  const int64_t n = y.size(0);

  // Per-class exact-name probability (an MLLM knows some classes much better than others).
  auto z = at::randn({C}, gen, torch::kDouble);
  std::vector<double> p_exact(C);
  for (int64_t c = 0; c < C; ++c)
    p_exact[c] = std::clamp(o.p_exact + o.exact_spread * z[c].item<double>(), 0.02, 0.98);
  // The closest classes by class-mean cosine (ties to the lower index).
  auto cs = means.mm(means.t());
  cs.fill_diagonal_(-1e9);
  const int64_t kc = std::clamp<int64_t>(o.confusable, 1, C - 1);
  // Stable order: equal cosines go to the lower class index.
  std::vector<std::vector<int64_t>> confusable(C);
  {
    auto cs_acc = cs.accessor<float, 2>();
    for (int64_t c = 0; c < C; ++c) {
      std::vector<int64_t> order(C);
      for (int64_t j = 0; j < C; ++j) order[j] = j;
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return cs_acc[c][a] > cs_acc[c][b]; });
      confusable[c].assign(order.begin(), order.begin() + kc);
    }
  }
  std::set<std::string> canon_names;
  for (const auto& s : class_names) canon_names.insert(canonical_label(s));

  SimulatedLabels out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = y[i].item<int64_t>();
    if (c < 0 || c >= C) throw Error(fmt::format("simulate_noisy_labels: label {} of row {} outside [0, {})", c, i, C));
    const double norm = 1.0 - p_exact[c];  // mass of the non-exact kinds, split by the shares
    const double u = uniform(gen);
    double acc = p_exact[c];
    LabelKind kind;
    if (u < acc) kind = LabelKind::kExact;
    else if (u < (acc += o.p_synonym * norm)) kind = LabelKind::kSynonym;
    else if (u < (acc += o.p_confusion * norm)) kind = LabelKind::kConfusion;
    else if (u < (acc += o.p_coarse * norm)) kind = LabelKind::kCoarse;
    else kind = LabelKind::kHallucination;
    std::string text;
    int64_t named = -1, syn = -1, fam = -1;
    switch (kind) {
      case LabelKind::kExact:
      case LabelKind::kSurface:
        named = c;
        if (uniform(gen) < o.p_surface) {
          kind = LabelKind::kSurface;
          text = surface_form(class_names[c], randint(gen, 4));
        } else {
          text = class_names[c];
        }
        break;
      case LabelKind::kSynonym:
        named = c;
        syn = randint(gen, std::max<int64_t>(1, o.synonyms_per_class));
        text = synonym_of(class_names[c], family_names.empty() ? "" : family_names[family[c]], syn);
        break;
      case LabelKind::kConfusion: {
        // The image's own similarity decides which close class it is mistaken for.
        const auto& cand = confusable[c];
        std::vector<double> w(cand.size());
        double mx = -1e300, tot = 0;
        for (size_t k = 0; k < cand.size(); ++k) {
          w[k] = (x[i] * means[cand[k]]).sum().item<double>() / o.confusion_temp;
          mx = std::max(mx, w[k]);
        }
        for (double& v : w) tot += (v = std::exp(v - mx));
        double r = uniform(gen) * tot;
        size_t pick = 0;
        while (pick + 1 < cand.size() && (r -= w[pick]) > 0) ++pick;
        named = cand[pick];
        text = class_names[named];
        break;
      }
      case LabelKind::kCoarse:
        fam = family[c];
        text = family_names.empty() ? "object" : family_names[fam];
        break;
      case LabelKind::kHallucination: {
        // A plausible made-up name: a word of this class's name with a word of a close class's.
        const auto& cand = confusable[c];
        const int64_t b = cand[randint(gen, static_cast<int64_t>(cand.size()))];
        text = uniform(gen) < 0.5 ? first_word(class_names[c]) + " " + last_word(class_names[b])
                                  : first_word(class_names[b]) + " " + last_word(class_names[c]);
        if (canon_names.count(canonical_label(text))) text += " hybrid";
        break;
      }
    }
    out.text.push_back(text);
    out.kind.push_back(kind);
    out.named.push_back(named);
    out.synonym.push_back(syn);
    out.family.push_back(fam);
  }
  return out;
}

LabelStats label_stats(const std::vector<std::string>& text, const at::Tensor& label,
                       const std::vector<std::string>& class_names) {
  LabelStats s;
  std::set<std::string> distinct;
  auto y = label.to(torch::kLong).contiguous();
  int64_t hit = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string c = canonical_label(text[i]);
    distinct.insert(c);
    if (c == canonical_label(class_names[y[i].item<int64_t>()])) ++hit;
  }
  s.exact = text.empty() ? 0 : static_cast<double>(hit) / text.size();
  s.distinct = static_cast<int64_t>(distinct.size());
  return s;
}

Dataset generate_synth_noisy(const SynthNoisyOptions& o) {
  if (o.classes < 2 || o.families < 1 || o.families > o.classes || o.dim < 2 ||
      o.train_per_class < 1 || o.test_per_class < 1)
    throw ConfigError("synth_noisy: need classes >= 2, 1 <= families <= classes, dim >= 2, "
                      "train_per_class and test_per_class >= 1");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  auto randn = [&](at::IntArrayRef s) { return at::randn(s, gen, f32); };
  const int64_t C = o.classes, F = o.families, D = o.dim;
  const double isd = 1.0 / std::sqrt(static_cast<double>(D));

  static const char* kNouns[] = {"warbler", "sparrow", "finch", "tern", "gull", "wren", "vireo",
                                 "oriole", "flycatcher", "woodpecker", "kingfisher", "heron",
                                 "swallow", "thrush", "grebe", "cormorant"};
  static const char* kAdjs[] = {"spotted", "crested", "red", "yellow", "black", "grey", "lesser",
                                "greater", "northern", "southern", "eastern", "western", "pine",
                                "marsh", "rock", "sea", "scarlet", "blue", "golden", "painted",
                                "rufous", "olive", "pale", "dusky", "hooded", "tufted", "ivory",
                                "cape", "sooty", "azure"};
  constexpr int64_t kNN = sizeof(kNouns) / sizeof(kNouns[0]), kNA = sizeof(kAdjs) / sizeof(kAdjs[0]);
  std::vector<std::string> family_names;
  for (int64_t f = 0; f < F; ++f)
    family_names.push_back(f < kNN ? kNouns[f] : fmt::format("{} {}", kNouns[f % kNN], f / kNN));
  std::vector<int64_t> family(C);
  std::vector<int64_t> within(F, 0);
  Dataset ds;
  ds.name = "synth_noisy";
  for (int64_t c = 0; c < C; ++c) {
    family[c] = c % F;  // classes of a family are interleaved: ids carry no family order
    const int64_t k = within[family[c]]++;
    std::string adj = kAdjs[(k + 7 * family[c]) % kNA];
    if (k >= kNA) adj += fmt::format(" {}", k / kNA);
    ds.class_names.push_back(adj + " " + family_names[family[c]]);
  }

  // Fine-grained geometry: classes of a family share a centre (cosine ~ sibling_cos between
  // sibling prototypes), families are independent directions.
  auto centres = l2n(randn({F, D}));
  const double s = std::sqrt(std::clamp(o.sibling_cos, 0.0, 1.0));
  auto fam_t = torch::tensor(family, torch::kLong);
  auto protos = l2n(s * centres.index_select(0, fam_t) + std::sqrt(1 - s * s) * l2n(randn({C, D})));
  auto gap = l2n(randn({D})) * o.modality_gap;
  auto text_of = [&](const at::Tensor& v) { return l2n(l2n(v) + gap); };

  std::vector<at::Tensor> feats, labels;
  int64_t row = 0;
  auto add_split = [&](const std::string& name, int64_t per) {
    auto y = torch::arange(C, torch::kLong).repeat_interleave(per);
    feats.push_back(l2n(protos.index_select(0, y) + randn({C * per, D}) * (o.spread * isd)));
    labels.push_back(y);
    ds.splits[name] = torch::arange(row, row + C * per, torch::kLong);
    row += C * per;
  };
  add_split("train", o.train_per_class);
  add_split("test", o.test_per_class);
  ds.features = torch::cat(feats);
  ds.label = torch::cat(labels);

  // Name embeddings: a noisy text view of the prototype (the true-name table used by sACC).
  auto names = text_of(protos + randn({C, D}) * (o.name_noise * isd));
  ds.descriptors["name_embedding"] = names;

  // Labels of the discovery (train) images from the simulator; class means of the train images
  // give the closeness, as for real data.
  auto train_rows = ds.splits["train"];
  auto tx = ds.features.index_select(0, train_rows);
  auto ty = ds.label.index_select(0, train_rows);
  auto means = l2n(torch::zeros({C, D}).index_add_(0, ty, tx));
  NoisyLabelOptions lo = o.labels;
  lo.seed = static_cast<uint64_t>(o.seed) * 1000003ULL + 17;
  SimulatedLabels sim = simulate_noisy_labels(tx, ty, means, ds.class_names, family, family_names, lo);

  // One embedding per distinct canonical string, so a repeated string embeds identically.
  std::map<std::string, at::Tensor> emb;
  std::vector<at::Tensor> tf;
  const int64_t n = train_rows.size(0);
  for (int64_t i = 0; i < n; ++i) {
    const std::string key = canonical_label(sim.text[i]);
    auto it = emb.find(key);
    if (it == emb.end()) {
      at::Tensor e;
      const int64_t c = ty[i].item<int64_t>();
      switch (sim.kind[i]) {
        case LabelKind::kExact:
        case LabelKind::kSurface:
        case LabelKind::kConfusion: e = names[sim.named[i]]; break;
        case LabelKind::kSynonym: e = text_of(protos[c] + randn({D}) * (o.name_noise * isd)); break;
        case LabelKind::kCoarse: e = text_of(centres[sim.family[i]] + randn({D}) * (0.3 * isd)); break;
        case LabelKind::kHallucination:
          e = text_of(0.5 * protos[c] + 0.5 * centres[family[c]] + randn({D}) * (2 * o.name_noise * isd));
          break;
      }
      it = emb.emplace(key, e).first;
    }
    tf.push_back(it->second);
    ds.texts.strings.push_back(sim.text[i]);
  }
  ds.texts.features = torch::stack(tf);
  if (!o.text_embeddings) ds.texts.features.fill_(std::numeric_limits<float>::quiet_NaN());
  ds.texts.image = train_rows.clone();
  ds.texts.cls = torch::full({n}, -1, torch::kLong);
  ds.texts.source = torch::full({n}, kMllmLabelSource, torch::kChar);
  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth_noisy ") + kVersion;
  ds.attrs["source_files"] = "[]";
  return ds;
}

namespace {

const OptionTable<SynthNoisyOptions>& noisy_options() {
  static const OptionTable<SynthNoisyOptions> t = [] {
    using O = SynthNoisyOptions;
    using L = NoisyLabelOptions;
    OptionTable<O> o;
    o.add("classes", &O::classes, "classes").range(2, 10000)
        .add("families", &O::families, "families of visually close classes").range(1, 10000)
        .add("dim", &O::dim, "feature dimension").range(2, 8192)
        .add("train_per_class", &O::train_per_class, "labelled discovery images per class")
            .range(1, 100000)
        .add("test_per_class", &O::test_per_class, "test images per class").range(1, 100000)
        .add("sibling_cos", &O::sibling_cos, "cosine between prototypes of one family")
            .range(0.0, 1.0)
        .add("spread", &O::spread, "image noise, relative to the prototype norm").range(0.0, 100.0)
        .add("modality_gap", &O::modality_gap, "norm of the image->text shift").range(0.0, 100.0)
        .add("name_noise", &O::name_noise, "noise of name / synonym embeddings").range(0.0, 100.0)
        .add("text_embeddings", &O::text_embeddings, "false: label texts carry NaN features")
        .add("p_exact", &O::labels, &L::p_exact, "mean probability of the exact class name")
            .range(0.0, 1.0)
        .add("exact_spread", &O::labels, &L::exact_spread, "per-class sd of p_exact")
            .range(0.0, 1.0)
        .add("p_surface", &O::labels, &L::p_surface, "of exact answers: another surface form")
            .range(0.0, 1.0)
        .add("p_synonym", &O::labels, &L::p_synonym, "share of non-exact answers: a synonym")
            .range(0.0, 1.0)
        .add("p_confusion", &O::labels, &L::p_confusion, "share of non-exact answers: a close class's name")
            .range(0.0, 1.0)
        .add("p_coarse", &O::labels, &L::p_coarse, "share of non-exact answers: the family name")
            .range(0.0, 1.0)
        .add("synonyms_per_class", &O::labels, &L::synonyms_per_class, "distinct synonyms per class")
            .range(1, 4)
        .add("confusable", &O::labels, &L::confusable, "confusions go to this many closest classes")
            .range(1, 10000)
        .add("confusion_temp", &O::labels, &L::confusion_temp, "image-dependence of confusions")
            .range(1e-4, 100.0)
        .add("seed", &O::seed, "random seed").range(0, 9.0e15);
    return o;
  }();
  return t;
}

void check_noisy_options(const SynthNoisyOptions& o) {
  if (o.labels.p_synonym + o.labels.p_confusion + o.labels.p_coarse > 1.0 + 1e-9)
    throw ConfigError("synth_noisy: p_synonym + p_confusion + p_coarse (shares of the non-exact "
                      "answers) must be <= 1");
}

}  // namespace

void register_synth_noisy_source(DatasetRegistry& reg) {
  reg.add(make_generator_entry(
      EntryInfo{"synth_noisy",
                "seeded fine-grained classes in families with simulated noisy MLLM labels on the "
                "train (discovery) images (NeaR shape, docs/near.md)",
                {"task:open_vocab"}, kVersion},
      noisy_options(), &generate_synth_noisy, &check_noisy_options));
}

}  // namespace vlb
