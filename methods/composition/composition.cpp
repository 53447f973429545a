// contrastive_heads and raw_similarity (vlb/methods/composition.h, docs/composition.md).
//
// contrastive_heads trains two projection heads (image, text) on frozen embeddings with the CLIP
// softmax InfoNCE or the SigLIP sigmoid loss, optionally followed by NegCLIP-style hard-negative
// fine-tuning, and optionally with sentence sampling of long captions. The paper's two axes are
// parameters: caption_source (which /texts rows are the training targets) and text_tower (which
// text-embedding set is read).
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <unordered_map>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/methods/composition.h"
#include "vlb/methods/impl/minibatch.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace composition {

at::Tensor softmax_contrastive_loss(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& scale) {
  const int64_t B = img.size(0);
  auto logits = scale * img.mm(txt.t());  // [B, B + B']
  auto target = torch::arange(B, img.options().dtype(torch::kLong));
  auto i2t = torch::nn::functional::cross_entropy(logits, target);
  // Text -> image only over the B true captions (NegCLIP: logits_per_text[:B]).
  auto t2i = torch::nn::functional::cross_entropy(logits.narrow(1, 0, B).t(), target);
  return 0.5 * (i2t + t2i);
}

at::Tensor sigmoid_contrastive_loss(const at::Tensor& img, const at::Tensor& txt, const at::Tensor& scale,
                                    const at::Tensor& bias) {
  const int64_t B = img.size(0), M = txt.size(0);
  auto logits = scale * img.mm(txt.t()) + bias;
  auto z = -torch::ones({B, M}, logits.options());
  z.narrow(1, 0, B).fill_diagonal_(1.0);
  return -torch::nn::functional::logsigmoid(z * logits).sum() / B;
}

at::Tensor text_tower(const Dataset& ds, const std::string& name) {
  if (ds.texts.size() == 0)
    throw ConfigError("dataset '" + ds.name + "' has no /texts: image-text methods need captions");
  if (name.empty()) return ds.texts.features;
  auto it = ds.texts.towers.find(name);
  if (it == ds.texts.towers.end()) {
    std::string avail;
    for (const auto& kv : ds.texts.towers) avail += (avail.empty() ? "" : ", ") + kv.first;
    throw ConfigError(fmt::format("text_tower '{}': dataset '{}' has no /texts/towers/{} (available: "
                                  "{}; \"\" = /texts/features)", name, ds.name, name,
                                  avail.empty() ? "none" : avail));
  }
  return it->second;
}

namespace {

Prediction make_prediction(const at::Tensor& img, const at::Tensor& txt, int64_t dense_max) {
  Prediction p;
  p.aux["image_emb"] = img;
  p.aux["text_emb"] = txt;
  if (img.size(0) * txt.size(0) <= dense_max) p.scores = img.mm(txt.t());
  return p;
}

// dense_scores_max, in both methods.
struct DenseOptions {
  int64_t dense_scores_max = 4194304;  // 2^22 similarities = 16 MiB of float32
};

const OptionTable<DenseOptions>& dense_table() {
  static const OptionTable<DenseOptions> table = [] {
    OptionTable<DenseOptions> t;
    t.add("dense_scores_max", &DenseOptions::dense_scores_max,
          "also return dense scores [n, T] when n * T <= this")
        .range(0, 9.0e15);
    return t;
  }();
  return table;
}

struct RawOptions {
  std::string text_tower;
  DenseOptions dense;
};

const OptionTable<RawOptions>& raw_table() {
  static const OptionTable<RawOptions> table = [] {
    OptionTable<RawOptions> t;
    t.add("text_tower", &RawOptions::text_tower,
          "\"\" = /texts/features, else /texts/towers/<name> (same D)")
        .include(&RawOptions::dense, dense_table());
    return t;
  }();
  return table;
}

class RawSimilarity final : public Method {
 public:
  explicit RawSimilarity(const RawOptions& o) : o_(o) {}
  void fit(const DataView&, const RunContext&) override {}
  Prediction predict(const DataView& eval, const RunContext&) override {
    torch::NoGradGuard ng;
    at::Tensor txt = text_tower(*eval.dataset, o_.text_tower);
    at::Tensor img = eval.features();
    if (txt.size(1) != img.size(1))
      throw ConfigError(fmt::format("raw_similarity: text tower '{}' has D={} but images have D={}; "
                                    "frozen embeddings can only be compared in one space (train "
                                    "contrastive_heads instead)", o_.text_tower, txt.size(1), img.size(1)));
    return make_prediction(l2_normalize(img), l2_normalize(txt), o_.dense.dense_scores_max);
  }

