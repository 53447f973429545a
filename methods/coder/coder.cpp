// The registered CODER methods (coder_zeroshot, coder_star, coder_fewshot) and the tip_adapter
// baseline. The arithmetic lives in blocks.cpp; this file selects texts, splits and options.
#include <torch/torch.h>

#include <fmt/format.h>

#include <map>
#include <sstream>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/methods/coder.h"
#include "vlb/methods/impl/ops.h"

namespace vlb {
namespace {

using coder::NeighbourSelection;

std::vector<TextType> parse_types(const std::string& list, const char* method) {
  std::vector<TextType> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    try {
      out.push_back(parse_text_type(item));
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}: params.types: {}", method, e.what()));
    }
  }
  if (out.empty()) throw ConfigError(fmt::format("{}: params.types is empty", method));
  return out;
}

const Texts& typed_texts(const Dataset& ds, const char* method) {
  if (ds.texts.size() == 0 || !ds.texts.type.defined())
    throw DataError(ds.path, "/texts/type",
                    fmt::format("{} needs class texts with a text type per row (/texts/type: name, "
                                "attribute, analogy, synonym, pair); see datasets/SCHEMA.md",
                                method));
  return ds.texts;
}

// Rows of `t` with class >= 0 and a type in `types` (in file order).
at::Tensor select_typed(const Texts& t, const std::vector<TextType>& types) {
  auto keep = torch::zeros({t.size()}, t.cls.options().dtype(torch::kBool));
  for (TextType ty : types) keep |= t.type.to(torch::kLong).eq(static_cast<int64_t>(ty));
  keep &= t.cls.ge(0);
  return keep.nonzero().flatten();
}

// The neighbour options as named in YAML; selection() turns them into the block's struct.
struct SelectionOptions {
  int64_t k = 0;
  std::string weighting = "uniform";
  double temperature = 0.01;
  std::string backend = "tiled";

  NeighbourSelection selection() const {
    NeighbourSelection s;
    s.k = k;
    s.weighting = coder::parse_weighting(weighting);
    s.temperature = temperature;
    s.search.backend = parse_neighbour_backend(backend);
    return s;
  }
};

const OptionTable<SelectionOptions>& selection_options() {
  static const auto table = [] {
    using O = SelectionOptions;
    OptionTable<O> t;
    t.add("k", &O::k, "texts kept per image (most similar first); 0 = all (official)").min(0)
        .add("weighting", &O::weighting,
             "weight of the kept similarities: uniform (official), k*softmax(s/temperature), "
             "1/log2(rank+2)")
        .choices({"uniform", "softmax", "rank_decay"})
        .add("temperature", &O::temperature, "softmax weighting temperature").min(1e-6)
        .add("backend", &O::backend,
             "top-k search: tiled GEMM + bounded selection (exact, default: the fastest), faiss "
             "flat (exact), chunked torch GEMM (exact), faiss HNSW (approximate)")
        .choices({"tiled", "faiss", "torch", "hnsw"});
    return t;
  }();
  return table;
}

// ---- zero-shot -----------------------------------------------------------------------------

struct CoderZeroShotOptions {
  std::string types = "name,attribute,analogy,synonym";
  SelectionOptions neighbours;
};

const OptionTable<CoderZeroShotOptions>& coder_zeroshot_options() {
  static const auto table = [] {
    OptionTable<CoderZeroShotOptions> t;
    t.add("types", &CoderZeroShotOptions::types, "text types used (comma list)")
        .include(&CoderZeroShotOptions::neighbours, selection_options());
    return t;
  }();
  return table;
}

// CODER*: the zero-shot options plus the one-vs-one re-ranking.
struct CoderStarOptions {
  CoderZeroShotOptions zeroshot;
  double theta = 0.1;
  std::string theta_preset;  // empty: use theta
  int64_t top = 5;
};

const OptionTable<CoderStarOptions>& coder_star_options() {
  static const auto table = [] {
    using O = CoderStarOptions;
    OptionTable<O> t;
    t.include(&O::zeroshot, coder_zeroshot_options())
        .add("theta", &O::theta, "re-rank when softmax p1 - p2 < theta").range(0.0, 1.0)
        .add("theta_preset", &O::theta_preset, "official per-dataset theta (overrides theta)")
        .choices({"", "imagenet", "imagenet_v2", "places365", "caltech101", "dtd", "cub200",
                  "eurosat", "food101", "oxford_pets"})
        .add("top", &O::top, "classes re-ranked").range(2, 1000);
    return t;
  }();
  return table;
}

