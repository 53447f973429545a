// Fast resampling paths of known metrics (Note [fast resampling] in sample_stats_impl.h): each
// mirrors the registered metric's arithmetic and is kept only when it reproduces the metric's
// value on all rows.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "sample_stats_impl.h"
#include "vlb/core/error.h"

namespace vlb {
namespace {

using Impl = RunSamples::Impl;
using Slot = RunSamples::Impl::Slot;

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool close_to(double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)); }

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> all(n);
  for (int64_t i = 0; i < n; ++i) all[i] = i;
  return all;
}

}  // namespace

bool fast_path_reproduces(const Impl& im, const Slot& s, bool exact) {
  const auto all = all_rows(static_cast<int64_t>(im.rows.size()));
  const double v = im.eval_fast(s, all.data(), all.size());
  return exact ? same_bits(v, s.full) : close_to(v, s.full);
}

namespace {

bool reproduces(const Impl& im, const Slot& s, bool exact) {
  const auto all = all_rows(static_cast<int64_t>(im.rows.size()));
  const double v = im.eval_fast(s, all.data(), all.size());
  return exact ? same_bits(v, s.full) : close_to(v, s.full);
}

// Rank of the true class, ties to the lower class index: classification.cpp's rule.
int64_t rank_of(const double* row, int64_t c, int64_t t) {
  const double st = row[t];
  int64_t rank = 0;
  for (int64_t j = 0; j < c; ++j)
    if (row[j] > st || (j < t && row[j] == st)) ++rank;
  return rank;
}

/// top1 / top5 / topk: correct (rank < k) over labelled rows.
void topk_path(const Impl& im, Slot& s, int64_t k) {
  if (!im.scores64.defined() || s.value_name != "cls/top" + std::to_string(k)) return;
  const int64_t n = im.scores64.size(0), c = im.scores64.size(1);
  const double* sp = im.scores64.data_ptr<double>();
  const int64_t* lp = im.label64.data_ptr<int64_t>();
  Slot t = s;
  t.kind = Impl::Kind::kRowRatio;
  t.num.assign(n, 0.0);
  t.den.assign(n, 0.0);
  int64_t labelled = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (lp[i] < 0) continue;
    t.den[i] = 1.0;
    t.num[i] = rank_of(sp + i * c, c, lp[i]) < k ? 1.0 : 0.0;
    ++labelled;
  }
  t.uniform = t.zero_one = labelled == n;
  if (labelled > 0 && reproduces(im, t, true)) s = std::move(t);
}

/// mean_per_class: per-class top-1 accuracy, averaged over the classes present.
void class_mean_path(const Impl& im, Slot& s) {
  if (!im.scores64.defined() || s.value_name != "cls/mean_per_class") return;
  const int64_t n = im.scores64.size(0), c = im.scores64.size(1);
  const double* sp = im.scores64.data_ptr<double>();
  const int64_t* lp = im.label64.data_ptr<int64_t>();
  Slot t = s;
  t.kind = Impl::Kind::kClassMean;
  t.correct.assign(n, 0);
  t.cls.assign(lp, lp + n);
  t.classes = c;
  for (int64_t i = 0; i < n; ++i)
    if (lp[i] >= 0 && lp[i] < c) t.correct[i] = rank_of(sp + i * c, c, lp[i]) == 0;
  if (reproduces(im, t, true)) s = std::move(t);
}

/// gzsl: per row the joint-head and unseen-head argmax hits (ties to the lower index), per class
/// its role; S, U, zsl are per-class means over the seen / unseen classes present, H their
/// harmonic mean (gzsl.cpp's arithmetic).
void gzsl_path(const Impl& im, Slot& s) {
  if (!im.scores64.defined() || !im.targets.dataset) return;
  const auto& cs = im.targets.dataset->class_splits;
  const std::string seen = s.params.get_string("seen_split"), unseen = s.params.get_string("unseen_split");
  if (!cs.count(seen) || !cs.count(unseen)) return;
  const int64_t n = im.scores64.size(0), c = im.scores64.size(1);
  Slot t = s;
  t.kind = Impl::Kind::kGzsl;
  t.classes = c;
  t.role.assign(c, 0);
  for (const auto& [name, r] : {std::pair<std::string, int>{seen, 1}, {unseen, 2}}) {
    at::Tensor ids = cs.at(name).to(at::kLong).contiguous();
    for (int64_t i = 0; i < ids.numel(); ++i) {
      const int64_t id = ids.data_ptr<int64_t>()[i];
      if (id < 0 || id >= c || t.role[id] != 0) return;  // the metric reports these
      t.role[id] = r;
    }
  }
  const double* sp = im.scores64.data_ptr<double>();
  const int64_t* lp = im.label64.data_ptr<int64_t>();
  t.cls.assign(n, -1);
  t.correct.assign(n, 0);
  t.zsl_hit.assign(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = lp[i];
    if (y < 0 || y >= c || t.role[y] == 0) continue;
    const double* row = sp + i * c;
    int64_t best_joint = -1, best_zsl = -1;
    for (int64_t j = 0; j < c; ++j) {
      if (t.role[j] == 0) continue;
      if (best_joint < 0 || row[j] > row[best_joint]) best_joint = j;
      if (t.role[j] == 2 && (best_zsl < 0 || row[j] > row[best_zsl])) best_zsl = j;
    }
    t.cls[i] = y;
    t.correct[i] = best_joint == y;
    t.zsl_hit[i] = t.role[y] == 2 && best_zsl == y;
  }
  if (reproduces(im, t, true)) s = std::move(t);
}

