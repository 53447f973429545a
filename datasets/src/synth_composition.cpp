// The synth_composition generator and dataset source (vlb/datasets/synth_composition.h).
#include "vlb/datasets/synth_composition.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "vlb/core/error.h"
#include "vlb/datasets/cached_source.h"

namespace vlb {
namespace {

constexpr const char* kVersion = "1";

const char* const kObjects[] = {"cube", "ball", "dog", "cat", "cup", "book", "lamp", "chair",
                                "table", "car", "tree", "bird", "horse", "boat", "phone", "bottle"};
const char* const kAttributes[] = {"red", "blue", "green", "large", "small", "wooden", "striped", "shiny"};
const char* const kRelations[] = {"on", "under", "left of", "right of", "behind", "in front of",
                                  "next to", "near"};
constexpr int64_t kSymmetricFrom = 6;  // "next to", "near": no subject/object roles in the image
const char* const kFunction[] = {"a", "the", "is", "and", "there", "also", "photo", "of"};
enum Fn { kA, kThe, kIs, kAnd, kThere, kAlso, kPhoto, kOf };

enum class Kind { kFn, kObj, kAtt, kRel, kStop };
struct Tok {
  Kind kind;
  int64_t id;
};
using Seq = std::vector<Tok>;

Tok fn(Fn f) { return {Kind::kFn, f}; }
Tok ob(int64_t o) { return {Kind::kObj, o}; }
Tok at_(int64_t a) { return {Kind::kAtt, a}; }
Tok rl(int64_t r) { return {Kind::kRel, r}; }
Tok stop() { return {Kind::kStop, 0}; }

std::string render(const Seq& s) {
  std::string out;
  for (const auto& t : s) {
    const char* w = t.kind == Kind::kFn ? kFunction[t.id]
                    : t.kind == Kind::kObj ? kObjects[t.id]
                    : t.kind == Kind::kAtt ? kAttributes[t.id]
                    : t.kind == Kind::kRel ? kRelations[t.id] : ".";
    if (!out.empty() && t.kind != Kind::kStop) out += ' ';
    out += w;
  }
  return out;
}

struct Scene {
  int64_t o1, o2, o3, a1, a2, r;
};

class Generator {
 public:
  explicit Generator(const SynthCompositionOptions& o)
      : o_(o), L_(o.latent_dim), gen_(at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed))) {
    auto table = [&](int64_t n) { return (at::randn({n, L_}, gen_) / std::sqrt(double(L_))).contiguous(); };
    obj_ = table(o.objects);
    att_ = table(o.attributes);
    rel_ = table(o.relations);
    fnl_ = table(8);
  }

  int64_t randint(int64_t k) { return at::randint(k, {1}, gen_, torch::kLong).item<int64_t>(); }
  int64_t other_than(int64_t k, std::initializer_list<int64_t> avoid) {
    for (;;) {
      int64_t v = randint(k);
      if (std::find(avoid.begin(), avoid.end(), v) == avoid.end()) return v;
    }
  }
  Scene scene() {
    Scene s;
    s.o1 = randint(o_.objects);
    s.o2 = other_than(o_.objects, {s.o1});
    s.o3 = other_than(o_.objects, {s.o1, s.o2});
    s.a1 = randint(o_.attributes);
    s.a2 = other_than(o_.attributes, {s.a1});
    s.r = randint(o_.relations);
    return s;
  }