 private:
  RawOptions o_;
};

// One or two linear layers. The weights are drawn from `gen` on the CPU and then moved to
// `device`, so every device starts from the same values; plain tensors rather than nn::Linear,
// whose constructor would draw a throw-away initialisation on the CPU first.
struct Head {
  std::vector<at::Tensor> w, b;  // per layer: [out, in], [out]
  Head(int64_t in, int64_t hidden, int64_t out, at::Generator& gen, const at::Device& device) {
    auto layer = [&](int64_t a, int64_t o) {
      w.push_back((at::randn({o, a}, gen, torch::kFloat) / std::sqrt(static_cast<double>(a)))
                      .to(device).requires_grad_());
      b.push_back(torch::zeros({o}, torch::TensorOptions().device(device)).requires_grad_());
    };
    if (hidden > 0) {
      layer(in, hidden);
      layer(hidden, out);
    } else {
      layer(in, out);
    }
  }
  std::vector<at::Tensor> parameters() const {
    std::vector<at::Tensor> out;
    for (size_t i = 0; i < w.size(); ++i) out.insert(out.end(), {w[i], b[i]});
    return out;
  }
  at::Tensor forward(const at::Tensor& x) const {
    at::Tensor h = torch::linear(x, w[0], b[0]);
    return w.size() == 1 ? h : torch::linear(torch::relu(h), w[1], b[1]);
  }
};

struct HeadsOptions {
  std::string text_tower;
  std::string caption_source = "recaptioned";
  std::string loss = "softmax";
  int64_t embed_dim = 64, hidden = 0, epochs = 30, batch_size = 256;
  double lr = 1e-3, weight_decay = 0.0;
  double init_temperature = 0.07, max_scale = 100.0;
  double sigmoid_init_scale = 10.0, sigmoid_init_bias = -10.0;
  bool learn_scale = true;
  bool hard_negatives = false;
  int64_t hard_negative_epochs = 10;
  double hard_negative_lr = 5e-4;
  bool sentence_sampling = false;
  double sentence_keep = 0.5;
  DenseOptions dense;
};

const OptionTable<HeadsOptions>& heads_table() {
  static const OptionTable<HeadsOptions> table = [] {
    using H = HeadsOptions;
    OptionTable<H> t;
    t.add("text_tower", &H::text_tower, "\"\" = /texts/features, else /texts/towers/<name>")
        .add("caption_source", &H::caption_source, "training captions: /texts/source 0, 1 or both")
        .choices({"original", "recaptioned", "both"})
        .add("loss", &H::loss, "CLIP symmetric InfoNCE or SigLIP sigmoid").choices({"softmax", "sigmoid"})
        .add("embed_dim", &H::embed_dim, "joint embedding width").range(1, 65536)
        .add("hidden", &H::hidden, "0: linear heads; > 0: one ReLU hidden layer of this width")
        .range(0, 65536)
        .add("epochs", &H::epochs, "main training epochs").range(0, 100000)
        .add("batch_size", &H::batch_size, "images per step").range(2, 1000000)
        .add("lr", &H::lr, "Adam learning rate").range(0.0, 10.0)
        .add("weight_decay", &H::weight_decay, "Adam (L2) weight decay").range(0.0, 10.0)
        .add("init_temperature", &H::init_temperature, "softmax: initial scale = 1 / this")
        .range(1e-4, 100.0)
        .add("max_scale", &H::max_scale, "the scale is clamped to at most this").range(1.0, 1e6)
        .add("sigmoid_init_scale", &H::sigmoid_init_scale, "sigmoid: initial scale").range(1e-3, 1e6)
        .add("sigmoid_init_bias", &H::sigmoid_init_bias, "sigmoid: initial bias").range(-1e6, 1e6)
        .add("learn_scale", &H::learn_scale, "learn the scale (and the sigmoid bias)")
        .add("hard_negatives", &H::hard_negatives,
             "NegCLIP-style fine-tuning with negative captions as extra columns")
        .add("hard_negative_epochs", &H::hard_negative_epochs,
             "epochs of that fine-tuning (after `epochs`)")
        .range(0, 100000)
        .add("hard_negative_lr", &H::hard_negative_lr, "its Adam learning rate").range(0.0, 10.0)
        .add("sentence_sampling", &H::sentence_sampling,
             "train on a random subset of a caption's sentences")
        .add("sentence_keep", &H::sentence_keep, "probability of keeping each sentence").range(0.0, 1.0)
        .include(&H::dense, dense_table());
    return t;
  }();
  return table;
}

class ContrastiveHeads final : public Method {
 public:
  explicit ContrastiveHeads(const HeadsOptions& o) : o_(o) {}

