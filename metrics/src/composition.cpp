// Compositional benchmarks (SugarCrepe, ARO, order, Winoground) and chunked retrieval
// (vlb/metrics/composition.h; the benchmarks: SugarCrepe, Hsieh et al. NeurIPS 2023; ARO,
// Yuksekgonul et al. ICLR 2023; Winoground, Thrush et al. CVPR 2022).
//
// Streaming: update() scores the items whose images are all in the batch and keeps per-item
// outcomes; compute() aggregates. Similarities of one (image, text) pair are dot products
// accumulated in double in a fixed order, so identical texts give bit-identical similarities and
// ties are real ties.
#include "vlb/metrics/composition.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "vlb/core/error.h"
#include "vlb/core/options.h"

namespace vlb {
namespace composition {

const std::vector<std::string>& aro_symmetric_relations() {
  // Note [Composition: ARO symmetric list]: the relation names of the ARO authors' VG-Relation
  // notebook (cell 4), dropped before the macro average. Data, not code: 157 names.
  static const std::vector<std::string> names = {
    "adjusting", "attached to", "between", "bigger than", "biting", "boarding", "brushing",
    "chewing", "cleaning", "climbing", "close to", "coming from", "coming out of", "contain",
    "crossing", "dragging", "draped over", "drinking", "drinking from", "driving", "driving down",
    "driving on", "eating from", "eating in", "enclosing", "exiting", "facing", "filled with",
    "floating in", "floating on", "flying", "flying above", "flying in", "flying over",
    "flying through", "full of", "going down", "going into", "going through", "grazing in",
    "growing in", "growing on", "guiding", "hanging from", "hanging in", "hanging off",
    "hanging over", "higher than", "holding onto", "hugging", "in between", "jumping off",
    "jumping on", "jumping over", "kept in", "larger than", "leading", "leaning over", "leaving",
    "licking", "longer than", "looking in", "looking into", "looking out", "looking over",
    "looking through", "lying next to", "lying on top of", "making", "mixed with", "mounted on",
    "moving", "on the back of", "on the edge of", "on the front of", "on the other side of",
    "opening", "painted on", "parked at", "parked beside", "parked by", "parked in",
    "parked in front of", "parked near", "parked next to", "perched on", "petting", "piled on",
    "playing", "playing in", "playing on", "playing with", "pouring", "reaching for", "reading",
    "reflected on", "riding on", "running in", "running on", "running through", "seen through",
    "sitting behind", "sitting beside", "sitting by", "sitting in front of", "sitting near",
    "sitting next to", "sitting under", "skiing down", "skiing on", "sleeping in", "sleeping on",
    "smiling at", "sniffing", "splashing", "sprinkled on", "stacked on", "standing against",
    "standing around", "standing behind", "standing beside", "standing in front of",
    "standing near", "standing next to", "staring at", "stuck in", "surrounding", "swimming in",
    "swinging", "talking to", "topped with", "touching", "traveling down", "traveling on", "tying",
    "typing on", "underneath", "wading in", "waiting for", "walking across", "walking by",
    "walking down", "walking next to", "walking through", "working in", "working on", "worn on",
    "wrapped around", "wrapped in", "by", "of", "near", "next to", "with", "beside",
    "on the side of", "around",
  };
  return names;
}

RankTies parse_rank_ties(const std::string& s) {
  if (s == "lower_index") return RankTies::kLowerIndex;
  if (s == "pessimistic") return RankTies::kPessimistic;
  if (s == "optimistic") return RankTies::kOptimistic;
  throw ConfigError("retrieval ties: unknown rule '" + s +
                    "' (expected lower_index, pessimistic or optimistic)");
}

namespace {

// Number of candidates ranked before `g` in row `s` (length m), over candidates not in `skip`.
// `skip(j)` marks other ground truths of the same query (they never count against it).
template <class Skip>
int64_t ranked_before(const double* s, int64_t m, int64_t g, RankTies ties, Skip skip) {
  const double sg = s[g];
  int64_t before = 0;
  for (int64_t j = 0; j < m; ++j) {
    if (j == g || skip(j)) continue;
    if (s[j] > sg) {
      ++before;
    } else if (s[j] == sg) {
      if (ties == RankTies::kPessimistic || (ties == RankTies::kLowerIndex && j < g)) ++before;
    }
  }
  return before;
}

}  // namespace

Recall retrieval_recall(const std::function<at::Tensor(int, int64_t, int64_t)>& block, int64_t n,
                        const at::Tensor& text_image, const std::vector<int64_t>& ks, int64_t chunk,
                        RankTies ties) {
  if (chunk < 1) throw Error("retrieval: chunk must be >= 1");
  auto ti = text_image.to(at::kLong).contiguous();
  const int64_t m = ti.numel();
  const int64_t* tip = ti.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> captions(n);
  for (int64_t j = 0; j < m; ++j) {
    if (tip[j] < 0 || tip[j] >= n)
      throw Error(fmt::format("retrieval: caption {} names image {}, outside [0, {})", j, tip[j], n));
    captions[tip[j]].push_back(j);
  }
  Recall r;
  r.ks = ks;
  std::vector<int64_t> hit_i2t(ks.size(), 0), hit_t2i(ks.size(), 0);
  // image -> text: the best-ranked of the image's captions.
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t e = std::min(n, b + chunk);
    at::Tensor s = block(0, b, e).to(at::kDouble).contiguous();
    if (s.dim() != 2 || s.size(0) != e - b || s.size(1) != m)
      throw Error(fmt::format("retrieval: image block [{}, {}) has the wrong shape", b, e));
    const double* sp = s.data_ptr<double>();
    for (int64_t i = b; i < e; ++i) {
      const auto& gts = captions[i];
      if (gts.empty()) continue;
      const double* row = sp + (i - b) * m;
      int64_t best = m;
      for (int64_t g : gts)
        best = std::min(best, ranked_before(row, m, g, ties, [&](int64_t j) { return tip[j] == i; }));
      ++r.n_images;
      for (size_t k = 0; k < ks.size(); ++k) hit_i2t[k] += best < ks[k];
    }
  }
  // text -> image.
  for (int64_t b = 0; b < m; b += chunk) {
    const int64_t e = std::min(m, b + chunk);
    at::Tensor s = block(1, b, e).to(at::kDouble).contiguous();
    if (s.dim() != 2 || s.size(0) != e - b || s.size(1) != n)
      throw Error(fmt::format("retrieval: text block [{}, {}) has the wrong shape", b, e));
    const double* sp = s.data_ptr<double>();
    for (int64_t j = b; j < e; ++j) {
      int64_t before = ranked_before(sp + (j - b) * n, n, tip[j], ties, [](int64_t) { return false; });
      ++r.n_texts;
      for (size_t k = 0; k < ks.size(); ++k) hit_t2i[k] += before < ks[k];
    }
  }
  for (size_t k = 0; k < ks.size(); ++k) {
    r.i2t.push_back(r.n_images ? static_cast<double>(hit_i2t[k]) / r.n_images : 0.0);
    r.t2i.push_back(r.n_texts ? static_cast<double>(hit_t2i[k]) / r.n_texts : 0.0);
  }
  return r;
}

Recall retrieval_recall(const at::Tensor& image_emb, const at::Tensor& text_emb,
                        const at::Tensor& text_image, const std::vector<int64_t>& ks, int64_t chunk,
                        RankTies ties) {
  at::Tensor im = image_emb.to(at::kDouble).contiguous(), tx = text_emb.to(at::kDouble).contiguous();
  if (im.dim() != 2 || tx.dim() != 2 || im.size(1) != tx.size(1))
    throw Error("retrieval: image [n, E] and text [m, E] embeddings must share E");
  auto block = [&](int kind, int64_t b, int64_t e) {
    return kind == 0 ? at::mm(im.slice(0, b, e), tx.t()) : at::mm(tx.slice(0, b, e), im.t());
  };
  return retrieval_recall(block, im.size(0), text_image, ks, chunk, ties);
}

}  // namespace composition