class CoderZeroShot : public Method {
 public:
  explicit CoderZeroShot(const CoderZeroShotOptions& o) : CoderZeroShot(o, false) {}

  explicit CoderZeroShot(const CoderStarOptions& o) : CoderZeroShot(o.zeroshot, true) {
    top_ = o.top;
    theta_ = o.theta_preset.empty() ? o.theta : coder::theta_preset(o.theta_preset);
  }

  void fit(const DataView& train, const RunContext& ctx) override {
    const Dataset& ds = *train.dataset;
    const char* name = rerank_ ? "coder_star" : "coder_zeroshot";
    const Texts& t = typed_texts(ds, name);
    for (TextType ty : types_)
      if (ty == TextType::kPair || ty == TextType::kOther)
        throw ConfigError(fmt::format("{}: params.types may list name, attribute, analogy, synonym "
                                      "(pair texts are used by coder_star's re-ranking)", name));
    C_ = ds.num_classes();
    auto rows = select_typed(t, types_);
    if (rows.numel() == 0)
      throw DataError(ds.path, "/texts/type", fmt::format("{}: no class texts of the requested types", name));
    texts_ = l2_normalize(t.features.index_select(0, rows));
    cls_ = t.cls.index_select(0, rows);
    type_ = t.type.index_select(0, rows);
    if (rerank_) {
      auto pr = select_typed(t, {TextType::kPair});
      pairs_ = {l2_normalize(t.features.index_select(0, pr)), t.cls.index_select(0, pr),
                t.partner.index_select(0, pr)};
      if (pr.numel() == 0) ctx.log("coder_star: the dataset has no pair texts; re-ranking is a no-op");
    }
  }

  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    torch::NoGradGuard no_grad;
    auto x = l2_normalize(eval.features());
    auto rep = coder::neighbour_representation(x, texts_, sel_);
    auto scores = coder::zeroshot_scores(rep, cls_, type_, C_);
    if (!rerank_) return {scores, {}};
    at::Tensor reranked;
    auto out = coder::ovo_rerank(scores, x, pairs_, theta_, top_, &reranked);
    const int64_t n_reranked = reranked.sum().item<int64_t>();
    ctx.log(fmt::format("coder_star: re-ranked {} of {} rows (theta {})", n_reranked, x.size(0),
                        theta_));
    return {out,
            {{"reranked", reranked},
             {"reranked_rows", torch::tensor({n_reranked}, torch::kLong)},
             {"theta", torch::tensor({theta_}, torch::kDouble)}}};
  }

 private:
  CoderZeroShot(const CoderZeroShotOptions& o, bool rerank)
      : types_(parse_types(o.types, rerank ? "coder_star" : "coder_zeroshot")),
        sel_(o.neighbours.selection()),
        rerank_(rerank) {}

  std::vector<TextType> types_;
  NeighbourSelection sel_;
  bool rerank_;
  int64_t top_ = 5;
  double theta_ = 0;
  int64_t C_ = 0;
  at::Tensor texts_, cls_, type_;
  coder::PairTexts pairs_;
};

// ---- few-shot: CODER-Adapter and Tip-Adapter -------------------------------------------------

// The cache options tip_adapter and coder_fewshot share: the member defaults are coder_fewshot's,
// tip_adapter_defaults() holds tip_adapter's.
struct CacheOptions {
  std::string base_logits = "text";
  std::string search = "val";
  std::string search_split = "val";
  std::string no_split = "error";
  bool official_test_max = false;
  double init_alpha = 1.0;
  double init_beta = 30.0;
  coder::SearchGrid grid;
};

CacheOptions tip_adapter_defaults() {
  CacheOptions o;
  o.init_beta = 5.5;
  o.grid.beta_max = 7.0;
  o.grid.alpha_max = 3.0;
  o.grid.beta_steps = 200;
  o.grid.alpha_steps = 20;
  o.grid.rounds = 1;
  return o;
}