  // Latent blocks [bag, bind, subj, objr] (4 L floats) and the function-word bag (L floats).
  void image_blocks(const Scene& s, std::vector<float>& out) {
    std::vector<float> b(4 * L_, 0.f);
    const float* O = obj_.data_ptr<float>();
    const float* A = att_.data_ptr<float>();
    const float* R = rel_.data_ptr<float>();
    const float sq = std::sqrt(static_cast<float>(L_));
    const bool sym = s.r >= kSymmetricFrom;
    for (int64_t k = 0; k < L_; ++k) {
      b[k] = O[s.o1 * L_ + k] + O[s.o2 * L_ + k] + O[s.o3 * L_ + k] + A[s.a1 * L_ + k] +
             A[s.a2 * L_ + k] + R[s.r * L_ + k];
      b[L_ + k] = sq * (A[s.a1 * L_ + k] * O[s.o1 * L_ + k] + A[s.a2 * L_ + k] * O[s.o2 * L_ + k]);
      const float subj = sym ? 0.5f * (O[s.o1 * L_ + k] + O[s.o2 * L_ + k]) : O[s.o1 * L_ + k];
      const float obr = sym ? 0.5f * (O[s.o1 * L_ + k] + O[s.o2 * L_ + k]) : O[s.o2 * L_ + k];
      b[2 * L_ + k] = subj;
      b[3 * L_ + k] = obr;
    }
    out.insert(out.end(), b.begin(), b.end());
  }

  // Text blocks: [content bag, bind, subj, objr] + function-word bag, from the token sequence.
  void text_blocks(const Seq& seq, std::vector<float>& out, std::vector<float>& fn_out) {
    std::vector<float> b(4 * L_, 0.f), f(L_, 0.f);
    const float sq = std::sqrt(static_cast<float>(L_));
    auto row = [&](const Tok& t) -> const float* {
      switch (t.kind) {
        case Kind::kObj: return obj_.data_ptr<float>() + t.id * L_;
        case Kind::kAtt: return att_.data_ptr<float>() + t.id * L_;
        case Kind::kRel: return rel_.data_ptr<float>() + t.id * L_;
        case Kind::kFn: return fnl_.data_ptr<float>() + t.id * L_;
        default: return nullptr;
      }
    };
    for (size_t i = 0; i < seq.size(); ++i) {
      const Tok& t = seq[i];
      if (t.kind == Kind::kStop) continue;
      const float* v = row(t);
      float* dst = t.kind == Kind::kFn ? f.data() : b.data();
      for (int64_t k = 0; k < L_; ++k) dst[k] += v[k];
      // An attribute binds to the object right after it.
      if (t.kind == Kind::kAtt && i + 1 < seq.size() && seq[i + 1].kind == Kind::kObj) {
        const float* w = row(seq[i + 1]);
        for (int64_t k = 0; k < L_; ++k) b[L_ + k] += sq * v[k] * w[k];
      }
    }
    // Roles, per sentence: objects before the sentence's first relation are its subject, objects
    // after it its object.
    size_t start = 0;
    while (start < seq.size()) {
      size_t end = start;
      while (end < seq.size() && seq[end].kind != Kind::kStop) ++end;
      size_t relpos = end;
      for (size_t i = start; i < end; ++i)
        if (seq[i].kind == Kind::kRel) { relpos = i; break; }
      if (relpos < end)
        for (size_t i = start; i < end; ++i) {
          if (seq[i].kind != Kind::kObj) continue;
          const float* v = row(seq[i]);
          float* dst = b.data() + (i < relpos ? 2 : 3) * L_;
          for (int64_t k = 0; k < L_; ++k) dst[k] += v[k];
        }
      start = end + 1;
    }
    out.insert(out.end(), b.begin(), b.end());
    fn_out.insert(fn_out.end(), f.begin(), f.end());
  }

  at::Generator& gen() { return gen_; }
  int64_t L() const { return L_; }

 private:
  SynthCompositionOptions o_;
  int64_t L_;
  at::Generator gen_;
  at::Tensor obj_, att_, rel_, fnl_;
};

at::Tensor l2n(const at::Tensor& x) { return x / x.norm(2, {-1}, true).clamp_min(1e-12); }