namespace {

using composition::RankTies;

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Similarity access for one batch: dataset image row x dataset text row.
class Sims {
 public:
  Sims(const std::string& who, const Prediction& pred, const Targets& t) {
    if (!t.dataset) throw Error("metric " + who + ": needs the dataset (targets.dataset is null)");
    if (!t.rows.defined()) throw Error("metric " + who + ": needs the evaluated rows");
    auto rows = t.rows.to(at::kLong).contiguous();
    n_ = rows.numel();
    T_ = t.dataset->texts.size();
    for (int64_t i = 0; i < n_; ++i) pos_[rows.data_ptr<int64_t>()[i]] = i;
    auto ie = pred.aux.find("image_emb"), te = pred.aux.find("text_emb");
    if (ie != pred.aux.end() && te != pred.aux.end()) {
      img_ = ie->second.to(at::kFloat).contiguous();
      txt_ = te->second.to(at::kFloat).contiguous();
      if (img_.dim() != 2 || img_.size(0) != n_ || txt_.dim() != 2 || txt_.size(0) != T_ ||
          txt_.size(1) != img_.size(1))
        throw Error(fmt::format("metric {}: aux image_emb {} / text_emb {} must be [n={}, E] / [T={}, E]",
                                who, shape_text(img_), shape_text(txt_), n_, T_));
    } else {
      if (!pred.scores.defined() || pred.scores.dim() != 2 || pred.scores.size(0) != n_ ||
          pred.scores.size(1) != T_)
        throw Error(fmt::format("metric {}: scores must be [n={}, T={}] (or give aux image_emb and "
                                "text_emb), got {}", who, n_, T_, shape_text(pred.scores)));
      scores_ = pred.scores.to(at::kFloat).contiguous();
    }
  }
  // Position of a dataset image row among the evaluated rows, -1 if absent.
  int64_t position(int64_t row) const {
    auto it = pos_.find(row);
    return it == pos_.end() ? -1 : it->second;
  }
  double at(int64_t pos, int64_t text) const {
    if (scores_.defined()) return scores_.data_ptr<float>()[pos * T_ + text];
    const int64_t E = img_.size(1);
    const float* a = img_.data_ptr<float>() + pos * E;
    const float* b = txt_.data_ptr<float>() + text * E;
    double s = 0;
    for (int64_t k = 0; k < E; ++k) s += static_cast<double>(a[k]) * b[k];
    return s;
  }
  int64_t n() const { return n_; }
  const at::Tensor& image_emb() const { return img_; }
  const at::Tensor& text_emb() const { return txt_; }
  const at::Tensor& scores() const { return scores_; }

