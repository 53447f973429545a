// Synthetic multi-label feature maps with partial labels (SARL), the partial-label generator and
// the real VOC2007 label reader (datasets/include/vlb/datasets/synth_multilabel.h).
#include "vlb/datasets/synth_multilabel.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "vlb/core/error.h"
#include "vlb/core/fs.h"
#include "vlb/datasets/cached_source.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

// Bump when generate_synth_multilabel's output changes for the same options (cache key).
constexpr const char* kVersion = "1";

std::vector<std::string> lines_of(const std::string& path) {
  return read_text_lines(path, "list (one entry per line)", true);
}

at::Tensor labels_npy(const std::string& path, int64_t C) {
  if (!fs::exists(path)) throw DataError(path, "", "missing (expected an [N, C] int8 label matrix)");
  at::Tensor t = read_npy(path);
  if (t.dim() != 2 || t.size(1) != C || t.scalar_type() != torch::kChar)
    throw DataError(path, "", fmt::format("expected [N, C={}] int8 (+1/-1/0), got {} {}", C,
                                          c10::str(t.sizes()), c10::toString(t.scalar_type())));
  if ((t.lt(-1) | t.gt(1)).any().item<bool>())
    throw DataError(path, "", "values must be +1, -1 or 0");
  return t;
}

// Raw engine draws: libstdc++'s distributions are implementation-defined; these are not.
struct Rng {
  std::mt19937_64 e;
  explicit Rng(uint64_t s) : e(s) {}
  int64_t below(int64_t n) { return static_cast<int64_t>(e() % static_cast<uint64_t>(n)); }
  double unit() { return static_cast<double>(e() >> 11) * (1.0 / 9007199254740992.0); }
  int64_t weighted(const std::vector<double>& w) {
    double tot = 0;
    for (double x : w) tot += x;
    double u = unit() * tot;
    for (size_t i = 0; i < w.size(); ++i) {
      if (u < w[i]) return static_cast<int64_t>(i);
      u -= w[i];
    }
    return static_cast<int64_t>(w.size()) - 1;
  }
};

// Synthetic labels with a skewed class frequency and a sparse co-occurrence graph.
at::Tensor synth_labels(int64_t N, int64_t C, const SynthMultiLabelOptions& o, Rng& rng,
                        const std::vector<std::vector<int64_t>>& partners) {
  std::vector<double> freq(C);
  for (int64_t c = 0; c < C; ++c) freq[c] = 1.0 / std::sqrt(1.0 + c);
  std::vector<double> kw;
  for (int64_t k = o.min_labels; k <= o.max_labels; ++k) kw.push_back(1.0 / k);  // VOC-like skew
  at::Tensor y = torch::full({N, C}, -1, torch::kChar);
  auto a = y.accessor<int8_t, 2>();
  for (int64_t i = 0; i < N; ++i) {
    const int64_t k = std::min<int64_t>(C, o.min_labels + rng.weighted(kw));
    std::vector<int64_t> chosen;
    while (static_cast<int64_t>(chosen.size()) < k) {
      int64_t c;
      if (!chosen.empty() && rng.unit() < o.cooccur) {
        const auto& p = partners[chosen[rng.below(chosen.size())]];
        c = p[rng.below(p.size())];
      } else {
        c = rng.weighted(freq);
      }
      if (std::find(chosen.begin(), chosen.end(), c) == chosen.end()) chosen.push_back(c);
    }
    for (int64_t c : chosen) a[i][c] = 1;
  }
  return y;
}

}  // namespace

at::Tensor make_partial_labels(const at::Tensor& labels, double keep_prob, uint64_t seed) {
  if (keep_prob < 0 || keep_prob > 1) throw ConfigError(fmt::format("keep_prob {} not in [0, 1]", keep_prob));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor keep = at::rand(labels.sizes(), gen, torch::kDouble).lt(keep_prob);
  return torch::where(keep, labels, torch::zeros_like(labels)).to(torch::kChar);
}