/// Ratios of per-row sums (exact name matches over labelled rows; mean name similarity over
/// covered rows, and the coverage): the registered metric on each row alone gives the numerator,
/// and whether it reported a value (or the row has a label) the denominator.
void single_row_path(const Impl& im, Slot& s) {
  const int64_t n = static_cast<int64_t>(im.rows.size());
  if (!im.targets.label.defined()) return;
  at::Tensor y = im.targets.label.to(at::kLong).contiguous();
  const int64_t* yp = y.data_ptr<int64_t>();
  Slot t = s;
  t.kind = Impl::Kind::kRowRatio;
  t.num.assign(n, 0.0);
  t.den.assign(n, 0.0);
  const bool covered_only = s.value_name == "ov/sacc";
  double b = 0;
  try {
    for (int64_t i = 0; i < n; ++i) {
      if (yp[i] < 0) continue;
      for (const auto& v : im.run(s.metric, s.params, &i, 1))
        if (v.name == s.value_name) {
          t.num[i] = v.value;
          t.den[i] = 1.0;
        }
      if (!covered_only) t.den[i] = 1.0;
      b += t.den[i];
    }
  } catch (const Error&) {
    return;  // keep the generic path
  }
  t.uniform = b == static_cast<double>(n);
  t.zero_one = t.uniform && std::all_of(t.num.begin(), t.num.end(), [](double x) { return x == 0.0 || x == 1.0; });
  if (b > 0 && reproduces(im, t, false)) s = std::move(t);
}

}  // namespace

void choose_fast_path(const Impl& im, Slot& s, bool fast) {
  const std::string& m = s.metric;
  if (m == "cacc" || m == "nmi" || m == "ari") {
    // Note [clustering scores]: they re-fit a matching or count pairs of rows, and the repeated
    // rows of a bootstrap resample inflate them (NMI's intervals missed the value itself), so
    // they get no interval or test.
    s.kind = Impl::Kind::kNone;
    s.why_not = fmt::format("metric '{}' re-fits clusters to the rows: repeated rows of a resample "
                            "inflate it, so it is not resampled", m);
    return;
  }
  if (!fast) return;
  if (m == "top1" || m == "top5" || m == "topk") {
    topk_path(im, s, m == "top1" ? 1 : m == "top5" ? 5 : s.params.get_int("k"));
  } else if (m == "mean_per_class") {
    class_mean_path(im, s);
  } else if (m == "gzsl") {
    gzsl_path(im, s);
  } else if (m == "ml_map" || m == "ml_ap" || m == "ml_f1" || m == "ml_f1_top3") {
    multilabel_path(im, s);
  } else if ((m == "name_exact" && s.value_name == "ov/exact") ||
             (m == "sacc" && (s.value_name == "ov/sacc" || s.value_name == "ov/sacc_coverage"))) {
    single_row_path(im, s);
  }
}

double RunSamples::Impl::eval_fast(const Slot& s, const int64_t* idx, size_t n) const {
  switch (s.kind) {
    case Kind::kRowRatio: {
      double a = 0, b = 0;
      for (size_t i = 0; i < n; ++i) {
        a += s.num[idx[i]];
        b += s.den[idx[i]];
      }
      return b > 0 ? a / b : std::nan("");
    }
    case Kind::kClassMean: {
      // The metric's own order: counts per class, then the mean over classes present.
      std::vector<int64_t> total(s.classes, 0), right(s.classes, 0);
      for (size_t i = 0; i < n; ++i) {
        const int64_t c = s.cls[idx[i]];
        if (c < 0) continue;
        ++total[c];
        right[c] += s.correct[idx[i]];
      }
      double sum = 0;
      int64_t present = 0;
      for (int64_t c = 0; c < s.classes; ++c) {
        if (!total[c]) continue;
        sum += static_cast<double>(right[c]) / static_cast<double>(total[c]);
        ++present;
      }
      return present ? sum / static_cast<double>(present) : std::nan("");
    }
    case Kind::kGzsl: {
      std::vector<int64_t> total(s.classes, 0), joint(s.classes, 0), zsl(s.classes, 0);
      for (size_t i = 0; i < n; ++i) {
        const int64_t c = s.cls[idx[i]];
        if (c < 0) continue;
        ++total[c];
        joint[c] += s.correct[idx[i]];
        zsl[c] += s.zsl_hit[idx[i]];
      }
      double s_sum = 0, u_sum = 0, z_sum = 0;
      int64_t s_n = 0, u_n = 0;
      for (int64_t k = 0; k < s.classes; ++k) {
        if (total[k] == 0 || s.role[k] == 0) continue;
        const double tot = static_cast<double>(total[k]);
        if (s.role[k] == 1) {
          s_sum += joint[k] / tot;
          ++s_n;
        } else {
          u_sum += joint[k] / tot;
          z_sum += zsl[k] / tot;
          ++u_n;
        }
      }
      if (s_n == 0 || u_n == 0) return std::nan("");
      const double seen = s_sum / s_n, unseen = u_sum / u_n;
      if (s.value_name == "gzsl/S") return seen;
      if (s.value_name == "gzsl/U") return unseen;
      if (s.value_name == "gzsl/zsl") return z_sum / u_n;
      if (s.value_name == "gzsl/H") return (seen + unseen) > 0 ? 2 * seen * unseen / (seen + unseen) : 0.0;
      return std::nan("");
    }
    case Kind::kAp:
    case Kind::kF1: {
      MlValues v;
      eval_multilabel(s, idx, n, v);
      return pick_multilabel(s, v);
    }
    case Kind::kGeneric:
    case Kind::kNone: break;
  }
  return std::nan("");
}

}  // namespace vlb