  void fit(const DataView& train, const RunContext& ctx) override {
    SerialIntraOp serial;  // Note [Trained together]: the same bits at any thread count
    const Dataset& ds = *train.dataset;
    at::Tensor Y = l2_normalize(text_tower(ds, o_.text_tower).to(torch::kFloat));
    at::Tensor X = l2_normalize(train.features());
    const Texts& tx = ds.texts;
    const int64_t T = tx.size(), n = train.size();

    // The caption bookkeeping below is host work: its index columns are read from host copies.
    std::unordered_map<int64_t, int64_t> pos;
    auto rows = train.rows.cpu().contiguous();
    for (int64_t i = 0; i < n; ++i) pos[rows.data_ptr<int64_t>()[i]] = i;
    // Note [Composition: caption source]: training targets are /texts rows of the training images
    // with source 0 (original / alt-text), 1 (recaptioned) or both; sentence rows (parent >= 0)
    // are never targets themselves.
    const bool use0 = o_.caption_source != "recaptioned", use1 = o_.caption_source != "original";
    std::vector<std::vector<int64_t>> caps(n), negs(n);
    std::unordered_map<int64_t, std::vector<int64_t>> sentences;
    auto img = tx.image.cpu().contiguous();
    auto src = tx.source.to(torch::kCPU, torch::kLong).contiguous();
    at::Tensor par = tx.parent.defined() ? tx.parent.cpu().contiguous() : at::Tensor();
    for (int64_t j = 0; j < T; ++j) {
      const int64_t pj = par.defined() ? par.data_ptr<int64_t>()[j] : -1;
      if (pj >= 0) { sentences[pj].push_back(j); continue; }
      auto it = pos.find(img.data_ptr<int64_t>()[j]);
      if (it == pos.end()) continue;
      const int64_t s = src.data_ptr<int64_t>()[j];
      if ((s == 0 && use0) || (s == 1 && use1)) caps[it->second].push_back(j);
      if (s == 2) negs[it->second].push_back(j);
    }
    std::vector<int64_t> usable;
    int64_t with_neg = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!caps[i].empty()) usable.push_back(i);
      with_neg += !negs[i].empty() && !caps[i].empty();
    }
    if (usable.empty())
      throw ConfigError(fmt::format("contrastive_heads: no training image of split '{}' has a caption "
                                    "with caption_source '{}' (/texts/source 0 = original, 1 = "
                                    "recaptioned)", train.split, o_.caption_source));
    if (o_.hard_negatives && with_neg == 0)
      throw ConfigError("contrastive_heads: hard_negatives is on but no training image has a "
                        "negative caption (/texts/source 2 with /texts/image set)");
    if (o_.sentence_sampling && sentences.empty())
      throw ConfigError("contrastive_heads: sentence_sampling needs sentence rows (/texts/parent)");

    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(ctx.seed);
    img_head_ = std::make_shared<Head>(X.size(1), o_.hidden, o_.embed_dim, gen, X.device());
    txt_head_ = std::make_shared<Head>(Y.size(1), o_.hidden, o_.embed_dim, gen, X.device());
    const bool sigmoid = o_.loss == "sigmoid";
    // Note [Composition: loss init]: CLIP t = 1/0.07 (clamped <= max_scale); SigLIP t = 10,
    // b = -10. The paper's loss type and temperature are unverified.
    log_scale_ = torch::full({}, std::log(sigmoid ? o_.sigmoid_init_scale : 1.0 / o_.init_temperature),
                             X.options())
                     .set_requires_grad(o_.learn_scale);
    bias_ = torch::full({}, sigmoid ? o_.sigmoid_init_bias : 0.0, X.options())
                .set_requires_grad(o_.learn_scale && sigmoid);
    std::vector<at::Tensor> params;
    for (auto& t : img_head_->parameters()) params.push_back(t);
    for (auto& t : txt_head_->parameters()) params.push_back(t);
    if (o_.learn_scale) params.push_back(log_scale_);
    if (o_.learn_scale && sigmoid) params.push_back(bias_);

    auto rand_index = [&](int64_t k) { return at::randint(k, {1}, gen, torch::kLong).item<int64_t>(); };
    auto text_target = [&](int64_t cap) -> at::Tensor {
      auto it = sentences.find(cap);
      if (!o_.sentence_sampling || it == sentences.end()) return Y[cap];
      // Note [Composition: sentence sampling]: keep each sentence with probability
      // sentence_keep (at least one); the target is the normalized mean of the kept sentences'
      // embeddings (the feature-level stand-in for re-encoding the shortened caption).
      const auto& ss = it->second;
      auto keep = at::rand({static_cast<int64_t>(ss.size())}, gen) < o_.sentence_keep;
      std::vector<int64_t> kept;
      for (size_t k = 0; k < ss.size(); ++k)
        if (keep[k].item<bool>()) kept.push_back(ss[k]);
      if (kept.empty()) kept.push_back(ss[rand_index(static_cast<int64_t>(ss.size()))]);
      return l2_normalize(Y.index_select(0, list_on(kept, Y.device())).mean(0), 0);
    };

