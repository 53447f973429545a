// RunSamples (sample_stats.h): a run's evaluation rebuilt as `vlb rescore` does, each metric kept
// in a form that recomputes quickly on a resample of the rows. The tests are in sample_tests.cpp.
#include "vlb/experiments/sample_stats.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/experiments/run_evaluation.h"

namespace vlb {

// Note [fast resampling]: a bootstrap recomputes a metric a thousand times per cell. Metrics that
// are a ratio of per-row sums (top-k accuracy: correct rows / labelled rows) keep the per-row
// numerator and denominator; mean per-class accuracy keeps per-row correctness and class. Both are
// checked once against the registered metric on all rows (bit for bit, as metrics.json has it);
// on a mismatch, and for every other metric, a resample re-runs the registered metric on the
// Prediction and Targets index_select-ed to the drawn rows.
struct RunSamples::Impl {
  enum class Kind { kRowRatio, kClassMean, kGeneric, kNone };
  struct Slot {
    std::string metric;  // registry name
    std::string value_name;  // the metrics.json name it gives
    Params params;
    double full = 0;     // on every row: the metrics.json value
    bool higher_is_better = true;
    Kind kind = Kind::kGeneric;
    std::vector<double> num, den;      // kRowRatio: value = sum num / sum den
    std::vector<uint8_t> correct;      // kClassMean: top-1 correctness per row
    std::vector<int64_t> cls;          // kClassMean: true class per row (-1: ignored)
    int64_t classes = 0;
    bool uniform = false;              // kRowRatio with one positive den on every row
    bool zero_one = false;             // and num / den in {0, 1}
    std::string why_not;               // kNone: why a resample cannot be scored
  };
  std::string dir, digest;
  std::vector<int64_t> rows;
  const Registries* reg = nullptr;
  std::shared_ptr<const Dataset> dataset;
  Prediction pred;
  Targets targets;
  std::map<std::string, Slot> slots;  // metrics.json name -> how to recompute it