RealMultiLabel load_real_multilabel(const std::string& name, const std::string& data_dir) {
  if (name != "voc2007")
    throw ConfigError("labels_from '" + name + "': only voc2007 has per-image labels in the shared "
                      "data (COCO/NUS-WIDE ship co-occurrence counts only)");
  const fs::path dir = fs::path(data_dir) / "multilabel" / name;
  const fs::path gdir = fs::path(data_dir) / "glove";
  if (!fs::is_directory(dir))
    throw DataError(dir.string(), "", "missing: the VOC2007 label matrices (../shared/data/multilabel/voc2007)");
  RealMultiLabel r;
  r.class_names = lines_of((dir / "classes.txt").string());
  const int64_t C = static_cast<int64_t>(r.class_names.size());
  r.train = labels_npy((dir / "labels_trainval.npy").string(), C);
  r.test = labels_npy((dir / "labels_test.npy").string(), C);
  r.train_ids = lines_of((dir / "image_ids_trainval.txt").string());
  r.test_ids = lines_of((dir / "image_ids_test.txt").string());
  if (static_cast<int64_t>(r.train_ids.size()) != r.train.size(0) ||
      static_cast<int64_t>(r.test_ids.size()) != r.test.size(0))
    throw DataError((dir / "image_ids_trainval.txt").string(), "",
                    "image id lists must have one line per label row");
  const std::string gfile = (gdir / (name + "_glove300.npy")).string();
  const auto gnames = lines_of((gdir / (name + "_classes.txt")).string());
  if (gnames != r.class_names)
    throw DataError((gdir / (name + "_classes.txt")).string(), "",
                    "GloVe class list differs from " + (dir / "classes.txt").string());
  if (!fs::exists(gfile)) throw DataError(gfile, "", "missing (expected [C, 300] float32)");
  r.glove = read_npy(gfile).to(torch::kFloat);
  if (r.glove.dim() != 2 || r.glove.size(0) != C)
    throw DataError(gfile, "", fmt::format("expected [C={}, 300], got {}", C, c10::str(r.glove.sizes())));
  return r;
}