    torch::AutoGradMode grad(true);
    auto run_phase = [&](int64_t epochs, double lr, bool with_negatives) {
      if (epochs == 0) return 0.0;
      torch::optim::Adam opt(params, torch::optim::AdamOptions(lr).weight_decay(o_.weight_decay));
      std::vector<int64_t> pool;
      for (int64_t i : usable)
        if (!with_negatives || !negs[i].empty()) pool.push_back(i);
      // A contrastive loss needs a pair: a last batch of one image is dropped.
      MiniBatches batches(static_cast<int64_t>(pool.size()), {o_.batch_size, 2}, gen);
      double last = 0;
      for (int64_t ep = 0; ep < epochs; ++ep) {
        double sum = 0;
        int64_t steps = 0;
        for (const at::Tensor& idx : batches.epoch()) {
          std::vector<int64_t> bi;
          std::vector<at::Tensor> tt, nt;
          for (int64_t k = 0; k < idx.size(0); ++k) {
            const int64_t i = pool[idx[k].item<int64_t>()];
            bi.push_back(i);
            const auto& c = caps[i];
            tt.push_back(text_target(c[rand_index(static_cast<int64_t>(c.size()))]));
            if (with_negatives) nt.push_back(Y[negs[i][rand_index(static_cast<int64_t>(negs[i].size()))]]);
          }
          for (auto& t : nt) tt.push_back(t);
          auto xi = img_head_->forward(X.index_select(0, list_on(bi, X.device())));
          auto yt = txt_head_->forward(torch::stack(tt));
          xi = l2_normalize(xi);
          yt = l2_normalize(yt);
          auto scale = log_scale_.exp().clamp_max(o_.max_scale);
          auto loss = sigmoid ? sigmoid_contrastive_loss(xi, yt, scale, bias_)
                              : softmax_contrastive_loss(xi, yt, scale);
          opt.zero_grad();
          loss.backward();
          opt.step();
          sum += loss.item<double>();
          ++steps;
        }
        last = steps ? sum / steps : 0.0;
      }
      return last;
    };
    double l_main = run_phase(o_.epochs, o_.lr, false);
    double l_hn =
        o_.hard_negatives ? run_phase(o_.hard_negative_epochs, o_.hard_negative_lr, true) : 0.0;
    ctx.log(fmt::format("contrastive_heads: {} images with captions ({} with negatives), final loss "
                        "{:.4f}{}, scale {:.2f}", usable.size(), with_neg, l_main,
                        o_.hard_negatives ? fmt::format(" / hard-negative {:.4f}", l_hn) : "",
                        log_scale_.exp().item<double>()));
  }

  Prediction predict(const DataView& eval, const RunContext&) override {
    if (!img_head_) throw Error("contrastive_heads: predict() before fit()");
    torch::NoGradGuard ng;
    auto xi = l2_normalize(img_head_->forward(l2_normalize(eval.features())));
    auto yt = l2_normalize(txt_head_->forward(
        l2_normalize(text_tower(*eval.dataset, o_.text_tower).to(torch::kFloat))));
    return make_prediction(xi, yt, o_.dense.dense_scores_max);
  }

 private:
  HeadsOptions o_;
  std::shared_ptr<Head> img_head_, txt_head_;
  at::Tensor log_scale_, bias_;
};

}  // namespace
}  // namespace composition

void register_composition(MethodRegistry& reg) {
  reg.add(make_entry<Method, composition::RawSimilarity>(
      {"raw_similarity", "frozen image and text embeddings compared as they come (cosine)",
       {task_tag(Task::kImageText), "training_free", "device:cuda", "needs:texts",
        "needs:text_tower:@text_tower?text_tower!="}},
      composition::raw_table()));
  reg.add(make_entry<Method, composition::ContrastiveHeads>(
      {"contrastive_heads",
       "projection heads on frozen image/caption embeddings, CLIP/SigLIP loss, NegCLIP hard negatives",
       {task_tag(Task::kImageText), "trains", "device:cuda", "needs:image_texts",
        "needs:text_tower:@text_tower?text_tower!=", "needs:text_parent?sentence_sampling=true",
        "together"}},
      composition::heads_table()));
}

}  // namespace vlb
