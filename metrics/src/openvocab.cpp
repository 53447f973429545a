// cACC / sACC / NMI / ARI / exact-name accuracy (see vlb/metrics/openvocab.h).
//
// Streaming: update() only appends per-row cluster ids, class ids and name similarities, so the
// batching never changes the result; compute() evaluates once over all rows.
#include "vlb/metrics/openvocab.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <string>

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/core/text.h"
#include "vlb/metrics/hungarian.h"

namespace vlb {
namespace {

// Maps arbitrary ids to 0..k-1 in order of first appearance.
std::vector<int64_t> compact(const std::vector<int64_t>& ids, int64_t* k) {
  std::map<int64_t, int64_t> m;
  std::vector<int64_t> out;
  out.reserve(ids.size());
  for (int64_t v : ids) out.push_back(m.emplace(v, static_cast<int64_t>(m.size())).first->second);
  *k = static_cast<int64_t>(m.size());
  return out;
}

struct Contingency {
  int64_t rows = 0, cols = 0, n = 0;
  std::vector<double> w;  // [rows, cols] counts
  std::vector<double> a, b;  // row / column sums
};

Contingency contingency(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth) {
  if (pred.size() != truth.size())
    throw Error(fmt::format("openvocab metric: {} predictions for {} labels", pred.size(), truth.size()));
  Contingency c;
  auto p = compact(pred, &c.rows);
  auto t = compact(truth, &c.cols);
  c.n = static_cast<int64_t>(pred.size());
  c.w.assign(static_cast<size_t>(c.rows * c.cols), 0.0);
  c.a.assign(c.rows, 0.0);
  c.b.assign(c.cols, 0.0);
  for (size_t i = 0; i < p.size(); ++i) {
    c.w[p[i] * c.cols + t[i]] += 1;
    c.a[p[i]] += 1;
    c.b[t[i]] += 1;
  }
  return c;
}

double comb2(double x) { return x * (x - 1) / 2; }

}  // namespace

double clustering_accuracy(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth) {
  Contingency c = contingency(pred, truth);
  if (c.n == 0) return 0.0;
  auto match = linear_sum_assignment(c.w, c.rows, c.cols, /*maximize=*/true);
  double hit = 0;
  for (int64_t r = 0; r < c.rows; ++r)
    if (match[r] >= 0) hit += c.w[r * c.cols + match[r]];
  return hit / static_cast<double>(c.n);
}

double normalized_mutual_info(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth) {
  Contingency c = contingency(pred, truth);
  if (c.n == 0) return 0.0;
  // Two single-cluster (or identical trivial) labellings agree perfectly: sklearn returns 1.
  if ((c.rows == 1 && c.cols == 1) || (c.rows == 0 && c.cols == 0)) return 1.0;
  const double n = static_cast<double>(c.n);
  double mi = 0, hu = 0, hv = 0;
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t t = 0; t < c.cols; ++t) {
      const double w = c.w[r * c.cols + t];
      if (w > 0) mi += w / n * std::log(n * w / (c.a[r] * c.b[t]));
    }
  for (double x : c.a) hu -= x / n * std::log(x / n);
  for (double x : c.b) hv -= x / n * std::log(x / n);
  const double denom = std::max((hu + hv) / 2, 2.220446049250313e-16);
  return std::max(0.0, mi) / denom;
}

double adjusted_rand_index(const std::vector<int64_t>& pred, const std::vector<int64_t>& truth) {
  Contingency c = contingency(pred, truth);
  if (c.n == 0) return 0.0;
  double index = 0, sa = 0, sb = 0;
  for (double w : c.w) index += comb2(w);
  for (double x : c.a) sa += comb2(x);
  for (double x : c.b) sb += comb2(x);
  const double expected = sa * sb / comb2(static_cast<double>(c.n));
  const double maximum = (sa + sb) / 2;
  // Both labellings trivial (one cluster each, or all singletons): perfect agreement by convention.
  if (maximum == expected) return 1.0;
  return (index - expected) / (maximum - expected);
}

namespace {

enum class Kind { kCacc, kSacc, kNmi, kAri, kExact };

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

class OpenVocabMetric : public Metric {
 public:
  OpenVocabMetric(Kind kind, std::string name_kind, std::string canon)
      : kind_(kind), name_kind_(std::move(name_kind)), canon_(std::move(canon)) {}

  void reset() override {
    pred_.clear();
    truth_.clear();
    sim_sum_ = 0;
    covered_ = 0;
    rows_ = 0;
    exact_ = 0;
  }

