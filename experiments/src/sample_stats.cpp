// RunSamples (sample_stats.h): a run's evaluation rebuilt as `vlb rescore` does, each metric kept
// in a form that recomputes quickly on a resample of the rows (the fast paths: sample_paths.cpp;
// the tests: sample_tests.cpp).
#include "vlb/experiments/sample_stats.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "sample_stats_impl.h"
#include "vlb/experiments/run_evaluation.h"

namespace vlb {

namespace {

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
  return load(run_dir, reg, true);
}

std::shared_ptr<const RunSamples> RunSamples::load(const std::string& run_dir, const Registries& reg,
                                                   bool fast_paths) {
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

  if (im->pred.scores.defined() && im->pred.scores.dim() == 2 && im->targets.label.defined() &&
      im->targets.label.dim() == 1 && im->targets.label.size(0) == im->pred.scores.size(0)) {
    im->scores64 = im->pred.scores.to(at::kDouble).contiguous();
    im->label64 = im->targets.label.to(at::kLong).contiguous();
  }
  for (const auto& [metric, params] : ev.metrics) {
    if (ev.stored.mode == "topk") {
      const int64_t need = topk_ranks_needed(metric, params, ev.stored);
      if (need < 0 || need > ev.stored.topk_ids.size(1)) continue;  // not recomputable: no slot
    }
    auto m = reg.metrics.create(metric, params);
    m->reset();
    m->update(im->pred, im->targets);
    const bool rowwise = resamplable_by_row(reg.metrics.get(metric).tags);
    const int group = static_cast<int>(im->groups.size());
    im->groups.push_back({metric, params});
    for (const auto& v : m->compute()) {
      Impl::Slot s;
      s.metric = metric;
      s.value_name = v.name;
      s.params = params;
      s.full = v.value;
      s.higher_is_better = v.higher_is_better;
      s.group = group;
      s.kind = rowwise ? Impl::Kind::kGeneric : Impl::Kind::kNone;
      if (!rowwise)
        s.why_not = fmt::format("metric '{}' scores items that span several rows (groups, "
                                "retrieval): not resampled by row", metric);
      else
        choose_fast_path(*im, s, fast_paths);
      im->slots[v.name] = std::move(s);
    }
  }
  im->scores64 = at::Tensor();  // only the fast paths' construction reads them
  im->label64 = at::Tensor();
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

const RunSamples::Impl::Slot& RunSamples::Impl::slot(const std::string& name) const {
  auto it = slots.find(name);
  if (it == slots.end())
    throw Error(fmt::format("{}: no metric '{}' recomputable from predictions.h5", dir, name));
  return it->second;
}

void RunSamples::Impl::eval(const std::vector<const Slot*>& want, const int64_t* idx, size_t n,
                            double* out) const {
  std::map<int, std::vector<MetricValue>> ran;  // group -> its values on these rows
  std::map<int, MlValues> ml_ran;               // group -> its multi-label values
  for (size_t k = 0; k < want.size(); ++k) {
    const Slot& s = *want[k];
    out[k] = std::nan("");
    if (s.kind == Kind::kAp || s.kind == Kind::kF1) {
      auto it = ml_ran.find(s.group);
      if (it == ml_ran.end()) {
        it = ml_ran.emplace(s.group, MlValues{}).first;
        eval_multilabel(s, idx, n, it->second);
      }
      out[k] = pick_multilabel(s, it->second);
      continue;
    }
    if (s.kind != Kind::kGeneric) {
      out[k] = eval_fast(s, idx, n);
      continue;
    }
    auto it = ran.find(s.group);
    if (it == ran.end()) {
      std::vector<MetricValue> v;
      try {
        v = run(groups[s.group].metric, groups[s.group].params, idx, n);
      } catch (const Error&) {
        // A resample the metric cannot score (no row of some required kind): NaN, dropped later.
      }
      it = ran.emplace(s.group, std::move(v)).first;
    }
    for (const auto& v : it->second)
      if (v.name == s.value_name) out[k] = v.value;
  }
}

std::vector<MetricValue> RunSamples::Impl::run(const std::string& metric, const Params& params,
                                               const int64_t* idx, size_t n) const {
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
  auto m = reg->metrics.create(metric, params);
  m->reset();
  m->update(p, t);
  return m->compute();
}

int64_t RunSamples::size() const { return static_cast<int64_t>(impl_->rows.size()); }
const std::vector<int64_t>& RunSamples::row_ids() const { return impl_->rows; }
const std::string& RunSamples::digest() const { return impl_->digest; }
const std::string& RunSamples::run_dir() const { return impl_->dir; }
bool RunSamples::has_fast_path(const std::string& name) const {
  auto it = impl_->slots.find(name);
  return it != impl_->slots.end() && it->second.kind != Impl::Kind::kGeneric &&
         it->second.kind != Impl::Kind::kNone;
}

std::vector<std::string> RunSamples::names() const {
  std::vector<std::string> out;
  for (const auto& [name, s] : impl_->slots) out.push_back(name);
  return out;
}

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
  return values_on({name}, idx)[0];
}

std::vector<double> RunSamples::values_on(const std::vector<std::string>& names,
                                          const std::vector<int64_t>& idx) const {
  std::vector<const Impl::Slot*> want;
  for (const auto& name : names) want.push_back(&impl_->slot(name));
  for (int64_t i : idx)
    if (i < 0 || i >= size())
      throw Error(fmt::format("{}: value_on: row index {} outside [0, {})", impl_->dir, i, size()));
  std::vector<double> out(names.size());
  impl_->eval(want, idx.data(), idx.size(), out.data());
  return out;
}

}  // namespace vlb