const OptionTable<CacheOptions>& cache_options() {
  static const auto table = [] {
    using O = CacheOptions;
    using G = coder::SearchGrid;
    OptionTable<O> t;
    t.add("base_logits", &O::base_logits,
          "zero-shot term: 100 x cos to class name texts (official), to normalized class means "
          "of the shots (for data without class texts), or none")
        .choices({"text", "class_mean", "none"})
        .add("search", &O::search, "grid-search alpha/beta on params.search_split")
        .choices({"val", "none"})
        .add("search_split", &O::search_split, "split for the alpha/beta search")
        .add("no_split", &O::no_split,
             "when search_split is missing: fail, leave-one-out on the shots, or keep init")
        .choices({"error", "loo", "init"})
        .add("official_test_max", &O::official_test_max,
             "official reporting quirk: max of test accuracy at init and searched alpha/beta "
             "(selects on test labels)")
        .add("init_alpha", &O::init_alpha, "alpha without search (and for test max)").min(0.0)
        .add("init_beta", &O::init_beta, "beta without search").min(0.0)
        .add("beta_max", &O::grid, &G::beta_max, "first-round beta range end").min(0.2)
        .add("alpha_max", &O::grid, &G::alpha_max, "first-round alpha range end").min(0.2)
        .add("beta_steps", &O::grid, &G::beta_steps, "beta grid steps per round").range(1, 100000)
        .add("alpha_steps", &O::grid, &G::alpha_steps, "alpha grid steps per round")
        .range(1, 100000)
        .add("rounds", &O::grid, &G::rounds, "search rounds (each re-centres to [0.5, 1.5] x best)")
        .range(1, 10);
    return t;
  }();
  return table;
}

// Tip-Adapter: the cache options with Tip-Adapter's defaults.
struct TipAdapterOptions {
  CacheOptions cache = tip_adapter_defaults();
};

const OptionTable<TipAdapterOptions>& tip_adapter_options() {
  static const auto table = [] {
    OptionTable<TipAdapterOptions> t;
    t.include(&TipAdapterOptions::cache, cache_options());
    return t;
  }();
  return table;
}

// CODER-Adapter: the cache over neighbour representations of a text bank.
struct CoderFewShotOptions {
  CacheOptions cache;
  SelectionOptions neighbours;
  std::string types = "name,attribute,analogy";
  std::string bank = "all";
  std::string preset;  // empty: init_alpha / init_beta
};

const OptionTable<CoderFewShotOptions>& coder_fewshot_options() {
  static const auto table = [] {
    using O = CoderFewShotOptions;
    OptionTable<O> t;
    t.include(&O::cache, cache_options())
        .include(&O::neighbours, selection_options())
        .add("types", &O::types, "class text types in the bank (official: name,att,ana)")
        .add("bank", &O::bank,
             "neighbour texts: typed class texts, free-standing texts (class -1, e.g. a "
             "vocabulary bank), or both")
        .choices({"all", "typed", "free"})
        .add("preset", &O::preset, "official initial beta/alpha of that dataset (overrides init_*)")
        .choices({"", "imagenet", "caltech101", "dtd", "eurosat", "fgvc_aircraft", "food101",
                  "oxford_pets", "oxford_flowers", "stanford_cars", "sun397", "ucf101"});
    return t;
  }();
  return table;
}

struct InitPreset {
  double beta, alpha;
};
// The initial β/α of CODER's official configs/*.yaml (YCaigogogo/CVPR24-CODER).
const std::map<std::string, InitPreset>& coder_presets() {
  static const std::map<std::string, InitPreset> p = {
      {"imagenet", {72.00, 1.66}},     {"caltech101", {24.76, 100}}, {"dtd", {30.18, 2.57}},
      {"eurosat", {91.34, 1.73}},      {"fgvc_aircraft", {96, 9.775}}, {"food101", {1, 1}},
      {"oxford_pets", {26, 1}},        {"oxford_flowers", {38, 4.37}}, {"stanford_cars", {23.5, 1.5}},
      {"sun397", {43.57, 1.18}},       {"ucf101", {49.51, 2}}};
  return p;
}

class CacheAdapter : public Method {
 public:
  explicit CacheAdapter(const TipAdapterOptions& o) : CacheAdapter(o.cache, false) {
    init_alpha_ = alpha_;
    init_beta_ = beta_;
  }