 private:
  int64_t n_ = 0, T_ = 0;
  std::unordered_map<int64_t, int64_t> pos_;
  at::Tensor img_, txt_, scores_;
};

// Outcome of one benchmark item.
struct ItemOutcome {
  int64_t subset = 0;
  bool correct = false;               // 2-way / k-way; Winoground: text score
  bool image_ok = false, group_ok = false;  // Winoground only
};

enum class GroupRule { kTwoWay, kKWay, kWinoground };

// The options of every group metric; each metric declares the ones it uses, with its own defaults.
struct GroupOptions {
  std::string group;  // defaults to the metric's name
  bool per_subset = false;
  int64_t min_count = 0;
  bool drop_symmetric = false;
  std::string ties = "first_index";
};

class GroupMetric : public Metric {
 public:
  GroupMetric(std::string metric, GroupRule rule, const GroupOptions& o)
      : metric_(std::move(metric)), kind_(metric_), rule_(rule), group_(o.group),
        min_count_(o.min_count), drop_symmetric_(o.drop_symmetric), per_subset_(o.per_subset),
        first_index_ties_(o.ties == "first_index") {}

  void reset() override {
    done_.clear();
    outcomes_.clear();
    subset_names_.clear();
    split_rows_ = 0;
  }

  void update(const Prediction& pred, const Targets& t) override {
    Sims sims(metric_, pred, t);
    split_rows_ += sims.n();
    auto it = t.dataset->groups.find(group_);
    if (it == t.dataset->groups.end()) {
      std::string avail;
      for (const auto& kv : t.dataset->groups) avail += (avail.empty() ? "" : ", ") + kv.first;
      throw ConfigError(fmt::format("metric {}: dataset '{}' has no group '{}' (available: {}); set "
                                    "the metric's `group` param", metric_, t.dataset->name, group_,
                                    avail.empty() ? "none" : avail));
    }
    const ItemGroup& g = it->second;
    if (g.kind != kind_)
      throw ConfigError(fmt::format("metric {}: group '{}' holds {} items, not {}", metric_, group_,
                                    g.kind, kind_));
    const int64_t I = g.image.size(1), K = g.text.size(1);
    if (rule_ == GroupRule::kTwoWay && K != 2)
      throw DataError(t.dataset->path, "/groups/" + group_ + "/text",
                      fmt::format("{} needs 2 texts per item (correct, wrong), got {}", metric_, K));
    if (rule_ == GroupRule::kKWay && K < 2)
      throw DataError(t.dataset->path, "/groups/" + group_ + "/text",
                      fmt::format("{} needs >= 2 texts per item, got {}", metric_, K));
    if (rule_ == GroupRule::kWinoground && (K != 2 || I != 2))
      throw DataError(t.dataset->path, "/groups/" + group_,
                      fmt::format("winoground needs 2 images and 2 texts per item, got {} and {}", I, K));
    subset_names_ = g.subset_names;
    auto im = g.image.contiguous(), tx = g.text.contiguous(), sub = g.subset.contiguous();
    const int64_t* ip = im.data_ptr<int64_t>();
    const int64_t* tp = tx.data_ptr<int64_t>();
    const int64_t* sp = sub.data_ptr<int64_t>();
    for (int64_t item = 0; item < g.size(); ++item) {
      if (done_.count(item)) continue;
      std::vector<int64_t> pos(I);
      bool all = true;
      for (int64_t a = 0; a < I; ++a) all &= (pos[a] = sims.position(ip[item * I + a])) >= 0;
      if (!all) continue;
      const int64_t* texts = tp + item * K;
      ItemOutcome o;
      o.subset = sp[item];
      if (rule_ == GroupRule::kTwoWay) {
        // Strict: a tie counts as wrong (SugarCrepe `>`; ARO's argmax over [false, true] picks 0).
        o.correct = sims.at(pos[0], texts[0]) > sims.at(pos[0], texts[1]);
      } else if (rule_ == GroupRule::kKWay) {
        const double s0 = sims.at(pos[0], texts[0]);
        bool ok = true;
        for (int64_t k = 1; k < K && ok; ++k) {
          const double sk = sims.at(pos[0], texts[k]);
          // Note [Composition: order ties]: numpy argmax returns the first maximum, so the
          // official rule lets index 0 win ties (`ties: first_index`); `strict` counts them wrong.
          ok = first_index_ties_ ? !(sk > s0) : s0 > sk;
        }
        o.correct = ok;
      } else {
        const double c0i0 = sims.at(pos[0], texts[0]), c1i0 = sims.at(pos[0], texts[1]);
        const double c0i1 = sims.at(pos[1], texts[0]), c1i1 = sims.at(pos[1], texts[1]);
        o.correct = c0i0 > c1i0 && c1i1 > c0i1;
        o.image_ok = c0i0 > c0i1 && c1i1 > c1i0;
        o.group_ok = o.correct && o.image_ok;
      }
      done_.insert(item);
      outcomes_.push_back(o);
    }
  }