  const Slot& slot(const std::string& name) const {
    auto it = slots.find(name);
    if (it == slots.end())
      throw Error(fmt::format("{}: no metric '{}' recomputable from predictions.h5", dir, name));
    return it->second;
  }
  double eval(const Slot& s, const int64_t* idx, size_t n) const;
  double generic(const Slot& s, const int64_t* idx, size_t n) const;
};

namespace {

// Rank of the true class, ties to the lower class index: classification.cpp's rule.
int64_t rank_of(const double* row, int64_t c, int64_t t) {
  const double st = row[t];
  int64_t rank = 0;
  for (int64_t j = 0; j < c; ++j)
    if (row[j] > st || (j < t && row[j] == st)) ++rank;
  return rank;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void hash_tensor(Sha256& h, const std::string& name, const at::Tensor& t) {
  h.update(name);
  if (!t.defined()) return h.update("undefined");
  at::Tensor c = t.contiguous();
  std::string shape = std::string(c10::toString(c.scalar_type())) + ":";
  for (int64_t d = 0; d < c.dim(); ++d) shape += std::to_string(c.size(d)) + ",";
  h.update(shape);
  h.update(c.data_ptr(), c.numel() * c.element_size());
}

const std::vector<std::string> kRowwiseTasks = {"task:classification", "task:gzsl",
                                                "task:fewshot_textbank", "task:multilabel",
                                                "task:open_vocab"};

bool resamplable_by_row(const std::vector<std::string>& tags) {
  for (const auto& t : tags)
    if (std::find(kRowwiseTasks.begin(), kRowwiseTasks.end(), t) != kRowwiseTasks.end()) return true;
  return false;
}

}  // namespace

RunSamples::RunSamples(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunSamples::~RunSamples() = default;

std::shared_ptr<const RunSamples> RunSamples::load(const std::string& run_dir, const Registries& reg) {
  // One cache for the process: a report's runs share their dataset.
  static DatasetCache datasets;
  RunEvaluation ev = load_run_evaluation(run_dir, reg, datasets);
  auto im = std::make_unique<Impl>();
  im->dir = run_dir;
  im->reg = &reg;
  im->dataset = ev.dataset;
  im->pred = ev.prediction;
  im->targets = ev.targets;
  at::Tensor rows = ev.stored.rows.to(at::kLong).contiguous();
  im->rows.assign(rows.data_ptr<int64_t>(), rows.data_ptr<int64_t>() + rows.numel());

  Sha256 h;
  h.update(ev.stored.mode);
  hash_tensor(h, "rows", ev.stored.rows);
  hash_tensor(h, "scores", ev.stored.scores);
  hash_tensor(h, "topk_ids", ev.stored.topk_ids);
  for (const auto& [name, t] : ev.stored.aux) hash_tensor(h, "aux/" + name, t);
  for (const auto& n : ev.stored.pred_names) h.update(n + "\n");
  im->digest = h.hex_digest();

  const int64_t n = static_cast<int64_t>(im->rows.size());
  at::Tensor scores, label;
  auto dense = [&]() -> bool {
    if (!im->pred.scores.defined() || im->pred.scores.dim() != 2 || !im->targets.label.defined()) return false;
    if (!scores.defined()) {
      scores = im->pred.scores.to(at::kDouble).contiguous();
      label = im->targets.label.to(at::kLong).contiguous();
    }
    return true;
  };
  for (const auto& [metric, params] : ev.metrics) {
    if (ev.stored.mode == "topk") {
      const int64_t need = topk_ranks_needed(metric, params, ev.stored);
      if (need < 0 || need > ev.stored.topk_ids.size(1)) continue;  // not recomputable: no slot
    }
    auto m = reg.metrics.create(metric, params);
    m->reset();
    m->update(im->pred, im->targets);
    const bool rowwise = resamplable_by_row(reg.metrics.get(metric).tags);
    for (const auto& v : m->compute()) {
      Impl::Slot s;
      s.metric = metric;
      s.value_name = v.name;
      s.params = params;
      s.full = v.value;
      s.higher_is_better = v.higher_is_better;
      s.kind = rowwise ? Impl::Kind::kGeneric : Impl::Kind::kNone;
      if (!rowwise)
        s.why_not = fmt::format("metric '{}' scores items that span several rows (groups, "
                                "retrieval): not resampled by row", metric);
      int64_t k = metric == "top1" ? 1 : metric == "top5" ? 5 : metric == "topk" ? params.get_int("k") : 0;
      if (k > 0 && v.name == "cls/top" + std::to_string(k) && dense()) {
        const int64_t c = scores.size(1);
        const double* sp = scores.data_ptr<double>();
        const int64_t* lp = label.data_ptr<int64_t>();
        s.num.assign(n, 0.0);
        s.den.assign(n, 0.0);
        double sn = 0, sd = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (lp[i] < 0) continue;
          s.den[i] = 1.0;
          s.num[i] = rank_of(sp + i * c, c, lp[i]) < k ? 1.0 : 0.0;
          sn += s.num[i];
          sd += 1.0;
        }
        if (sd > 0 && same_bits(sn / sd, v.value)) {
          s.kind = Impl::Kind::kRowRatio;
          s.uniform = sd == static_cast<double>(n);
          s.zero_one = s.uniform;
        } else {
          s.num.clear();
          s.den.clear();
        }
      } else if (metric == "mean_per_class" && v.name == "cls/mean_per_class" && dense()) {
        const int64_t c = scores.size(1);
        const double* sp = scores.data_ptr<double>();
        const int64_t* lp = label.data_ptr<int64_t>();
        s.correct.assign(n, 0);
        s.cls.assign(lp, lp + n);
        s.classes = c;
        for (int64_t i = 0; i < n; ++i)
          if (lp[i] >= 0) s.correct[i] = rank_of(sp + i * c, c, lp[i]) == 0;
        s.kind = Impl::Kind::kClassMean;
        std::vector<int64_t> all(n);
        for (int64_t i = 0; i < n; ++i) all[i] = i;
        if (!same_bits(im->eval(s, all.data(), all.size()), v.value)) {
          s.kind = Impl::Kind::kGeneric;
          s.correct.clear();
          s.cls.clear();
        }
      }
      im->slots[v.name] = std::move(s);
    }
  }
  return std::make_shared<const RunSamples>(std::move(im));
}

std::shared_ptr<const RunSamples> RunSamples::from_rows(
    std::vector<int64_t> row_ids, std::vector<std::pair<std::string, std::vector<double>>> values,
    std::vector<std::string> zero_one, std::string digest, bool higher_is_better) {
  auto im = std::make_unique<Impl>();
  im->rows = std::move(row_ids);
  im->digest = std::move(digest);
  const size_t n = im->rows.size();
  for (auto& [name, v] : values) {
    if (v.size() != n)
      throw Error(fmt::format("RunSamples::from_rows: '{}' has {} values for {} rows", name, v.size(), n));
    Impl::Slot s;
    s.metric = name;
    s.value_name = name;
    s.kind = Impl::Kind::kRowRatio;
    s.higher_is_better = higher_is_better;
    s.den.assign(n, 1.0);
    double sum = 0;
    for (double x : v) sum += x;
    s.full = n ? sum / static_cast<double>(n) : std::nan("");
    s.uniform = n > 0;
    s.zero_one = s.uniform && std::find(zero_one.begin(), zero_one.end(), name) != zero_one.end();
    if (s.zero_one)
      for (double x : v)
        if (x != 0.0 && x != 1.0)
          throw Error(fmt::format("RunSamples::from_rows: '{}' is declared 0/1 but holds {}", name, x));
    s.num = std::move(v);
    im->slots[name] = std::move(s);
  }
  return std::make_shared<const RunSamples>(std::move(im));
}

double RunSamples::Impl::eval(const Slot& s, const int64_t* idx, size_t n) const {
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
    case Kind::kGeneric: return generic(s, idx, n);
    case Kind::kNone: break;
  }
  return std::nan("");
}

double RunSamples::Impl::generic(const Slot& s, const int64_t* idx, size_t n) const {
  at::Tensor ix = at::from_blob(const_cast<int64_t*>(idx), {static_cast<int64_t>(n)}, at::kLong).clone();
  const int64_t rows_n = static_cast<int64_t>(rows.size());
  auto pick = [&](const at::Tensor& t) {
    return t.defined() && t.dim() >= 1 && t.size(0) == rows_n ? t.index_select(0, ix) : t;
  };
  Prediction p;
  p.scores = pick(pred.scores);
  for (const auto& [k, t] : pred.aux) p.aux[k] = pick(t);
  Targets t{pick(targets.label), pick(targets.labels), targets.num_classes, targets.dataset,
            pick(targets.rows)};
  try {
    auto m = reg->metrics.create(s.metric, s.params);
    m->reset();
    m->update(p, t);
    for (const auto& v : m->compute())
      if (v.name == s.value_name) return v.value;
  } catch (const Error&) {
    // A resample the metric cannot score (no row of some required kind): dropped by the caller.
  }
  return std::nan("");
}

int64_t RunSamples::size() const { return static_cast<int64_t>(impl_->rows.size()); }
const std::vector<int64_t>& RunSamples::row_ids() const { return impl_->rows; }
const std::string& RunSamples::digest() const { return impl_->digest; }
const std::string& RunSamples::run_dir() const { return impl_->dir; }
bool RunSamples::has(const std::string& name) const { return impl_->slots.count(name) > 0; }
bool RunSamples::higher_is_better(const std::string& name) const { return impl_->slot(name).higher_is_better; }

bool RunSamples::resamplable(const std::string& name, std::string* why) const {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end()) {
    if (why) *why = fmt::format("metric '{}' cannot be recomputed from predictions.h5", name);
    return false;
  }
  if (it->second.kind == Impl::Kind::kNone) {
    if (why) *why = it->second.why_not;
    return false;
  }
  return true;
}

std::optional<std::vector<double>> RunSamples::per_row(const std::string& name) const {
  auto it = impl_->slots.find(name);
  if (it == impl_->slots.end() || it->second.kind != Impl::Kind::kRowRatio || !it->second.uniform)
    return std::nullopt;
  const auto& s = it->second;
  std::vector<double> out(s.num.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = s.num[i] / s.den[i];
  return out;
}

bool RunSamples::zero_one(const std::string& name) const {
  auto it = impl_->slots.find(name);
  return it != impl_->slots.end() && it->second.kind == Impl::Kind::kRowRatio && it->second.zero_one;
}

double RunSamples::value(const std::string& name) const { return impl_->slot(name).full; }

double RunSamples::value_on(const std::string& name, const std::vector<int64_t>& idx) const {
  const auto& s = impl_->slot(name);
  for (int64_t i : idx)
    if (i < 0 || i >= size())
      throw Error(fmt::format("{}: value_on: row index {} outside [0, {})", impl_->dir, i, size()));
  return impl_->eval(s, idx.data(), idx.size());
}

}  // namespace vlb