  void update(const Prediction& pred, const Targets& targets) override {
    const char* mname = name();
    if (!targets.label.defined() || targets.label.dim() != 1)
      throw Error(fmt::format("metric {}: needs single-label targets [n], got {}", mname,
                              shape_text(targets.label)));
    auto y = targets.label.to(at::kCPU, at::kLong).contiguous();
    const int64_t n = y.size(0);
    // The predicted text row (or -1) and the cluster id of every row.
    at::Tensor text_row, cluster;
    if (pred.aux.count("pred_text")) text_row = checked_ids(pred.aux.at("pred_text"), n, "pred_text");
    if (pred.aux.count("pred_cluster")) cluster = checked_ids(pred.aux.at("pred_cluster"), n, "pred_cluster");
    at::Tensor argmax;
    if (!text_row.defined() || (!cluster.defined() && kind_ != Kind::kSacc && kind_ != Kind::kExact)) {
      if (!text_row.defined()) {
        if (!pred.scores.defined() || pred.scores.dim() != 2 || pred.scores.size(0) != n)
          throw Error(fmt::format("metric {}: needs aux pred_text / pred_cluster or scores [n={}, C], "
                                  "got scores {}", mname, n, shape_text(pred.scores)));
        argmax = pred.scores.to(at::kCPU, at::kFloat).argmax(1).contiguous();  // first max: lowest index
      }
    }
    if (!cluster.defined()) cluster = text_row.defined() ? text_row : argmax;
    const Dataset* ds = targets.dataset;
    const int64_t* yp = y.data_ptr<int64_t>();
    const int64_t* cp = cluster.data_ptr<int64_t>();
    const int64_t* tp = text_row.defined() ? text_row.data_ptr<int64_t>() : nullptr;
    const int64_t* ap = argmax.defined() ? argmax.data_ptr<int64_t>() : nullptr;

    at::Tensor names;
    if (kind_ == Kind::kSacc) {
      if (!ds) throw Error("metric sacc: needs the dataset (targets.dataset is null)");
      auto it = ds->descriptors.find(name_kind_);
      if (it == ds->descriptors.end())
        throw DataError(ds->path, "/classes/descriptors/" + name_kind_,
                        "metric sacc needs a name-embedding table for the true class names (set "
                        "the metric's name_kind param; docs/near.md)");
      names = it->second.to(at::kFloat);
    }
    if ((kind_ == Kind::kSacc || kind_ == Kind::kExact) && !ds)
      throw Error(fmt::format("metric {}: needs the dataset (targets.dataset is null)", mname));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = yp[i];
      if (t < 0) continue;  // rows without a class are not evaluated
      if (ds && t >= ds->num_classes())
        throw Error(fmt::format("metric {}: label {} at row {} is outside [0, {})", mname, t, i,
                                ds->num_classes()));
      pred_.push_back(cp[i]);
      truth_.push_back(t);
      ++rows_;
      if (kind_ == Kind::kExact) {
        const std::string& s = tp ? text_string(*ds, tp[i]) : class_name(*ds, ap[i]);
        if (canonical_label(s, canon_) == canonical_label(ds->class_names[t], canon_)) ++exact_;
      } else if (kind_ == Kind::kSacc) {
        at::Tensor pe = tp ? text_feature(*ds, tp[i]) : names[ap[i]];
        at::Tensor te = names[t];
        const double pn = pe.norm().item<double>(), tn = te.norm().item<double>();
        // NaN (unknown embedding) or zero rows are not covered.
        if (!std::isfinite(pn) || !std::isfinite(tn) || pn == 0 || tn == 0) continue;
        sim_sum_ += (pe * te).sum().item<double>() / (pn * tn);
        ++covered_;
      }
    }
  }

  std::vector<MetricValue> compute() const override {
    switch (kind_) {
      case Kind::kCacc: return {{"ov/cacc", clustering_accuracy(pred_, truth_), true}};
      case Kind::kNmi: return {{"ov/nmi", normalized_mutual_info(pred_, truth_), true}};
      case Kind::kAri: return {{"ov/ari", adjusted_rand_index(pred_, truth_), true}};
      case Kind::kExact:
        return {{"ov/exact", rows_ ? static_cast<double>(exact_) / rows_ : 0.0, true}};
      case Kind::kSacc: {
        std::vector<MetricValue> v;
        // No covered row: sACC is undefined, so only the coverage is reported (JSON has no NaN).
        if (covered_ > 0) v.push_back({"ov/sacc", sim_sum_ / covered_, true});
        v.push_back({"ov/sacc_coverage", rows_ ? static_cast<double>(covered_) / rows_ : 0.0, true});
        return v;
      }
    }
    return {};
  }
  std::vector<std::string> value_names() const override {
    switch (kind_) {
      case Kind::kCacc: return {"ov/cacc"};
      case Kind::kNmi: return {"ov/nmi"};
      case Kind::kAri: return {"ov/ari"};
      case Kind::kExact: return {"ov/exact"};
      case Kind::kSacc: return {"ov/sacc", "ov/sacc_coverage"};
    }
    return {};
  }