  std::vector<MetricValue> compute() const override {
    if (outcomes_.empty())
      throw Error(fmt::format("metric {}: no item of group '{}' has all its images among the {} "
                              "evaluated rows (evaluate the split the group was built on)",
                              metric_, group_, split_rows_));
    const std::string p = group_ + "/";
    if (rule_ == GroupRule::kWinoground) {
      double t = 0, i = 0, g = 0;
      for (const auto& o : outcomes_) t += o.correct, i += o.image_ok, g += o.group_ok;
      const double n = static_cast<double>(outcomes_.size());
      return {{p + "text", t / n, true}, {p + "image", i / n, true}, {p + "group", g / n, true}};
    }
    if (rule_ == GroupRule::kKWay) {
      double c = 0;
      for (const auto& o : outcomes_) c += o.correct;
      return {{p + "precision@1", c / static_cast<double>(outcomes_.size()), true}};
    }
    // Two-way: per-subset accuracy, filtered, macro mean.
    std::map<int64_t, std::pair<int64_t, int64_t>> per;  // subset -> (correct, total)
    for (const auto& o : outcomes_) {
      auto& c = per[o.subset];
      c.first += o.correct;
      ++c.second;
    }
    std::set<std::string> symmetric;
    if (drop_symmetric_)
      symmetric.insert(composition::aro_symmetric_relations().begin(),
                       composition::aro_symmetric_relations().end());
    std::vector<MetricValue> out;
    double sum = 0;
    int64_t kept = 0;
    for (const auto& [s, c] : per) {
      const std::string& name = subset_names_.at(s);
      if (symmetric.count(name) || c.second < min_count_) continue;
      const double acc = static_cast<double>(c.first) / c.second;
      if (per_subset_) out.push_back({p + name, acc, true});
      sum += acc;
      ++kept;
    }
    if (kept == 0)
      throw Error(fmt::format("metric {}: every subset of group '{}' was filtered out ({} subsets; "
                              "min_count {}, drop_symmetric {})", metric_, group_, per.size(),
                              min_count_, drop_symmetric_));
    out.push_back({p + "mean", sum / kept, true});
    out.push_back({p + "subsets", static_cast<double>(kept), true});
    return out;
  }
  std::vector<std::string> value_names() const override {  // per-subset values: named by the data
    const std::string p = group_ + "/";
    if (rule_ == GroupRule::kWinoground) return {p + "text", p + "image", p + "group"};
    if (rule_ == GroupRule::kKWay) return {p + "precision@1"};
    return {p + "mean", p + "subsets"};
  }