  explicit CacheAdapter(const CoderFewShotOptions& o) : CacheAdapter(o.cache, true) {
    sel_ = o.neighbours.selection();
    types_ = parse_types(o.types, "coder_fewshot");
    bank_ = o.bank;
    if (!o.preset.empty()) {
      auto it = coder_presets().find(o.preset);
      if (it == coder_presets().end())
        throw ConfigError("coder_fewshot: unknown params.preset '" + o.preset + "'");
      beta_ = it->second.beta;
      alpha_ = it->second.alpha;
    }
    init_alpha_ = alpha_;
    init_beta_ = beta_;
  }

  void fit(const DataView& train, const RunContext& ctx) override {
    const Dataset& ds = *train.dataset;
    C_ = ds.num_classes();
    auto y = train.label();
    if (y.numel() == 0) throw ConfigError(name_ + ": the training split '" + train.split + "' is empty");
    auto xs = l2_normalize(train.features());
    if (coder_) select_bank(ds, ctx);
    keys_ = represent(xs);
    values_ = torch::one_hot(y, C_).to(torch::kFloat);
    build_base(ds, xs, y);

    if (search_ == "none") {
      ctx.log(fmt::format("{}: alpha {} beta {} (no search)", name_, alpha_, beta_));
      return;
    }
    auto it = ds.splits.find(search_split_);
    if (it != ds.splits.end()) {
      DataView val = make_view(ds, search_split_);
      auto xv = l2_normalize(val.features());
      auto base = base_logits(xv);
      auto aff = torch::mm(represent(xv), keys_.t());
      auto r = coder::search_alpha_beta(base, aff, values_, val.label(), coder_, grid_);
      init_search_acc_ = accuracy(base + init_alpha_ * coder::cache_logits(aff, values_, init_beta_, coder_),
                                  val.label());
      search_acc_ = r.accuracy;
      alpha_ = r.alpha, beta_ = r.beta;
      ctx.log(fmt::format("{}: searched on '{}': alpha {:.4f} beta {:.4f} (val acc {:.4f})", name_,
                          search_split_, alpha_, beta_, r.accuracy));
    } else if (no_split_ == "loo") {
      // Note [leave-one-out search]: without a validation split, each shot is scored against the
      // cache of all other shots (its own key excluded from the affinity, the min-max and the sum).
      auto a = torch::mm(keys_, keys_.t());
      auto eye = torch::eye(a.size(0), a.options().dtype(torch::kBool));
      if (coder_) {
        auto off_min = std::get<0>(a.masked_fill(eye, std::numeric_limits<float>::infinity()).min(1, true));
        a = coder::row_minmax(torch::where(eye, off_min.expand_as(a), a));
      }
      a = a.masked_fill(eye, -1e4);  // exp(-beta (1 - a)) == 0 for the excluded key
      auto base = base_logits_loo(xs, y);
      auto r = coder::search_alpha_beta(base, a, values_, y, /*minmax=*/false, grid_);
      init_search_acc_ = accuracy(base + init_alpha_ * coder::cache_logits(a, values_, init_beta_, false), y);
      search_acc_ = r.accuracy;
      alpha_ = r.alpha, beta_ = r.beta;
      ctx.log(fmt::format("{}: no split '{}'; leave-one-out search on the shots: alpha {:.4f} "
                          "beta {:.4f} (acc {:.4f})", name_, search_split_, alpha_, beta_, r.accuracy));
    } else if (no_split_ == "init") {
      ctx.log(fmt::format("{}: no split '{}'; using init alpha {} beta {}", name_, search_split_,
                          alpha_, beta_));
    } else {
      std::string names;
      for (const auto& kv : ds.splits) names += (names.empty() ? "" : ", ") + kv.first;
      throw ConfigError(fmt::format("{}: params.search_split '{}' is not a split of {} (splits: {}); "
                                    "set params.no_split to loo or init, or params.search to none",
                                    name_, search_split_, ds.path, names));
    }
  }