Dataset generate_synth_multilabel(const SynthMultiLabelOptions& o) {
  Rng rng(static_cast<uint64_t>(o.seed) * 2654435761ULL + 17);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  Dataset ds;
  at::Tensor y;  // [N, C] full labels
  int64_t n_train = 0;
  at::Tensor glove;
  if (o.labels_from == "none") {
    const int64_t C = o.classes;
    for (int64_t c = 0; c < C; ++c) ds.class_names.push_back(fmt::format("class_{:02d}", c));
    // Each class co-occurs with 2 partner classes (symmetric graph, seeded).
    std::vector<std::vector<int64_t>> partners(C);
    for (int64_t c = 0; c < C; ++c)
      for (int j = 0; j < 2 && C > 1; ++j) {
        int64_t p = (c + 1 + rng.below(C - 1)) % C;
        partners[c].push_back(p);
        partners[p].push_back(c);
      }
    n_train = o.train_images;
    y = synth_labels(o.train_images + o.test_images, C, o, rng, partners);
    // GloVe-like word vectors: 300-d, norm about 6, no relation to the prototypes.
    glove = at::randn({C, 300}, gen) * 0.35;
  } else {
    RealMultiLabel r = load_real_multilabel(o.labels_from, o.data_dir);
    ds.class_names = r.class_names;
    auto subset = [&](const at::Tensor& m, const std::vector<std::string>& ids, int64_t k,
                      std::vector<std::string>& out_ids) {
      const int64_t n = m.size(0);
      at::Tensor idx = torch::arange(n, torch::kLong);
      if (k > 0 && k < n) idx = std::get<0>(at::randperm(n, gen, torch::kLong).slice(0, 0, k).sort());
      for (int64_t i = 0; i < idx.size(0); ++i) out_ids.push_back(ids[idx[i].item<int64_t>()]);
      return m.index_select(0, idx);
    };
    std::vector<std::string> ids;
    at::Tensor tr = subset(r.train, r.train_ids, o.train_images, ids);
    std::vector<std::string> te_ids;
    at::Tensor te = subset(r.test, r.test_ids, o.test_images, te_ids);
    for (auto& s : ids) s = "trainval/" + s;
    for (auto& s : te_ids) ids.push_back("test/" + s);
    ds.image_ids = ids;
    n_train = tr.size(0);
    y = torch::cat({tr, te}, 0);
    glove = r.glove;
  }
  const int64_t N = y.size(0), C = y.size(1), HW = o.height * o.width, D = o.dim;

  // Category prototypes with pairwise cosine about proto_cos.
  at::Tensor common = at::randn({1, D}, gen);
  at::Tensor protos = std::sqrt(o.proto_cos) * common / common.norm() +
                      std::sqrt(1 - o.proto_cos) * [&] {
                        at::Tensor z = at::randn({C, D}, gen);
                        return z / z.norm(2, {1}, true);
                      }();
  protos = protos / protos.norm(2, {1}, true);

  // Amplitudes A[i, pos, c]: each present category is a blob at a random centre (half amplitude
  // on the 4 neighbours); `distractors` absent categories are spread thinly over the whole image
  // (texture), which fools a mean-pooled feature but not spatial attention.
  at::Tensor A = torch::zeros({N, HW, C});
  auto a = A.accessor<float, 3>();
  auto ya = y.accessor<int8_t, 2>();
  for (int64_t i = 0; i < N; ++i) {
    std::vector<int64_t> used, negatives;
    for (int64_t c = 0; c < C; ++c) {
      if (ya[i][c] == -1) {
        negatives.push_back(c);
        continue;
      }
      const double amp = o.signal * (ya[i][c] == 1 ? 1.0 : o.difficult_signal);
      int64_t pos = rng.below(HW);
      for (int t = 0; t < 8 && std::find(used.begin(), used.end(), pos) != used.end(); ++t)
        pos = rng.below(HW);
      used.push_back(pos);
      const int64_t h = pos / o.width, w = pos % o.width;
      a[i][pos][c] += static_cast<float>(amp);
      const int64_t dh[4] = {-1, 1, 0, 0}, dw[4] = {0, 0, -1, 1};
      for (int k = 0; k < 4; ++k) {
        const int64_t hh = h + dh[k], ww = w + dw[k];
        if (hh >= 0 && hh < o.height && ww >= 0 && ww < o.width)
          a[i][hh * o.width + ww][c] += static_cast<float>(0.5 * amp);
      }
    }
    for (int64_t k = 0; k < o.distractors && !negatives.empty(); ++k) {
      const int64_t j = rng.below(negatives.size());
      const int64_t c = negatives[j];
      negatives.erase(negatives.begin() + j);
      for (int64_t pos = 0; pos < HW; ++pos) a[i][pos][c] += static_cast<float>(o.distractor_amp * o.signal);
    }
  }
  at::Tensor maps = at::randn({N, HW, D}, gen) * o.noise + at::matmul(A, protos);

  ds.name = o.labels_from == "none" ? "synth_multilabel" : "synth_multilabel_" + o.labels_from;
  ds.feature_maps = maps;
  ds.map_height = o.height;
  ds.map_width = o.width;
  ds.features = maps.mean(1);
  ds.label = torch::full({N}, -1, torch::kLong);
  ds.labels = y;
  ds.partial_labels = make_partial_labels(y, o.keep_prob, static_cast<uint64_t>(o.label_seed));
  ds.partial_keep_prob = o.keep_prob;
  ds.partial_seed = o.label_seed;
  ds.splits["train"] = torch::arange(n_train, torch::kLong);
  ds.splits["test"] = torch::arange(n_train, N, torch::kLong);
  at::Tensor text = protos + o.text_noise * at::randn({C, D}, gen) / std::sqrt(static_cast<double>(D));
  ds.descriptors["text_embedding"] = text / text.norm(2, {1}, true);
  ds.descriptors["glove"] = glove.contiguous();
  ds.attrs["feature_model"] = "synthetic";
  ds.attrs["created_by"] = std::string("vlb synth_multilabel ") + kVersion;
  ds.attrs["source_files"] =
      o.labels_from == "none" ? "[]"
                              : fmt::format("[\"{}/multilabel/{}\", \"{}/glove\"]", o.data_dir,
                                            o.labels_from, o.data_dir);
  return ds;
}

