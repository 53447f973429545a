// The selection rows of a run, the plan-time guards that keep them apart from the evaluation rows,
// and the selection metrics a run writes (experiments/SPEC.md "Model selection").
#include "vlb/experiments/select.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "select_detail.h"
#include "vlb/core/error.h"
#include "vlb/datasets/fewshot.h"

namespace vlb {
namespace {

std::vector<int64_t> sorted_rows(const at::Tensor& rows) {
  at::Tensor r = rows.to(at::kLong).contiguous();
  std::vector<int64_t> v(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
  std::sort(v.begin(), v.end());
  return v;
}

int64_t shared_rows(const at::Tensor& a, const at::Tensor& b) {
  std::vector<int64_t> x = sorted_rows(a), y = sorted_rows(b), common;
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(common));
  return static_cast<int64_t>(common.size());
}

std::string split_names(const Dataset& ds) {
  std::string s;
  for (const auto& kv : ds.splits) s += (s.empty() ? "" : ", ") + kv.first;
  return s.empty() ? std::string("none") : s;
}

}  // namespace

uint64_t validation_seed(uint64_t run_seed) {
  // SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators", 2014) of the
  // seed offset by a constant: a seed unrelated to the run seed that seeds the training draw.
  uint64_t z = run_seed + 0x76616c5f73686f74ULL;  // "val_shot"
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

DataView selection_view(const Dataset& ds, const RunConfig& c, const DataView& train) {
  if (!c.select.split.empty()) return make_view(ds, c.select.split);
  DataView pool = make_view(ds, c.train_split);
  const at::Tensor in_train = at::isin(pool.rows, train.rows);
  pool.rows = pool.rows.masked_select(in_train.logical_not());
  return sample_shots(pool, c.select.validation_shots(c.shots), validation_seed(c.seed));
}

namespace select_detail {
namespace {

void check_named_split(const RunConfig& c, const Dataset& ds, const SelectSpec& sel) {
  const std::string name = dataset_display_name(c, ds);
  if (sel.split == c.eval_split)
    yamlr::fail_at(sel.split_at, "select.split",
                   "'" + sel.split + "' is the evaluation split (dataset.eval_split): selecting on "
                   "it would choose each configuration on the rows the table reports");
  auto it = ds.splits.find(sel.split);
  if (it == ds.splits.end())
    yamlr::fail_at(sel.split_at, "select.split",
                   fmt::format("dataset '{}' has no split '{}' (splits: {})", name, sel.split,
                               split_names(ds)));
  if (it->second.numel() == 0)
    yamlr::fail_at(sel.split_at, "select.split",
                   fmt::format("split '{}' of dataset '{}' is empty", sel.split, name));
  auto eval = ds.splits.find(c.eval_split);
  if (eval == ds.splits.end()) return;  // validate_plan reports a missing evaluation split
  if (int64_t n = shared_rows(it->second, eval->second); n > 0)
    yamlr::fail_at(sel.split_at, "select.split",
                   fmt::format("split '{}' shares {} of its {} rows with the evaluation split '{}' "
                               "of dataset '{}': the selection would see evaluation rows",
                               sel.split, n, it->second.numel(), c.eval_split, name));
}

void check_val_shots(const RunConfig& c, const Dataset& ds, const SelectSpec& sel) {
  const std::string name = dataset_display_name(c, ds);
  const int64_t k = c.select.validation_shots(c.shots);
  if (c.shots <= 0)
    yamlr::fail_at(sel.val_shots_at, "select.val_shots",
                   fmt::format("the validation rows are what the K-shot training draw leaves of "
                               "train_split '{}', but dataset.shots is 0 (every row trains); set "
                               "dataset.shots, or select on a named split (select.split)",
                               c.train_split));
  auto train = ds.splits.find(c.train_split);
  auto eval = ds.splits.find(c.eval_split);
  if (train == ds.splits.end() || eval == ds.splits.end()) return;  // validate_plan's to report
  if (int64_t n = shared_rows(train->second, eval->second); n > 0)
    yamlr::fail_at(sel.val_shots_at, "select.val_shots",
                   fmt::format("train_split '{}' shares {} rows with the evaluation split '{}' of "
                               "dataset '{}': validation rows drawn from it could be evaluation rows",
                               c.train_split, n, c.eval_split, name));
  at::Tensor label = make_view(ds, c.train_split).label().to(at::kLong).contiguous();
  std::vector<int64_t> count(static_cast<size_t>(std::max<int64_t>(ds.num_classes(), 0)), 0);
  const int64_t* lp = label.data_ptr<int64_t>();
  for (int64_t i = 0; i < label.numel(); ++i)
    if (lp[i] >= 0 && lp[i] < static_cast<int64_t>(count.size())) ++count[lp[i]];
  int64_t first = -1, short_classes = 0;
  for (size_t cl = 0; cl < count.size(); ++cl) {
    // Classes without training rows (unseen classes of a zero-shot split) have nothing to draw.
    if (count[cl] == 0 || count[cl] >= c.shots + k) continue;
    if (first < 0) first = static_cast<int64_t>(cl);
    ++short_classes;
  }
  if (first < 0) return;
  const std::string cls = first < static_cast<int64_t>(ds.class_names.size())
                              ? ds.class_names[first]
                              : std::to_string(first);
  yamlr::fail_at(sel.val_shots_at, "select.val_shots",
                 fmt::format("class '{}' has {} rows in train_split '{}' of dataset '{}', fewer than "
                             "dataset.shots + select.val_shots = {} + {} = {}{}: the validation rows "
                             "must not repeat training shots; lower select.val_shots or dataset.shots",
                             cls, count[first], c.train_split, name, c.shots, k, c.shots + k,
                             short_classes > 1 ? fmt::format(" ({} classes are short)", short_classes)
                                               : std::string()));
}

}  // namespace

void check_selection(const Plan& plan, const SelectSpec& sel) {
  if (sel.mode != SelectSpec::Mode::kActive) return;
  std::set<std::string> checked;
  for (const auto& r : plan.runs) {
    const RunConfig& c = r.config;
    if (!checked.insert(fmt::format("{}\n{}\n{}\n{}", r.dataset->fingerprint, c.train_split,
                                    c.eval_split, c.shots))
             .second)
      continue;
    if (!sel.split.empty())
      check_named_split(c, *r.dataset, sel);
    else
      check_val_shots(c, *r.dataset, sel);
  }
}

nlohmann::json evaluate_selection(Method& method, const Dataset& ds, const Dataset& run_ds,
                                  const RunConfig& c, const DataView& train,
                                  const RunContext& ctx, const Registries& reg) {
  DataView rows = selection_view(ds, c, train);
  if (rows.size() == 0) throw Error("select: the selection rows are empty");
  Prediction pred = to_cpu(method.predict(rebase(rows, run_ds), ctx));
  Targets targets{rows.label(), rows.labels(), ds.num_classes(), &ds, rows.rows};
  nlohmann::json values = nlohmann::json::object(), higher = nlohmann::json::object();
  std::string errors;
  for (const auto& mc : c.metrics) {
    // A metric that cannot score these rows (a GZSL metric on rows of seen classes only) leaves
    // its values out; only the selection metric itself is required.
    try {
      auto metric = reg.metrics.create(mc.name, mc.params);
      metric->reset();
      metric->update(pred, targets);
      for (const auto& v : metric->compute()) {
        values[v.name] = v.value;
        higher[v.name] = v.higher_is_better;
      }
    } catch (const std::exception& e) {
      errors += fmt::format("; {}: {}", mc.name, e.what());
    }
  }
  if (!values.contains(c.select.metric))
    throw Error(fmt::format("select: metric '{}' was not computed on the {} selection rows{}",
                            c.select.metric, rows.size(), errors));
  nlohmann::json out = {{"split", c.select.split.empty() ? c.train_split : c.select.split},
                        {"rows", rows.size()},
                        {"metrics", values},
                        {"higher_is_better", higher}};
  if (c.select.split.empty()) out["val_shots"] = c.select.validation_shots(c.shots);
  return out;
}

}  // namespace select_detail
}  // namespace vlb