  Prediction predict(const DataView& eval, const RunContext& ctx) override {
    torch::NoGradGuard no_grad;
    auto x = l2_normalize(eval.features());
    auto base = base_logits(x);
    auto aff = torch::mm(represent(x), keys_.t());
    auto logits = base + alpha_ * coder::cache_logits(aff, values_, beta_, coder_);
    Prediction p;
    if (test_max_) {
      // Note [official test-set max]: classify_few_shot.py reports max(test acc at init, test acc
      // at the searched values). Reproduced only on request: it selects on test labels.
      auto init = base + init_alpha_ * coder::cache_logits(aff, values_, init_beta_, coder_);
      auto y = eval.label();
      auto acc = [&](const at::Tensor& l) { return l.argmax(1).eq(y).sum().item<int64_t>(); };
      const bool picked_init = acc(init) > acc(logits);
      if (picked_init) {
        ctx.log(name_ + ": official_test_max picked the initial alpha/beta");
        logits = init;
      }
      p.aux["test_max_picked_init"] = torch::tensor({int64_t{picked_init}}, torch::kLong);
    }
    p.scores = logits;
    // What a paper reports of the search, as scalars in metrics.json "aux" (Note [cache aux]).
    auto scalar = [&](const char* name, double v) { p.aux[name] = torch::tensor({v}, torch::kDouble); };
    scalar("init_alpha", init_alpha_);
    scalar("init_beta", init_beta_);
    scalar("alpha", alpha_);
    scalar("beta", beta_);
    const bool searched = search_acc_ >= 0;
    p.aux["searched"] = torch::tensor({int64_t{searched}}, torch::kLong);
    if (searched) {
      scalar("init_search_acc", init_search_acc_);
      scalar("search_acc", search_acc_);
    }
    return p;
  }

 private:
  void select_bank(const Dataset& ds, const RunContext& ctx) {
    const Texts& t = ds.texts;
    if (t.size() == 0) throw DataError(ds.path, "/texts", "coder_fewshot needs a text bank (/texts)");
    const auto as_mask = t.cls.options().dtype(torch::kBool);
    auto keep = torch::zeros({t.size()}, as_mask);
    if (bank_ != "free") {
      if (!t.type.defined())
        throw DataError(ds.path, "/texts/type", "coder_fewshot: params.bank '" + bank_ +
                                                   "' uses typed class texts but the file has no /texts/type");
      keep |= torch::zeros({t.size()}, as_mask).index_fill_(0, select_typed(t, types_), true);
    }
    if (bank_ != "typed") keep |= t.cls.lt(0) & t.image.lt(0);
    auto rows = keep.nonzero().flatten();
    if (rows.numel() == 0)
      throw DataError(ds.path, "/texts", "coder_fewshot: no texts for params.bank '" + bank_ + "'");
    bank_feats_ = l2_normalize(t.features.index_select(0, rows));
    ctx.log(fmt::format("coder_fewshot: {} neighbour texts", rows.numel()));
  }

  static double accuracy(const at::Tensor& logits, const at::Tensor& y) {
    return static_cast<double>(logits.argmax(1).eq(y).sum().item<int64_t>()) /
           static_cast<double>(y.size(0));
  }

  // CODER: row-normalized neighbour representation; Tip-Adapter: the unit image feature.
  at::Tensor represent(const at::Tensor& x) const {
    if (!coder_) return x;
    return l2_normalize(coder::neighbour_representation(x, bank_feats_, sel_));
  }

  void build_base(const Dataset& ds, const at::Tensor& xs, const at::Tensor& y) {
    if (base_ == "none") return;
    if (base_ == "class_mean") {
      // Note [class-mean base logits]: the real CLIP data has no class prompt embeddings, so the
      // zero-shot term 100 f W_txt is replaced by 100 f W_mean (normalized means of the shots).
      at::Tensor counts;
      W_ = l2_normalize(class_means(xs, y, C_, &counts));
      return;
    }
    const Texts& t = ds.texts;
    if (t.size() == 0 || !t.cls.defined())
      throw DataError(ds.path, "/texts/class", name_ + ": params.base_logits 'text' needs class texts; "
                                                       "use base_logits: class_mean or none");
    auto mask = t.cls.ge(0);
    if (t.type.defined()) mask &= t.type.to(torch::kLong).eq(static_cast<int64_t>(TextType::kName));
    auto rows = mask.nonzero().flatten();
    at::Tensor counts;
    W_ = l2_normalize(class_means(l2_normalize(t.features.index_select(0, rows)),
                                  t.cls.index_select(0, rows), C_, &counts));
    auto missing = counts.eq(0).nonzero();
    if (missing.size(0) > 0)
      throw DataError(ds.path, "/texts/class",
                      fmt::format("{}: {} of {} classes have no name text (first: id {}); use "
                                  "base_logits: class_mean or none",
                                  name_, missing.size(0), C_, missing[0][0].item<int64_t>()));
  }

