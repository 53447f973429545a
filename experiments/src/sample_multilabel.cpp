// Multi-label fast resampling paths (Note [fast resampling] in sample_stats_impl.h): AP walks each
// class's rows in the order of the full run, weighting a row by how often the resample drew it,
// and CF1/OF1 sum per-class counts of per-row predictions; both follow multilabel.cpp's
// arithmetic and are kept only when they reproduce the metric on all rows.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "sample_stats_impl.h"
#include "vlb/metrics/multilabel.h"

namespace vlb {
namespace {

using Impl = RunSamples::Impl;
using Slot = RunSamples::Impl::Slot;

std::shared_ptr<const Impl::MlData> ml_data(const Impl& im) {
  if (im.ml) return im.ml;
  const at::Tensor& y = im.targets.labels;
  if (!im.pred.scores.defined() || !y.defined() || y.dim() != 2 || im.pred.scores.sizes() != y.sizes())
    return nullptr;
  auto d = std::make_shared<Impl::MlData>();
  d->n = y.size(0);
  d->c = y.size(1);
  at::Tensor s = im.pred.scores.to(at::kDouble).contiguous(), t = y.to(at::kChar).contiguous();
  d->scores.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
  d->y.assign(t.data_ptr<int8_t>(), t.data_ptr<int8_t>() + t.numel());
  d->order.resize(d->c);
  for (int64_t c = 0; c < d->c; ++c) {
    auto& o = d->order[c];
    for (int64_t i = 0; i < d->n; ++i)
      if (d->y[i * d->c + c] != 0) o.push_back(i);
    const double* sp = d->scores.data();
    const int64_t C = d->c;
    std::stable_sort(o.begin(), o.end(), [&](int64_t a, int64_t b) { return sp[a * C + c] > sp[b * C + c]; });
  }
  im.ml = d;
  return d;
}

/// AP of class c with row weights w (multilabel.cpp's average_precision on the resampled rows:
/// one point per distinct score among the drawn rows).
double ap_of(const Impl::MlData& d, int64_t c, const std::vector<int64_t>& w, bool interpolated) {
  double npos = 0;
  for (int64_t r : d.order[c])
    if (d.y[r * d.c + c] > 0) npos += static_cast<double>(w[r]);
  if (npos == 0) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> prec, rec;
  int64_t tpc = 0, fpc = 0;
  bool open = false;
  double last_score = 0;
  auto point = [&] {
    prec.push_back(static_cast<double>(tpc) / static_cast<double>(tpc + fpc));
    rec.push_back(static_cast<double>(tpc) / npos);
  };
  for (int64_t r : d.order[c]) {
    if (!w[r]) continue;
    const double sc = d.scores[r * d.c + c];
    if (open && sc != last_score) point();
    (d.y[r * d.c + c] > 0 ? tpc : fpc) += w[r];
    last_score = sc;
    open = true;
  }
  if (open) point();
  return ap_from_curve(std::move(prec), rec, interpolated);
}

}  // namespace

void multilabel_path(const Impl& im, Slot& s) {
  auto d = ml_data(im);
  if (!d) return;
  Slot t = s;
  t.ml = d;
  const std::string& v = s.value_name;
  if (s.metric == "ml_map") {
    t.kind = Impl::Kind::kAp;
    t.field = v == "ml/map" ? "map" : v == "ml/map_nonint" ? "map_nonint" : v == "ml/map_classes" ? "map_classes" : "";
    if (t.field.empty()) return;
  } else if (s.metric == "ml_ap") {
    t.kind = Impl::Kind::kAp;
    t.field = "ap";
    const auto* names = im.targets.dataset ? &im.targets.dataset->class_names : nullptr;
    for (int64_t c = 0; c < d->c && t.ap_class < 0; ++c) {
      const std::string name = names && c < static_cast<int64_t>(names->size()) ? (*names)[c] : std::to_string(c);
      if (v == "ml/ap/" + name) t.ap_class = c;
    }
    if (t.ap_class < 0) return;
  } else {
    const int64_t k = s.params.get_int("top_k");
    const std::string sfx = k > 0 ? fmt::format("_top{}", k) : "";
    for (const char* f : {"cp", "cr", "cf1", "op", "or", "of1"})
      if (v == std::string("ml/") + f + sfx) t.field = f;
    if (t.field.empty()) return;
    t.kind = Impl::Kind::kF1;
    // The metric's own tensor ops, so every prediction is the one it made.
    at::Tensor scores = im.pred.scores.to(at::kDouble), pred;
    if (k > 0) {
      at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, 1, /*descending=*/true));
      pred = at::zeros({d->n, d->c}, at::kBool);
      pred.scatter_(1, order.slice(1, 0, std::min(k, d->c)), true);
    } else {
      pred = scores.sigmoid().ge(s.params.get_float("threshold"));
    }
    pred = pred.to(at::kByte).contiguous();
    t.ml_pred = std::make_shared<const std::vector<uint8_t>>(pred.data_ptr<uint8_t>(),
                                                             pred.data_ptr<uint8_t>() + pred.numel());
  }
  if (fast_path_reproduces(im, t, true)) s = std::move(t);
}

