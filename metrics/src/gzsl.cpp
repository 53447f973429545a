// GZSL S/U/H and ZSL per-class accuracy (see vlb/metrics/gzsl.h).
//
// Streaming: update() only records per-class hit counts (joint head and unseen head), so batching
// never changes the result; compute() divides once.
#include "vlb/metrics/gzsl.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/core/options.h"

namespace vlb {
namespace {

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Per-class counters. role[c]: 0 = neither, 1 = seen, 2 = unseen.
struct Counts {
  std::vector<int> role;
  std::vector<int64_t> total, joint_hit, zsl_hit;

  void init(int64_t c, const at::Tensor& seen, const at::Tensor& unseen) {
    role.assign(c, 0);
    total.assign(c, 0);
    joint_hit.assign(c, 0);
    zsl_hit.assign(c, 0);
    auto mark = [&](const at::Tensor& ids, int r, const char* what) {
      auto v = ids.to(at::kLong).contiguous();
      const int64_t* p = v.data_ptr<int64_t>();
      for (int64_t i = 0; i < v.numel(); ++i) {
        if (p[i] < 0 || p[i] >= c)
          throw Error(std::string("metric gzsl: ") + what + " class id " + std::to_string(p[i]) +
                      " is outside [0, " + std::to_string(c) + ")");
        if (role[p[i]] != 0)
          throw Error("metric gzsl: class " + std::to_string(p[i]) +
                      " is in both the seen and the unseen class split");
        role[p[i]] = r;
      }
    };
    mark(seen, 1, "seen");
    mark(unseen, 2, "unseen");
  }

  void add(const at::Tensor& scores, const at::Tensor& label) {
    if (!scores.defined() || scores.dim() != 2 || scores.size(1) != (int64_t)role.size())
      throw Error("metric gzsl: scores must be [n, " + std::to_string(role.size()) + "], got " +
                  shape_text(scores));
    if (!label.defined() || label.dim() != 1 || label.size(0) != scores.size(0))
      throw Error("metric gzsl: label must be [n] matching scores " + shape_text(scores) +
                  ", got " + shape_text(label));
    auto s = scores.to(at::kCPU, at::kDouble).contiguous();
    auto y = label.to(at::kCPU, at::kLong).contiguous();
    if (s.numel() > 0 && s.isnan().any().item<bool>())
      throw Error("metric gzsl: scores " + shape_text(scores) + " contain NaN");
    const int64_t n = s.size(0), c = s.size(1);
    const double* sp = s.data_ptr<double>();
    const int64_t* yp = y.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = yp[i];
      if (t < -1 || t >= c)
        throw Error("metric gzsl: label " + std::to_string(t) + " at row " + std::to_string(i) +
                    " is outside [0, " + std::to_string(c) + ")");
      if (t < 0 || role[t] == 0) continue;
      const double* row = sp + i * c;
      // Argmax with ties to the lower index: first the joint head (seen + unseen columns), then
      // the unseen head.
      int64_t best_joint = -1, best_zsl = -1;
      for (int64_t j = 0; j < c; ++j) {
        if (role[j] == 0) continue;
        if (best_joint < 0 || row[j] > row[best_joint]) best_joint = j;
        if (role[j] == 2 && (best_zsl < 0 || row[j] > row[best_zsl])) best_zsl = j;
      }
      ++total[t];
      if (best_joint == t) ++joint_hit[t];
      if (role[t] == 2 && best_zsl == t) ++zsl_hit[t];
    }
  }

  GzslAccuracy result() const {
    double s_sum = 0, u_sum = 0, z_sum = 0;
    int64_t s_n = 0, u_n = 0;
    for (size_t k = 0; k < role.size(); ++k) {
      if (total[k] == 0 || role[k] == 0) continue;  // absent classes: undefined, excluded
      const double tot = static_cast<double>(total[k]);
      if (role[k] == 1) {
        s_sum += joint_hit[k] / tot;
        ++s_n;
      } else {
        u_sum += joint_hit[k] / tot;
        z_sum += zsl_hit[k] / tot;
        ++u_n;
      }
    }
    if (s_n == 0 || u_n == 0)
      throw Error("metric gzsl: the evaluated rows hold " + std::to_string(s_n) +
                  " seen and " + std::to_string(u_n) +
                  " unseen classes; GZSL needs both (evaluate a split such as test = "
                  "test_seen + test_unseen)");
    GzslAccuracy a;
    a.seen = s_sum / s_n;
    a.unseen = u_sum / u_n;
    a.zsl = z_sum / u_n;
    a.harmonic = (a.seen + a.unseen) > 0 ? 2 * a.seen * a.unseen / (a.seen + a.unseen) : 0.0;
    return a;
  }
};

class GzslMetric : public Metric {
 public:
  GzslMetric(std::string seen_split, std::string unseen_split)
      : seen_split_(std::move(seen_split)), unseen_split_(std::move(unseen_split)) {}

  void reset() override { counts_ = Counts{}; }

  void update(const Prediction& pred, const Targets& targets) override {
    if (counts_.role.empty()) {
      if (!targets.dataset)
        throw Error("metric gzsl: needs the dataset's class splits (targets.dataset is null)");
      const auto& cs = targets.dataset->class_splits;
      for (const auto* name : {&seen_split_, &unseen_split_})
        if (!cs.count(*name))
          throw ConfigError("metric gzsl: dataset '" + targets.dataset->name +
                            "' has no /class_splits/" + *name +
                            " (set the metric's seen_split / unseen_split params)");
      counts_.init(pred.scores.defined() && pred.scores.dim() == 2 ? pred.scores.size(1) : 0,
                   cs.at(seen_split_), cs.at(unseen_split_));
    }
    counts_.add(pred.scores, targets.label);
  }

  std::vector<MetricValue> compute() const override {
    GzslAccuracy a = counts_.result();
    return {{"gzsl/S", a.seen, true},
            {"gzsl/U", a.unseen, true},
            {"gzsl/H", a.harmonic, true},
            {"gzsl/zsl", a.zsl, true}};
  }
  std::vector<std::string> value_names() const override {
    return {"gzsl/S", "gzsl/U", "gzsl/H", "gzsl/zsl"};
  }

 private:
  std::string seen_split_, unseen_split_;
  Counts counts_;
};

}  // namespace

GzslAccuracy gzsl_accuracy(const at::Tensor& scores, const at::Tensor& label,
                           const at::Tensor& seen, const at::Tensor& unseen) {
  Counts c;
  c.init(scores.defined() && scores.dim() == 2 ? scores.size(1) : 0, seen, unseen);
  c.add(scores, label);
  return c.result();
}

void register_gzsl_metrics(MetricRegistry& reg) {
  struct Splits {
    std::string seen = "seen", unseen = "unseen";
  };
  OptionTable<Splits> t;
  t.add("seen_split", &Splits::seen, "/class_splits entry holding the seen classes")
      .add("unseen_split", &Splits::unseen, "/class_splits entry holding the unseen classes");
  reg.add(make_entry<Metric, Splits>(
      {"gzsl",
       "GZSL per-class top-1 accuracy: gzsl/S (seen-class rows) and gzsl/U (unseen-class rows) "
       "over the joint seen+unseen head, gzsl/H = 2SU/(S+U), gzsl/zsl (unseen rows, unseen head "
       "only). Rows of classes in neither split and label -1 are ignored; ties go to the lower "
       "class index.",
       {"task:gzsl"}},
      t, [](const Splits& s) { return std::make_unique<GzslMetric>(s.seen, s.unseen); }));
}

}  // namespace vlb