  at::Tensor base_logits(const at::Tensor& x) const {
    if (base_ == "none") return torch::zeros({x.size(0), C_}, x.options());
    return 100.0 * torch::mm(x, W_.t());
  }

  // Leave-one-out base logits: a class mean without the scored shot (text base is unaffected).
  at::Tensor base_logits_loo(const at::Tensor& xs, const at::Tensor& y) const {
    if (base_ != "class_mean") return base_logits(xs);
    auto sums = torch::zeros({C_, xs.size(1)}, xs.options()).index_add_(0, y, xs);
    auto own = sums.index_select(0, y) - xs;  // [n, D]: own class sum without the row itself
    auto logits = 100.0 * torch::mm(xs, l2_normalize(sums).t());
    auto own_cos = 100.0 * (xs * l2_normalize(own)).sum(1);
    return logits.scatter(1, y.unsqueeze(1), own_cos.unsqueeze(1));
  }

  CacheAdapter(const CacheOptions& o, bool coder)
      : coder_(coder),
        name_(coder ? "coder_fewshot" : "tip_adapter"),
        base_(o.base_logits),
        search_(o.search),
        search_split_(o.search_split),
        no_split_(o.no_split),
        test_max_(o.official_test_max),
        alpha_(o.init_alpha),
        beta_(o.init_beta),
        grid_(o.grid) {}

  bool coder_;
  std::string name_, base_, search_, search_split_, no_split_, bank_;
  bool test_max_ = false;
  double alpha_, beta_, init_alpha_, init_beta_;
  // Note [cache aux]: accuracies on the search split (val, or leave-one-out on the shots) at the
  // initial and at the searched alpha/beta; -1 while no search ran. The searched value is the
  // last round's best, so it can be below the initial one (the initial point is off the grid).
  double init_search_acc_ = -1, search_acc_ = -1;
  coder::SearchGrid grid_;
  NeighbourSelection sel_;
  std::vector<TextType> types_;
  int64_t C_ = 0;
  at::Tensor bank_feats_, keys_, values_, W_;
};

}  // namespace

void register_coder(MethodRegistry& reg) {
  reg.add(make_entry<Method, CoderZeroShot>(
      {"coder_zeroshot",
       "CODER zero-shot: mean of attribute/analogy similarities + max of name/synonym",
       {task_tag(Task::kClassification), "training_free", "device:cuda", "needs:class_texts",
        "needs:text_types"}},
      coder_zeroshot_options()));
  reg.add(make_entry<Method, CoderZeroShot>(
      {"coder_star",
       "CODER*: CODER zero-shot + one-vs-one re-ranking of the top classes when unsure",
       {task_tag(Task::kClassification), "training_free", "device:cuda", "needs:class_texts",
        "needs:text_types"}},
      coder_star_options()));
  reg.add(make_entry<Method, CacheAdapter>(
      {"coder_fewshot", "CODER-Adapter: training-free cache over text-neighbour representations",
       {task_tag(Task::kFewShotTextBank), task_tag(Task::kClassification), "training_free",
        "device:cuda", "needs:texts", "needs:text_types?bank!=free", "needs:class_texts?base_logits=text",
        "needs:split:@search_split?search=val,no_split=error"}},
      coder_fewshot_options()));
  reg.add(make_entry<Method, CacheAdapter>(
      {"tip_adapter",
       "Tip-Adapter (training-free): zero-shot logits + alpha * exp(-beta (1 - f K^T)) V",
       {task_tag(Task::kClassification), "training_free", "device:cuda",
        "needs:class_texts?base_logits=text",
        "needs:split:@search_split?search=val,no_split=error"}},
      tip_adapter_options()));
}

}  // namespace vlb