namespace {

const OptionTable<SynthMultiLabelOptions>& multilabel_options() {
  static const OptionTable<SynthMultiLabelOptions> t = [] {
    using O = SynthMultiLabelOptions;
    OptionTable<O> o;
    o.add("classes", &O::classes, "classes (synthetic labels only)").range(2, 1000)
        .add("height", &O::height, "feature-map height").range(1, 64)
        .add("width", &O::width, "feature-map width").range(1, 64)
        .add("dim", &O::dim, "channels C_f (= text-embedding dimension)").range(2, 4096)
        .add("train_images", &O::train_images, "train rows (labels_from: a seeded subset of trainval, 0 = all)")
            .range(0, 1000000)
        .add("test_images", &O::test_images, "test rows (labels_from: a seeded subset of test, 0 = all)")
            .range(0, 1000000)
        .add("min_labels", &O::min_labels, "fewest positives per image (synthetic labels)")
            .range(1, 100)
        .add("max_labels", &O::max_labels, "most positives per image (synthetic labels)")
            .range(1, 100)
        .add("cooccur", &O::cooccur, "probability a further label follows the co-occurrence graph")
            .range(0.0, 1.0)
        .add("signal", &O::signal, "category signal amplitude at its centre").range(0.0, 100.0)
        .add("noise", &O::noise, "background noise sd per position and channel").range(0.0, 100.0)
        .add("distractors", &O::distractors, "absent categories spread thinly over the image")
            .range(0, 100)
        .add("distractor_amp", &O::distractor_amp, "their amplitude, relative to signal")
            .range(0.0, 10.0)
        .add("proto_cos", &O::proto_cos, "cosine between category prototypes").range(0.0, 0.99)
        .add("text_noise", &O::text_noise, "noise of the class text embeddings").range(0.0, 100.0)
        .add("difficult_signal", &O::difficult_signal, "amplitude factor of difficult (0) real labels")
            .range(0.0, 1.0)
        .add("keep_prob", &O::keep_prob, "partial labels: known-label proportion p").range(0.0, 1.0)
        .add("label_seed", &O::label_seed, "seed of the partial-label keep-mask").range(0, 9.0e15)
        .add("labels_from", &O::labels_from, "real label matrix to use")
            .choices({"none", "voc2007"})
        .add("data_dir", &O::data_dir, "shared data root (multilabel/, glove/)")
        .add("seed", &O::seed, "random seed").range(0, 9.0e15);
    return o;
  }();
  return t;
}

void check_multilabel_options(const SynthMultiLabelOptions& o) {
  if (o.min_labels > o.max_labels)
    throw ConfigError("synth_multilabel: min_labels must be <= max_labels");
  if (o.labels_from == "none" && (o.train_images < 1 || o.test_images < 1))
    throw ConfigError("synth_multilabel: train_images and test_images must be >= 1 for synthetic labels");
}

}  // namespace

void register_synth_multilabel_source(DatasetRegistry& reg) {
  reg.add(make_generator_entry(
      EntryInfo{"synth_multilabel",
                "seeded multi-label feature maps [N, H*W, C_f] with 1-4 localised category signals, "
                "label co-occurrence and partial labels (SARL shape, docs/sarl.md); labels_from: "
                "voc2007 uses the real VOC2007 label matrix and GloVe vectors",
                {"task:multilabel"}, kVersion},
      multilabel_options(), &generate_synth_multilabel, &check_multilabel_options));
}

}  // namespace vlb
