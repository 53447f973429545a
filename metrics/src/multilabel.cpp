// mAP (two definitions), per-class AP and CF1/OF1 over partial labels (vlb/metrics/multilabel.h).
// Streaming: update() appends scores and targets; compute() evaluates once, so batching never
// changes a number.
#include "vlb/metrics/multilabel.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "vlb/core/error.h"
#include "vlb/core/options.h"

namespace vlb {

double ap_from_curve(std::vector<double> prec, const std::vector<double>& rec, bool interpolated) {
  if (interpolated && !prec.empty())
    for (size_t k = prec.size() - 1; k-- > 0;) prec[k] = std::max(prec[k], prec[k + 1]);
  double ap = 0, last = 0;
  for (size_t k = 0; k < prec.size(); ++k) {
    ap += (rec[k] - last) * prec[k];
    last = rec[k];
  }
  return ap;
}

double average_precision(const at::Tensor& scores, const at::Tensor& targets, bool interpolated) {
  at::Tensor s = scores.to(at::kDouble).contiguous(), t = targets.to(at::kChar).contiguous();
  if (s.dim() != 1 || t.dim() != 1 || s.size(0) != t.size(0))
    throw Error(fmt::format("average_precision: scores {} and targets {} must be [n]", c10::str(s.sizes()), c10::str(t.sizes())));
  const double* sp = s.data_ptr<double>();
  const int8_t* tp = t.data_ptr<int8_t>();
  std::vector<int64_t> idx;
  int64_t npos = 0;
  for (int64_t i = 0; i < s.size(0); ++i)
    if (tp[i] != 0) {
      idx.push_back(i);
      npos += tp[i] > 0;
    }
  if (npos == 0) return std::numeric_limits<double>::quiet_NaN();
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return sp[a] > sp[b]; });
  // One point per distinct score (a tie group is one threshold).
  std::vector<double> prec, rec;
  int64_t tpc = 0, fpc = 0;
  for (size_t k = 0; k < idx.size(); ++k) {
    (tp[idx[k]] > 0 ? tpc : fpc) += 1;
    if (k + 1 == idx.size() || sp[idx[k + 1]] != sp[idx[k]]) {
      prec.push_back(static_cast<double>(tpc) / static_cast<double>(tpc + fpc));
      rec.push_back(static_cast<double>(tpc) / static_cast<double>(npos));
    }
  }
  return ap_from_curve(std::move(prec), rec, interpolated);
}

std::vector<double> per_class_ap(const at::Tensor& scores, const at::Tensor& targets, bool interpolated) {
  if (scores.dim() != 2 || !targets.defined() || targets.sizes() != scores.sizes())
    throw Error(fmt::format("multi-label metric: scores {} and labels {} must both be [n, C]",
                            c10::str(scores.sizes()), targets.defined() ? c10::str(targets.sizes()) : std::string("none")));
  std::vector<double> out;
  for (int64_t c = 0; c < scores.size(1); ++c)
    out.push_back(average_precision(scores.select(1, c), targets.select(1, c), interpolated));
  return out;
}

MultiLabelF1 multilabel_f1(const at::Tensor& scores, const at::Tensor& targets, double threshold,
                           int64_t top_k) {
  if (scores.dim() != 2 || !targets.defined() || targets.sizes() != scores.sizes())
    throw Error(fmt::format("multi-label F1: scores {} and labels {} must both be [n, C]",
                            c10::str(scores.sizes()), targets.defined() ? c10::str(targets.sizes()) : std::string("none")));
  const int64_t n = scores.size(0), C = scores.size(1);
  at::Tensor pred;
  if (top_k > 0) {
    // Ties to the lower class index: a stable descending sort.
    at::Tensor order = std::get<1>(scores.to(at::kDouble).sort(/*stable=*/true, 1, /*descending=*/true));
    pred = at::zeros({n, C}, at::kBool);
    pred.scatter_(1, order.slice(1, 0, std::min(top_k, C)), true);
  } else {
    pred = scores.to(at::kDouble).sigmoid().ge(threshold);
  }
  at::Tensor pos = targets.eq(1), neg = targets.eq(-1);
  at::Tensor tp = (pred & pos).sum(0).to(at::kDouble), fp = (pred & neg).sum(0).to(at::kDouble);
  at::Tensor np = pos.sum(0).to(at::kDouble);
  MultiLabelF1 r;
  double sp = 0, sr = 0, ttp = 0, tfp = 0, tnp = 0;
  int64_t k = 0;
  for (int64_t c = 0; c < C; ++c) {
    const double a = tp[c].item<double>(), b = fp[c].item<double>(), m = np[c].item<double>();
    ttp += a;
    tfp += b;
    tnp += m;
    if (m == 0) continue;  // no known positive: precision and recall of the class are undefined
    sp += a + b > 0 ? a / (a + b) : 0.0;
    sr += a / m;
    ++k;
  }
  auto f1 = [](double p, double q) { return p + q > 0 ? 2 * p * q / (p + q) : 0.0; };
  if (k > 0) {
    r.cp = sp / k;
    r.cr = sr / k;
  }
  r.cf1 = f1(r.cp, r.cr);
  r.op = ttp + tfp > 0 ? ttp / (ttp + tfp) : 0.0;
  r.orec = tnp > 0 ? ttp / tnp : 0.0;
  r.of1 = f1(r.op, r.orec);
  return r;
}