 private:
  std::string metric_, kind_;
  GroupRule rule_;
  std::string group_;
  int64_t min_count_;
  bool drop_symmetric_, per_subset_, first_index_ties_;
  std::set<int64_t> done_;
  std::vector<ItemOutcome> outcomes_;
  std::vector<std::string> subset_names_;
  int64_t split_rows_ = 0;
};

struct RetrievalOptions {
  std::string name = "retrieval";
  int64_t text_source = -1;
  int64_t chunk = 1024;
  std::string ties = "lower_index";
};

class RetrievalMetric : public Metric {
 public:
  explicit RetrievalMetric(const RetrievalOptions& o)
      : prefix_(o.name), source_(o.text_source), chunk_(o.chunk),
        ties_(composition::parse_rank_ties(o.ties)) {}

  void reset() override { result_ = composition::Recall{}; seen_ = false; }

  void update(const Prediction& pred, const Targets& t) override {
    if (seen_)
      throw Error("metric retrieval: needs every evaluated image in one update (got a second batch)");
    seen_ = true;
    Sims sims("retrieval", pred, t);
    const Texts& tx = t.dataset->texts;
    if (tx.size() == 0) throw ConfigError("metric retrieval: dataset '" + t.dataset->name + "' has no texts");
    auto img = tx.image.contiguous();
    auto src = tx.source.to(at::kLong).contiguous();
    std::vector<int64_t> cand, owner;
    for (int64_t j = 0; j < tx.size(); ++j) {
      const int64_t s = src.data_ptr<int64_t>()[j];
      if (source_ < 0 ? s == 2 : s != source_) continue;
      const int64_t pos = sims.position(img.data_ptr<int64_t>()[j]);
      if (img.data_ptr<int64_t>()[j] < 0 || pos < 0) continue;
      cand.push_back(j);
      owner.push_back(pos);
    }
    if (cand.empty())
      throw Error(fmt::format("metric retrieval: no caption (text_source {}) of dataset '{}' belongs "
                              "to the {} evaluated images", source_, t.dataset->name, sims.n()));
    auto cidx = at::tensor(cand, at::kLong);
    auto text_image = at::tensor(owner, at::kLong);
    if (sims.image_emb().defined()) {
      result_ = composition::retrieval_recall(sims.image_emb(), sims.text_emb().index_select(0, cidx),
                                              text_image, {1, 5, 10}, chunk_, ties_);
    } else {
      const at::Tensor& sc = sims.scores();
      auto block = [&](int kind, int64_t b, int64_t e) {
        return kind == 0 ? sc.slice(0, b, e).index_select(1, cidx)
                         : sc.index_select(1, cidx.slice(0, b, e)).t();
      };
      result_ = composition::retrieval_recall(block, sims.n(), text_image, {1, 5, 10}, chunk_, ties_);
    }
  }

  std::vector<MetricValue> compute() const override {
    if (!seen_) throw Error("metric retrieval: compute() before update()");
    const std::string p = prefix_ + "/";
    std::vector<MetricValue> out;
    for (size_t k = 0; k < result_.ks.size(); ++k)
      out.push_back({p + fmt::format("i2t_r{}", result_.ks[k]), result_.i2t[k], true});
    for (size_t k = 0; k < result_.ks.size(); ++k)
      out.push_back({p + fmt::format("t2i_r{}", result_.ks[k]), result_.t2i[k], true});
    return out;
  }
  std::vector<std::string> value_names() const override {
    std::vector<std::string> out;
    for (const char* dir : {"i2t", "t2i"})
      for (int k : {1, 5, 10}) out.push_back(prefix_ + "/" + fmt::format("{}_r{}", dir, k));
    return out;
  }