void eval_multilabel(const Slot& s, const int64_t* idx, size_t n, MlValues& out) {
  const Impl::MlData& d = *s.ml;
  std::vector<int64_t> w(d.n, 0);
  for (size_t i = 0; i < n; ++i) ++w[idx[i]];
  if (s.kind == Impl::Kind::kAp) {
    out.ap.resize(d.c);
    for (int64_t c = 0; c < d.c; ++c) out.ap[c] = ap_of(d, c, w, true);
    if (s.metric == "ml_map") {
      out.ap_nonint.resize(d.c);
      for (int64_t c = 0; c < d.c; ++c) out.ap_nonint[c] = ap_of(d, c, w, false);
    }
    return;
  }
  // CF1/OF1: per-class true/false positives and known positives over the drawn rows.
  const std::vector<uint8_t>& pred = *s.ml_pred;
  std::vector<double> tp(d.c, 0), fp(d.c, 0), np(d.c, 0);
  for (int64_t r = 0; r < d.n; ++r) {
    if (!w[r]) continue;
    const double wr = static_cast<double>(w[r]);
    for (int64_t c = 0; c < d.c; ++c) {
      const int8_t y = d.y[r * d.c + c];
      const bool p = pred[r * d.c + c];
      if (y > 0) {
        np[c] += wr;
        if (p) tp[c] += wr;
      } else if (y < 0 && p) {
        fp[c] += wr;
      }
    }
  }
  double sp = 0, sr = 0, ttp = 0, tfp = 0, tnp = 0;
  int64_t k = 0;
  for (int64_t c = 0; c < d.c; ++c) {
    const double a = tp[c], b = fp[c], m = np[c];
    ttp += a;
    tfp += b;
    tnp += m;
    if (m == 0) continue;
    sp += a + b > 0 ? a / (a + b) : 0.0;
    sr += a / m;
    ++k;
  }
  auto f1 = [](double p, double q) { return p + q > 0 ? 2 * p * q / (p + q) : 0.0; };
  out.cp = out.cr = 0;
  if (k > 0) {
    out.cp = sp / k;
    out.cr = sr / k;
  }
  out.cf1 = f1(out.cp, out.cr);
  out.op = ttp + tfp > 0 ? ttp / (ttp + tfp) : 0.0;
  out.orec = tnp > 0 ? ttp / tnp : 0.0;
  out.of1 = f1(out.op, out.orec);
}

double pick_multilabel(const Slot& s, const MlValues& v) {
  if (s.kind == Impl::Kind::kAp) {
    if (s.field == "ap") return v.ap[s.ap_class];  // NaN when the resample drew no positive
    const auto& aps = s.field == "map_nonint" ? v.ap_nonint : v.ap;
    double sum = 0;
    int64_t k = 0;
    for (double ap : aps)
      if (!std::isnan(ap)) sum += ap, ++k;
    if (s.field == "map_classes") return static_cast<double>(k);
    return k ? sum / k : 0.0;
  }
  if (s.field == "cp") return v.cp;
  if (s.field == "cr") return v.cr;
  if (s.field == "cf1") return v.cf1;
  if (s.field == "op") return v.op;
  if (s.field == "or") return v.orec;
  return v.of1;
}

}  // namespace vlb
