// Single-label classification metrics: top-k accuracy and mean per-class accuracy.
//
// Conventions shared by every metric in this file (see also the Note in each entry's help):
//  - Rows whose label is -1 are ignored: they have no single-label ground truth.
//  - Rank of the true class t in a row s: #{c : s[c] > s[t]} + #{c < t : s[c] == s[t]}.
//    Ties therefore go to the lower class index, so a row is never "right" because of a tie it
//    lost to a lower index, and results do not depend on sort stability. Correct at k iff rank < k.
//  - Any NaN score in a batch is an error (a NaN compares false both ways and would silently
//    count as correct).
//  - k > C is an error, not a clamp: a clamped top5 on 3 classes would always read 100% and be
//    mistaken for a real result.
//  - Streaming: update() accumulates integer counts; compute() divides once, so batching never
//    changes the result.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vlb/metrics/metric.h"
#include "vlb/core/options.h"

namespace vlb {
namespace {

const std::vector<std::string> kTags = {"task:classification", "task:gzsl",
                                        "task:fewshot_textbank"};

const char* kTieNote =
    " Note: rows with label -1 are ignored; ties go to the lower class index (the true class "
    "counts as ranked below every lower-index class with an equal score).";

std::string shape_text(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

/// One validated batch: scores as contiguous float64 [n, C] and labels as int64 [n].
struct Batch {
  at::Tensor scores;
  at::Tensor label;
  int64_t n = 0;
  int64_t c = 0;
};

Batch validate(const std::string& metric, const Prediction& pred, const Targets& targets) {
  const at::Tensor& s = pred.scores;
  const at::Tensor& y = targets.label;
  if (!s.defined() || s.dim() != 2) {
    throw Error("metric " + metric + ": scores must be [n, C], got " + shape_text(s));
  }
  if (!y.defined() || y.dim() != 1 || y.size(0) != s.size(0)) {
    throw Error("metric " + metric + ": targets.label must be [n] matching scores " +
                shape_text(s) + ", got " + shape_text(y));
  }
  if (targets.num_classes > 0 && s.size(1) != targets.num_classes) {
    throw Error("metric " + metric + ": scores " + shape_text(s) + " have " +
                std::to_string(s.size(1)) + " columns but the dataset has " +
                std::to_string(targets.num_classes) + " classes");
  }
  if (!s.is_floating_point()) {
    throw Error("metric " + metric + ": scores must be floating point");
  }
  Batch b;
  b.scores = s.to(at::kCPU, at::kDouble).contiguous();
  b.label = y.to(at::kCPU, at::kLong).contiguous();
  b.n = s.size(0);
  b.c = s.size(1);
  if (b.n > 0 && b.scores.isnan().any().item<bool>()) {
    throw Error("metric " + metric + ": scores " + shape_text(s) + " contain NaN");
  }
  const int64_t* lab = b.label.data_ptr<int64_t>();
  for (int64_t i = 0; i < b.n; ++i) {
    if (lab[i] < -1 || lab[i] >= b.c) {
      throw Error("metric " + metric + ": label " + std::to_string(lab[i]) + " at row " +
                  std::to_string(i) + " is outside [0, " + std::to_string(b.c) +
                  ") for scores " + shape_text(s) + " (-1 marks an ignored row)");
    }
  }
  return b;
}

/// Rank of the true class in one row (0 = best), ties to the lower class index.
int64_t rank_of(const double* row, int64_t c, int64_t t) {
  const double st = row[t];
  int64_t rank = 0;
  for (int64_t j = 0; j < c; ++j) {
    if (row[j] > st || (j < t && row[j] == st)) ++rank;
  }
  return rank;
}

/// Top-k accuracy over rows with a label; "cls/top<k>".
class TopK : public Metric {
 public:
  TopK(std::string name, int64_t k) : name_(std::move(name)), k_(k) {}

  void reset() override {
    correct_ = 0;
    total_ = 0;
  }

  void update(const Prediction& pred, const Targets& targets) override {
    Batch b = validate(name_, pred, targets);
    if (k_ > b.c) {
      throw Error("metric " + name_ + ": k=" + std::to_string(k_) + " exceeds the " +
                  std::to_string(b.c) + " classes of scores " + shape_text(pred.scores) +
                  " (remove it from `metrics:` for this dataset)");
    }
    const double* s = b.scores.data_ptr<double>();
    const int64_t* lab = b.label.data_ptr<int64_t>();
    for (int64_t i = 0; i < b.n; ++i) {
      if (lab[i] < 0) continue;
      ++total_;
      if (rank_of(s + i * b.c, b.c, lab[i]) < k_) ++correct_;
    }
  }

  std::vector<MetricValue> compute() const override {
    if (total_ == 0) {
      throw Error("metric " + name_ + ": no evaluation rows with a label (all were -1 or "
                  "update was never called)");
    }
    return {{"cls/top" + std::to_string(k_),
             static_cast<double>(correct_) / static_cast<double>(total_), true}};
  }
  std::vector<std::string> value_names() const override { return {"cls/top" + std::to_string(k_)}; }

 private:
  std::string name_;
  int64_t k_;
  int64_t correct_ = 0;
  int64_t total_ = 0;
};

/// Mean over classes present in the targets of per-class top-1 accuracy.
class MeanPerClass : public Metric {
 public:
  void reset() override {
    correct_.clear();
    total_.clear();
  }

  void update(const Prediction& pred, const Targets& targets) override {
    Batch b = validate("mean_per_class", pred, targets);
    if (total_.empty()) {
      correct_.assign(b.c, 0);
      total_.assign(b.c, 0);
    } else if (static_cast<int64_t>(total_.size()) != b.c) {
      throw Error("metric mean_per_class: scores " + shape_text(pred.scores) + " have " +
                  std::to_string(b.c) + " classes but an earlier batch had " +
                  std::to_string(total_.size()));
    }
    const double* s = b.scores.data_ptr<double>();
    const int64_t* lab = b.label.data_ptr<int64_t>();
    for (int64_t i = 0; i < b.n; ++i) {
      if (lab[i] < 0) continue;
      ++total_[lab[i]];
      if (rank_of(s + i * b.c, b.c, lab[i]) == 0) ++correct_[lab[i]];
    }
  }

  std::vector<std::string> value_names() const override { return {"cls/mean_per_class"}; }

  std::vector<MetricValue> compute() const override {
    // Classes without evaluation rows are excluded: their accuracy is undefined, not 0.
    double sum = 0.0;
    int64_t present = 0;
    for (size_t c = 0; c < total_.size(); ++c) {
      if (total_[c] == 0) continue;
      sum += static_cast<double>(correct_[c]) / static_cast<double>(total_[c]);
      ++present;
    }
    if (present == 0) {
      throw Error("metric mean_per_class: no evaluation rows with a label (all were -1 or "
                  "update was never called)");
    }
    return {{"cls/mean_per_class", sum / static_cast<double>(present), true}};
  }

 private:
  std::vector<int64_t> correct_;
  std::vector<int64_t> total_;
};

RegistryEntry<Metric> fixed_topk(int64_t k) {
  RegistryEntry<Metric> e;
  e.name = "top" + std::to_string(k);
  e.help = "top-" + std::to_string(k) + " accuracy -> cls/top" + std::to_string(k) + "." +
           kTieNote + " Errors if the dataset has fewer than " + std::to_string(k) + " classes.";
  e.version = "1";
  e.tags = kTags;
  std::string name = e.name;
  e.factory = [name, k](const Params&) -> std::unique_ptr<Metric> {
    return std::make_unique<TopK>(name, k);
  };
  return e;
}

}  // namespace

void register_classification_metrics(MetricRegistry& reg) {
  reg.add(fixed_topk(1));
  reg.add(fixed_topk(5));

  struct TopKOptions {
    int64_t k = 1;
  };
  OptionTable<TopKOptions> t;
  t.add("k", &TopKOptions::k, "rank cutoff: a row is correct if rank < k").min(1.0);
  reg.add(make_entry<Metric, TopKOptions>(
      {"topk",
       std::string("top-k accuracy for any k -> cls/top<k>.") + kTieNote +
           " Errors if k exceeds the number of classes.",
       kTags},
      t, [](const TopKOptions& o) {
        return std::make_unique<TopK>("topk(k=" + std::to_string(o.k) + ")", o.k);
      }));

  RegistryEntry<Metric> mpc;
  mpc.name = "mean_per_class";
  mpc.help = std::string("mean over classes present in the eval targets of per-class top-1 "
                         "accuracy -> cls/mean_per_class (absent classes are excluded).") +
             kTieNote;
  mpc.version = "1";
  mpc.tags = kTags;
  mpc.factory = [](const Params&) -> std::unique_ptr<Metric> {
    return std::make_unique<MeanPerClass>();
  };
  reg.add(std::move(mpc));
}

}  // namespace vlb