 private:
  std::string prefix_;
  int64_t source_, chunk_;
  RankTies ties_;
  composition::Recall result_;
  bool seen_ = false;
};

// Which group options a metric declares, and their defaults for it.
struct GroupDecl {
  bool subsets = false;  // per_subset, min_count, drop_symmetric
  bool ties = false;
  GroupOptions defaults;
};

RegistryEntry<Metric> group_entry(const std::string& name, const std::string& help, GroupRule rule,
                                  GroupDecl d, const char* subset_word = "subset") {
  d.defaults.group = name;
  OptionTable<GroupOptions> t(d.defaults);
  t.add("group", &GroupOptions::group, "the /groups/<name> to score; also the output prefix");
  if (d.subsets) {
    const std::string w = subset_word;
    t.add("per_subset", &GroupOptions::per_subset, "report every " + w + "'s accuracy")
        .add("min_count", &GroupOptions::min_count, "drop " + w + "s with fewer items").range(0, 1e9)
        .add("drop_symmetric", &GroupOptions::drop_symmetric,
             d.defaults.drop_symmetric ? "drop the official symmetric relation list"
                                       : "drop ARO's symmetric relation names");
  }
  if (d.ties)
    t.add("ties", &GroupOptions::ties,
          "first_index: numpy argmax (index 0 wins ties); strict: ties wrong")
        .choices({"first_index", "strict"});
  return make_entry<Metric, GroupOptions>(
      {name, help, {task_tag(Task::kImageText)}}, t,
      [name, rule](const GroupOptions& o) { return std::make_unique<GroupMetric>(name, rule, o); });
}

const OptionTable<RetrievalOptions>& retrieval_options() {
  static const auto table = [] {
    OptionTable<RetrievalOptions> t;
    t.add("name", &RetrievalOptions::name, "output prefix")
        .add("text_source", &RetrievalOptions::text_source,
             "captions used: -1 original + recaptioned, 0, 1 or 2 only")
        .range(-1, 2)
        .add("chunk", &RetrievalOptions::chunk, "query rows scored at once (memory chunk x candidates)")
        .range(1, 1e9)
        .add("ties", &RetrievalOptions::ties,
             "a candidate tied with the ground truth ranks before it if it has a lower index "
             "(lower_index), always (pessimistic) or never (optimistic)")
        .choices({"lower_index", "pessimistic", "optimistic"});
    return t;
  }();
  return table;
}

}  // namespace

void register_composition_metrics(MetricRegistry& reg) {
  GroupDecl sugarcrepe{true, false, {}};
  sugarcrepe.defaults.per_subset = true;
  reg.add(group_entry("sugarcrepe", "SugarCrepe: s(pos) > s(neg) strictly; per-subset accuracy and mean",
                      GroupRule::kTwoWay, sugarcrepe));
  GroupDecl relation{true, false, {}};
  relation.defaults.drop_symmetric = true;
  reg.add(group_entry("aro_relation",
                      "ARO VG-Relation: 2-way strict, macro mean over non-symmetric relations",
                      GroupRule::kTwoWay, relation, "relation"));
  GroupDecl attribution{true, false, {}};
  attribution.defaults.min_count = 25;
  reg.add(group_entry("aro_attribution",
                      "ARO VG-Attribution: 2-way strict, macro mean over attribute pairs with >= 25 items",
                      GroupRule::kTwoWay, attribution, "attribute pair"));
  reg.add(group_entry("order", "ARO COCO/Flickr-Order style k-way: correct <=> argmax == 0",
                      GroupRule::kKWay, {false, true, {}}));
  reg.add(group_entry("winoground", "Winoground text / image / group scores (strict >)",
                      GroupRule::kWinoground, {}));
  reg.add(make_entry<Metric, RetrievalMetric>(
      {"retrieval", "image<->text R@1/5/10 over the captions of the evaluated images, chunked",
       {task_tag(Task::kImageText)}},
      retrieval_options()));
}

}  // namespace vlb