Seq first_sentence(const Scene& s) {
  return {fn(kA), at_(s.a1), ob(s.o1), rl(s.r), fn(kA), at_(s.a2), ob(s.o2)};
}
Seq second_sentence(const Scene& s) { return {fn(kThere), fn(kIs), fn(kAlso), fn(kA), ob(s.o3), stop()}; }
Seq detailed(const Scene& s) {
  Seq a = first_sentence(s);
  a.push_back(stop());
  Seq b = second_sentence(s);
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

Dataset generate_synth_composition(const SynthCompositionOptions& o) {
  if (o.objects < 4 || o.objects > 16) throw ConfigError("synth_composition: objects must be in [4, 16]");
  if (o.attributes < 3 || o.attributes > 8) throw ConfigError("synth_composition: attributes must be in [3, 8]");
  if (o.relations < 2 || o.relations > 8) throw ConfigError("synth_composition: relations must be in [2, 8]");
  if (o.winoground_pairs > o.test_images)
    throw ConfigError("synth_composition: winoground_pairs must be <= test_images");
  Generator g(o);
  const int64_t L = g.L();

  std::vector<Scene> scenes;
  for (int64_t i = 0; i < o.train_images + o.test_images; ++i) scenes.push_back(g.scene());
  // Winoground twins: the first winoground_pairs test scenes get a twin with the attributes
  // swapped (even pairs) or subject and object swapped (odd pairs), appended to the test split.
  std::vector<std::pair<int64_t, int64_t>> twins;
  for (int64_t k = 0; k < o.winoground_pairs; ++k) {
    const int64_t a = o.train_images + k;
    Scene t = scenes[a];
    if (k % 2 == 0) std::swap(t.a1, t.a2);
    else std::swap(t.o1, t.o2);
    twins.emplace_back(a, static_cast<int64_t>(scenes.size()));
    scenes.push_back(t);
  }
  const int64_t N = static_cast<int64_t>(scenes.size());

  Dataset ds;
  ds.name = "synth_composition";
  for (int64_t c = 0; c < o.objects; ++c) ds.class_names.push_back(kObjects[c]);
  ds.label = torch::full({N}, -1, torch::kLong);
  ds.splits["train"] = torch::arange(0, o.train_images, torch::kLong);
  ds.splits["test"] = torch::arange(o.train_images, N, torch::kLong);

  std::vector<float> iblocks;
  for (const auto& s : scenes) g.image_blocks(s, iblocks);

  std::vector<float> tblocks, tfn;
  std::vector<int64_t> timage, tparent;
  std::vector<int8_t> tsource;
  auto add_text = [&](const Seq& seq, int64_t image, int8_t source, int64_t parent = -1) {
    g.text_blocks(seq, tblocks, tfn);
    ds.texts.strings.push_back(render(seq));
    timage.push_back(image);
    tsource.push_back(source);
    tparent.push_back(parent);
    return static_cast<int64_t>(timage.size()) - 1;
  };

  // Captions of every image; negatives and sentences for training images.
  for (int64_t i = 0; i < N; ++i) {
    const Scene& s = scenes[i];
    // Alt-text: one or two of the three objects, random order, no attributes or relation.
    const int64_t objs[3] = {s.o1, s.o2, s.o3};
    int64_t x = objs[g.randint(3)];
    Seq alt = {fn(kA), fn(kPhoto), fn(kOf), fn(kA), ob(x)};
    if (g.randint(2) == 1) {
      int64_t y = x;
      while (y == x) y = objs[g.randint(3)];
      alt.push_back(fn(kAnd));
      alt.push_back(fn(kA));
      alt.push_back(ob(y));
    }
    add_text(alt, i, 0);
    const int64_t cap = add_text(detailed(s), i, 1);
    if (i < o.train_images) {
      for (int64_t k = 0; k < o.hard_negatives; ++k) {
        Scene n = s;
        if (k % 2 == 0) std::swap(n.a1, n.a2);
        else std::swap(n.o1, n.o2);
        add_text(detailed(n), i, 2);
      }
      if (o.sentences) {
        Seq s1 = first_sentence(s);
        s1.push_back(stop());
        add_text(s1, -1, 1, cap);
        add_text(second_sentence(s), -1, 1, cap);
      }
    }
  }

  // Benchmark groups on the test split. Benchmark texts are free-standing (image -1): the group
  // links them to images, and retrieval never sees them.
  const std::vector<std::string> sc_names = {"add_obj", "add_att", "replace_obj", "replace_att",
                                             "replace_rel", "swap_obj", "swap_att"};
  std::vector<int64_t> sc_img, sc_txt, sc_sub;
  std::vector<int64_t> ar_img, ar_txt, ar_sub, aa_img, aa_txt, aa_sub, or_img, or_txt;
  std::vector<std::string> rel_names(kRelations, kRelations + o.relations), pair_names;
  for (int64_t a = 0; a < o.attributes; ++a)
    for (int64_t b = 0; b < o.attributes; ++b) pair_names.push_back(fmt::format("{}_{}", kAttributes[a], kAttributes[b]));
  for (int64_t i = o.train_images; i < N; ++i) {
    const Scene& s = scenes[i];
    const Seq pos = first_sentence(s);
    auto pair = [&](const Seq& p, const Seq& n, int64_t subset) {
      sc_img.push_back(i);
      sc_txt.push_back(add_text(p, -1, 1));
      sc_txt.push_back(add_text(n, -1, 2));
      sc_sub.push_back(subset);
    };
    Seq add_obj = pos;
    add_obj.insert(add_obj.end(), {fn(kAnd), fn(kA), ob(g.other_than(o.objects, {s.o1, s.o2, s.o3}))});
    pair(pos, add_obj, 0);
    Seq att_pos = {fn(kA), at_(s.a1), ob(s.o1), rl(s.r), fn(kA), ob(s.o2)};
    Seq att_neg = {fn(kA), at_(s.a1), ob(s.o1), rl(s.r), fn(kA), at_(g.other_than(o.attributes, {s.a2})), ob(s.o2)};
    pair(att_pos, att_neg, 1);
    Scene t = s;
    t.o1 = g.other_than(o.objects, {s.o1, s.o2, s.o3});
    pair(pos, first_sentence(t), 2);
    t = s;
    t.a1 = g.other_than(o.attributes, {s.a1, s.a2});
    pair(pos, first_sentence(t), 3);
    t = s;
    t.r = g.other_than(o.relations, {s.r});
    pair(pos, first_sentence(t), 4);
    t = s;
    std::swap(t.o1, t.o2);  // objects swap places, attributes stay where they were in the text
    pair(pos, first_sentence(t), 5);
    t = s;
    std::swap(t.a1, t.a2);
    pair(pos, first_sentence(t), 6);

    // ARO-style relation and attribution items.
    ar_img.push_back(i);
    ar_txt.push_back(add_text({fn(kThe), ob(s.o1), fn(kIs), rl(s.r), fn(kThe), ob(s.o2)}, -1, 1));
    ar_txt.push_back(add_text({fn(kThe), ob(s.o2), fn(kIs), rl(s.r), fn(kThe), ob(s.o1)}, -1, 2));
    ar_sub.push_back(s.r);
    aa_img.push_back(i);
    aa_txt.push_back(add_text({fn(kThe), at_(s.a1), ob(s.o1), fn(kAnd), fn(kThe), at_(s.a2), ob(s.o2)}, -1, 1));
    aa_txt.push_back(add_text({fn(kThe), at_(s.a2), ob(s.o1), fn(kAnd), fn(kThe), at_(s.a1), ob(s.o2)}, -1, 2));
    aa_sub.push_back(s.a1 * o.attributes + s.a2);

    // Order: the caption and four ARO-style perturbations.
    or_img.push_back(i);
    or_txt.push_back(add_text(pos, -1, 1));
    auto shuffled = [&](Seq q, const std::vector<size_t>& idx) {
      auto perm = at::randperm(static_cast<int64_t>(idx.size()), g.gen(), torch::kLong);
      Seq out = q;
      for (size_t k = 0; k < idx.size(); ++k) out[idx[k]] = q[idx[perm[k].item<int64_t>()]];
      return out;
    };
    std::vector<size_t> na, rest, all;
    for (size_t k = 0; k < pos.size(); ++k) {
      ((pos[k].kind == Kind::kObj || pos[k].kind == Kind::kAtt) ? na : rest).push_back(k);
      all.push_back(k);
    }
    or_txt.push_back(add_text(shuffled(pos, na), -1, 2));    // nouns and adjectives
    or_txt.push_back(add_text(shuffled(pos, rest), -1, 2));  // everything else
    Seq tri = pos;                                           // within trigrams
    for (size_t b = 0; b < pos.size(); b += 3) {
      std::vector<size_t> idx;
      for (size_t k = b; k < std::min(pos.size(), b + 3); ++k) idx.push_back(k);
      tri = shuffled(tri, idx);
    }
    or_txt.push_back(add_text(tri, -1, 2));
    std::vector<Seq> grams;  // the trigrams themselves
    for (size_t b = 0; b < pos.size(); b += 3) grams.emplace_back(pos.begin() + b, pos.begin() + std::min(pos.size(), b + 3));
    auto gp = at::randperm(static_cast<int64_t>(grams.size()), g.gen(), torch::kLong);
    Seq tg;
    for (int64_t k = 0; k < gp.numel(); ++k) {
      const Seq& q = grams[gp[k].item<int64_t>()];
      tg.insert(tg.end(), q.begin(), q.end());
    }
    or_txt.push_back(add_text(tg, -1, 2));
  }
  std::vector<int64_t> wg_img, wg_txt, wg_sub;
  for (size_t k = 0; k < twins.size(); ++k) {
    wg_img.push_back(twins[k].first);
    wg_img.push_back(twins[k].second);
    wg_txt.push_back(add_text(first_sentence(scenes[twins[k].first]), -1, 1));
    wg_txt.push_back(add_text(first_sentence(scenes[twins[k].second]), -1, 1));
    wg_sub.push_back(static_cast<int64_t>(k % 2));
  }

  auto group = [&](const std::string& kind, const std::vector<int64_t>& im, int64_t I,
                   const std::vector<int64_t>& tx, int64_t K, const std::vector<int64_t>& sub,
                   std::vector<std::string> names) {
    ItemGroup gr;
    gr.kind = kind;
    const int64_t G = static_cast<int64_t>(sub.size());
    gr.image = torch::tensor(im, torch::kLong).reshape({G, I});
    gr.text = torch::tensor(tx, torch::kLong).reshape({G, K});
    gr.subset = torch::tensor(sub, torch::kLong);
    gr.subset_names = std::move(names);
    ds.groups[kind] = std::move(gr);
  };
  group("sugarcrepe", sc_img, 1, sc_txt, 2, sc_sub, sc_names);
  group("aro_relation", ar_img, 1, ar_txt, 2, ar_sub, rel_names);
  group("aro_attribution", aa_img, 1, aa_txt, 2, aa_sub, pair_names);
  group("order", or_img, 1, or_txt, 5, std::vector<int64_t>(or_img.size(), 0), {"all"});
  if (!twins.empty()) group("winoground", wg_img, 2, wg_txt, 2, wg_sub, {"swap_att", "swap_obj"});

  // Embeddings: fixed random maps of the latent blocks.
  const int64_t T = static_cast<int64_t>(timage.size());
  auto I = torch::from_blob(iblocks.data(), {N, 4 * L}, torch::kFloat).clone();
  auto B = torch::from_blob(tblocks.data(), {T, 4 * L}, torch::kFloat).clone();
  auto F = torch::from_blob(tfn.data(), {T, L}, torch::kFloat).clone();
  auto& gen = g.gen();
  auto proj = [&](int64_t out, int64_t in) { return at::randn({in, out}, gen) / std::sqrt(double(in)); };
  auto weights = [&](double bind, double roles) {
    auto w = torch::ones({4 * L});
    w.narrow(0, L, L).fill_(bind);
    w.narrow(0, 2 * L, 2 * L).fill_(roles);
    return w;
  };
  auto noisy = [&](const at::Tensor& clean, double rel) {
    auto n = at::randn(clean.sizes(), gen);
    n = n / n.norm(2, {1}, true) * clean.norm(2, {1}, true) * rel;
    return l2n(clean + n);
  };
  auto U = proj(o.dim, 4 * L), Ufn = proj(o.dim, L);
  ds.features = noisy(I.mul(weights(o.image_binding, o.image_roles)).mm(U), o.image_noise);
  auto gap = l2n(at::randn({o.dim}, gen)) * 0.5;
  auto clip = B.mul(weights(o.clip_binding, o.clip_roles)).mm(U) + 0.5 * F.mm(Ufn);
  ds.texts.features = noisy(clip + gap * clip.norm(2, {1}, true), o.text_noise);
  auto Wb = proj(o.tower_dim, L), Wbo = proj(o.tower_dim, 3 * L);
  auto bow = (B.narrow(1, 0, L) + F).mm(Wb) + o.bow_order * B.narrow(1, L, 3 * L).mm(Wbo);
  ds.texts.towers["bow"] = noisy(bow, o.text_noise);
  auto Wo = proj(o.tower_dim, 5 * L);
  ds.texts.towers["order"] = noisy(torch::cat({B, F}, 1).mm(Wo), o.text_noise);
  ds.texts.image = torch::tensor(timage, torch::kLong);
  ds.texts.parent = torch::tensor(tparent, torch::kLong);
  ds.texts.source = torch::from_blob(tsource.data(), {T}, torch::kChar).clone();
  ds.texts.cls = torch::full({T}, -1, torch::kLong);
  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth_composition ") + kVersion;
  ds.attrs["source_files"] = "[]";
  return ds;
}

namespace {

const OptionTable<SynthCompositionOptions>& composition_options() {
  static const OptionTable<SynthCompositionOptions> t = [] {
    using O = SynthCompositionOptions;
    OptionTable<O> o;
    o.add("objects", &O::objects, "object vocabulary").range(4, 16)
        .add("attributes", &O::attributes, "attribute vocabulary").range(3, 8)
        .add("relations", &O::relations, "relation vocabulary (the last two are symmetric)")
            .range(2, 8)
        .add("train_images", &O::train_images, "training images").range(2, 1000000)
        .add("test_images", &O::test_images, "test images (before winoground twins)")
            .range(1, 1000000)
        .add("winoground_pairs", &O::winoground_pairs, "twin test images").range(0, 1000000)
        .add("latent_dim", &O::latent_dim, "latent concept width").range(2, 4096)
        .add("dim", &O::dim, "image / clip text width").range(2, 8192)
        .add("tower_dim", &O::tower_dim, "bow / order tower width").range(2, 8192)
        .add("image_noise", &O::image_noise, "relative image noise").range(0.0, 100.0)
        .add("image_binding", &O::image_binding, "binding block weight in images").range(0.0, 100.0)
        .add("image_roles", &O::image_roles, "role block weight in images").range(0.0, 100.0)
        .add("clip_binding", &O::clip_binding, "binding block weight in /texts/features")
            .range(0.0, 100.0)
        .add("clip_roles", &O::clip_roles, "role block weight in /texts/features").range(0.0, 100.0)
        .add("bow_order", &O::bow_order, "order information in the bow tower").range(0.0, 100.0)
        .add("text_noise", &O::text_noise, "relative text noise").range(0.0, 100.0)
        .add("hard_negatives", &O::hard_negatives, "negatives per training image").range(0, 2)
        .add("sentences", &O::sentences, "sentence rows for training detailed captions")
        .add("seed", &O::seed, "random seed").range(0, 9.0e15);
    return o;
  }();
  return t;
}

}  // namespace

void register_synth_composition_source(DatasetRegistry& reg) {
  reg.add(make_generator_entry(
      EntryInfo{"synth_composition",
                "seeded synthetic compositional scenes: captions at two qualities, two text towers, "
                "benchmark groups",
                {}, kVersion},
      composition_options(), &generate_synth_composition));
}

}  // namespace vlb