namespace {

enum class Kind { kMap, kApPerClass, kF1 };

class MultiLabelMetric final : public Metric {
 public:
  MultiLabelMetric(Kind kind, double threshold, int64_t top_k)
      : kind_(kind), threshold_(threshold), top_k_(top_k) {}
  void reset() override {
    scores_.clear();
    targets_.clear();
    names_.clear();
  }
  void update(const Prediction& pred, const Targets& t) override {
    if (!t.labels.defined())
      throw Error("multi-label metric: the evaluated split has no /images/labels [N, C] (is this a "
                  "multi-label dataset?)");
    if (!pred.scores.defined() || pred.scores.sizes() != t.labels.sizes())
      throw Error(fmt::format("multi-label metric: scores {} do not match labels {}",
                              pred.scores.defined() ? c10::str(pred.scores.sizes()) : std::string("none"),
                              c10::str(t.labels.sizes())));
    scores_.push_back(pred.scores.detach().to(at::kDouble));
    targets_.push_back(t.labels.to(at::kChar));
    if (t.dataset) names_ = t.dataset->class_names;
  }
  std::vector<MetricValue> compute() const override {
    if (scores_.empty()) throw Error("multi-label metric: no rows evaluated");
    at::Tensor s = at::cat(scores_, 0), y = at::cat(targets_, 0);
    std::vector<MetricValue> out;
    auto mean_of = [](const std::vector<double>& v) {
      double sum = 0;
      int64_t k = 0;
      for (double x : v)
        if (!std::isnan(x)) sum += x, ++k;
      return std::make_pair(k ? sum / k : 0.0, k);
    };
    if (kind_ == Kind::kMap) {
      auto [m, k] = mean_of(per_class_ap(s, y, true));
      out.push_back({"ml/map", m, true});
      out.push_back({"ml/map_nonint", mean_of(per_class_ap(s, y, false)).first, true});
      out.push_back({"ml/map_classes", static_cast<double>(k), true});
    } else if (kind_ == Kind::kApPerClass) {
      auto ap = per_class_ap(s, y, true);
      for (size_t c = 0; c < ap.size(); ++c) {
        if (std::isnan(ap[c])) continue;  // no known positive: no AP
        std::string name = c < names_.size() ? names_[c] : std::to_string(c);
        out.push_back({"ml/ap/" + name, ap[c], true});
      }
    } else {
      MultiLabelF1 f = multilabel_f1(s, y, threshold_, top_k_);
      const std::string sfx = top_k_ > 0 ? fmt::format("_top{}", top_k_) : "";
      out.push_back({"ml/cp" + sfx, f.cp, true});
      out.push_back({"ml/cr" + sfx, f.cr, true});
      out.push_back({"ml/cf1" + sfx, f.cf1, true});
      out.push_back({"ml/op" + sfx, f.op, true});
      out.push_back({"ml/or" + sfx, f.orec, true});
      out.push_back({"ml/of1" + sfx, f.of1, true});
    }
    return out;
  }
  std::vector<std::string> value_names() const override {
    if (kind_ == Kind::kMap) return {"ml/map", "ml/map_nonint", "ml/map_classes"};
    if (kind_ == Kind::kApPerClass) return {};  // named after the classes
    const std::string sfx = top_k_ > 0 ? fmt::format("_top{}", top_k_) : "";
    return {"ml/cp" + sfx, "ml/cr" + sfx, "ml/cf1" + sfx, "ml/op" + sfx, "ml/or" + sfx, "ml/of1" + sfx};
  }

 private:
  Kind kind_;
  double threshold_;
  int64_t top_k_;
  std::vector<at::Tensor> scores_, targets_;
  std::vector<std::string> names_;
};

}  // namespace

void register_multilabel_metrics(MetricRegistry& reg) {
  {
    RegistryEntry<Metric> e;
    e.name = "ml_map";
    e.help = "ml/map: mean over classes of VOC2010+ all-point interpolated AP; ml/map_nonint: "
             "non-interpolated AP (sklearn); unknown (0) labels dropped, classes without a known "
             "positive left out (ml/map_classes counts the rest); tied scores are one threshold";
    e.tags = {"task:multilabel"};
    e.factory = [](const Params&) -> std::unique_ptr<Metric> {
      return std::make_unique<MultiLabelMetric>(Kind::kMap, 0.5, 0);
    };
    reg.add(std::move(e));
  }
  {
    RegistryEntry<Metric> e;
    e.name = "ml_ap";
    e.help = "ml/ap/<class>: all-point interpolated AP per class (classes with a known positive)";
    e.tags = {"task:multilabel"};
    e.factory = [](const Params&) -> std::unique_ptr<Metric> {
      return std::make_unique<MultiLabelMetric>(Kind::kApPerClass, 0.5, 0);
    };
    reg.add(std::move(e));
  }
  for (int64_t k : {int64_t{0}, int64_t{3}}) {
    RegistryEntry<Metric> e;
    e.name = k ? "ml_f1_top3" : "ml_f1";
    e.help = k ? "ml/cp_top3 ... ml/of1_top3: CF1/OF1 with each row's 3 highest-scoring classes positive "
                 "(ties to the lower class index), known labels only"
               : "ml/cp, cr, cf1, op, or, of1 over known labels: predicted positive when "
                 "sigmoid(score) >= threshold, or (top_k > 0) the row's top_k classes (names get _top<k>)";
    e.tags = {"task:multilabel"};
    struct F1Options {
      double threshold = 0.5;
      int64_t top_k = 0;
    };
    OptionTable<F1Options> t(F1Options{0.5, k});
    t.add("threshold", &F1Options::threshold, "probability threshold (top_k = 0)").range(0.0, 1.0)
        .add("top_k", &F1Options::top_k, "> 0: the top_k classes of each row are positive")
        .range(0, 1000);
    e.schema = t.schema();
    e.factory = [t](const Params& p) -> std::unique_ptr<Metric> {
      const F1Options o = t.parse(p);
      return std::make_unique<MultiLabelMetric>(Kind::kF1, o.threshold, o.top_k);
    };
    reg.add(std::move(e));
  }
}

}  // namespace vlb