 private:
  const char* name() const {
    switch (kind_) {
      case Kind::kCacc: return "cacc";
      case Kind::kSacc: return "sacc";
      case Kind::kNmi: return "nmi";
      case Kind::kAri: return "ari";
      case Kind::kExact: return "name_exact";
    }
    return "?";
  }
  at::Tensor checked_ids(const at::Tensor& t, int64_t n, const char* what) const {
    if (!t.defined() || t.dim() != 1 || t.size(0) != n)
      throw Error(fmt::format("metric {}: aux {} must be [n={}] int64, got {}", name(), what, n,
                              shape_text(t)));
    return t.to(at::kCPU, at::kLong).contiguous();
  }
  const std::string& text_string(const Dataset& ds, int64_t row) const {
    if (row < 0 || row >= static_cast<int64_t>(ds.texts.strings.size()))
      throw Error(fmt::format("metric {}: pred_text row {} is outside the dataset's {} texts",
                              name(), row, ds.texts.strings.size()));
    return ds.texts.strings[row];
  }
  at::Tensor text_feature(const Dataset& ds, int64_t row) const {
    text_string(ds, row);  // range check
    if (ds.texts.features.dim() != 2 ||
        (kind_ == Kind::kSacc && ds.descriptors.at(name_kind_).size(1) != ds.texts.features.size(1)))
      throw DataError(ds.path, "/texts/features",
                      fmt::format("metric sacc: label-text embeddings and descriptors[{}] must have "
                                  "the same width", name_kind_));
    return ds.texts.features[row].to(at::kFloat);
  }
  const std::string& class_name(const Dataset& ds, int64_t c) const {
    if (c < 0 || c >= ds.num_classes())
      throw Error(fmt::format("metric {}: predicted class {} outside [0, {})", name(), c, ds.num_classes()));
    return ds.class_names[c];
  }

  Kind kind_;
  std::string name_kind_, canon_;
  std::vector<int64_t> pred_, truth_;
  double sim_sum_ = 0;
  int64_t covered_ = 0, rows_ = 0, exact_ = 0;
};

}  // namespace

void register_openvocab_metrics(MetricRegistry& reg) {
  struct Def {
    const char* name;
    Kind kind;
    const char* help;
  };
  const Def defs[] = {
      {"cacc", Kind::kCacc,
       "ov/cacc: clustering accuracy, one-to-one Hungarian matching of predicted names (clusters) "
       "to true classes on the count matrix (FineR utils/metrics.py)"},
      {"sacc", Kind::kSacc,
       "ov/sacc: mean cosine between the embeddings of predicted and true names (rows where both "
       "are known; ov/sacc_coverage = their fraction). Predicted: the pred_text row's /texts "
       "features; true: descriptors[name_kind]"},
      {"nmi", Kind::kNmi, "ov/nmi: normalized mutual information (arithmetic mean of entropies)"},
      {"ari", Kind::kAri, "ov/ari: adjusted Rand index"},
      {"name_exact", Kind::kExact,
       "ov/exact: fraction of rows whose predicted name equals the true class name after "
       "canonicalization"},
  };
  struct Options {
    std::string name_kind = "name_embedding";  // sacc only
    std::string canonical = "full";            // name_exact only
  };
  for (const Def& d : defs) {
    OptionTable<Options> t;
    if (d.kind == Kind::kSacc)
      t.add("name_kind", &Options::name_kind, "descriptor kind holding true-name embeddings");
    if (d.kind == Kind::kExact)
      t.add("canonical", &Options::canonical, "string canonicalization")
          .choices({"none", "case", "full"});
    const Kind kind = d.kind;
    reg.add(make_entry<Metric, Options>({d.name, d.help, {"task:open_vocab"}}, t,
                                        [kind](const Options& o) {
                                          return std::make_unique<OpenVocabMetric>(
                                              kind, o.name_kind, o.canonical);
                                        }));
  }
}

}  // namespace vlb
