// Reading `select:` (experiments/SPEC.md "Model selection") and the per-method list of the params
// selected over; spec.cpp calls these while it expands the plan.
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "select_detail.h"
#include "vlb/core/registry.h"

namespace vlb::select_detail {
namespace {

using yamlr::Node;
using Kind = yamlr::Node::Kind;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Note [Selection metric names]: metrics name their values only when they compute them, but a
// spec must fail before anything runs. So each metric declares the names it can compute without
// seeing data (Metric::value_names), and `select.metric` is one of them: the full name
// ("cls/top1"), or the part after the task prefix ("top1") when exactly one declared name ends so.
std::string resolve_metric(const Node& n, const std::vector<MetricConfig>& metrics,
                           const Registries& reg) {
  const std::string want = yamlr::as_string(n);
  std::vector<std::string> names;
  for (const auto& mc : metrics)
    for (const auto& v : reg.metrics.create(mc.name, mc.params)->value_names())
      if (std::find(names.begin(), names.end(), v) == names.end()) names.push_back(v);
  if (std::find(names.begin(), names.end(), want) != names.end()) return want;
  std::vector<std::string> hits;
  if (want.find('/') == std::string::npos)
    for (const auto& v : names) {
      const size_t slash = v.find('/');
      if (slash != std::string::npos && v.substr(slash + 1) == want) hits.push_back(v);
    }
  if (hits.size() == 1) return hits[0];
  if (hits.size() > 1)
    yamlr::fail(n, "'" + want + "' names several values (" + join(hits) + "); write the full name");
  std::string msg = "'" + want + "' is not a value the spec's metrics compute";
  std::string hint = did_you_mean(want, names);
  if (!hint.empty()) msg += "; " + hint;
  msg += names.empty() ? std::string(" (they declare no value names)")
                       : " (they compute: " + join(names) + ")";
  yamlr::fail(n, msg + "; select on one of them or add its metric to `metrics:`");
}

std::string value_text(const Node& n) {
  return n.kind == Kind::kScalar ? n.scalar : yamlr::describe(n);
}

}  // namespace

Parsed parse_select(const Node* n, const std::vector<MetricConfig>& metrics, const Registries& reg) {
  Parsed p;
  if (!n) return p;
  if (n->kind == Kind::kScalar && !n->quoted && n->scalar == "none") {
    p.spec.mode = SelectSpec::Mode::kNone;
    return p;
  }
  if (n->kind != Kind::kMap)
    yamlr::fail(*n, "expected `none` or a map {metric, split or val_shots, over}, got " +
                        yamlr::describe(*n));
  yamlr::check_keys(*n, {"metric", "split", "val_shots", "over"});
  p.spec.mode = SelectSpec::Mode::kActive;
  const Node& metric = yamlr::require(*n, "metric");
  p.spec.metric = resolve_metric(metric, metrics, reg);
  p.spec.metric_at = metric.loc;

  const Node* split = n->find("split");
  const Node* val_shots = n->find("val_shots");
  if (split && val_shots)
    yamlr::fail(*val_shots, "give either select.split (a named split) or select.val_shots "
                            "(validation rows drawn from train_split), not both");
  if (!split && !val_shots)
    yamlr::fail(*n, "missing the rows to select on: select.split (a named dataset split) or "
                    "select.val_shots (K rows per class drawn from train_split, or `shots`)");
  if (split) {
    p.spec.split = yamlr::as_string(*split);
    if (p.spec.split.empty()) yamlr::fail(*split, "a split name may not be empty");
    p.spec.split_at = split->loc;
  } else {
    p.spec.val_shots_at = val_shots->loc;
    if (val_shots->kind == Kind::kScalar && val_shots->scalar == "shots") {
      p.spec.val_shots = kValShotsFromShots;
    } else {
      if (val_shots->kind != Kind::kScalar || val_shots->quoted)
        yamlr::fail(*val_shots, "expected a number of rows per class or `shots`, got " +
                                    yamlr::describe(*val_shots));
      p.spec.val_shots = yamlr::as_int(*val_shots);
      if (p.spec.val_shots < 1)
        yamlr::fail(*val_shots, fmt::format("{} is out of range [1, inf] (or `shots`)", p.spec.val_shots));
    }
  }
  if (const Node* over = n->find("over")) {
    p.over_given = true;
    for (const auto& item : yamlr::expect_seq(*over, true).seq) {
      std::string name = yamlr::as_string(item);
      for (const auto& [prev, at] : p.over)
        if (prev == name) yamlr::fail(item, "'" + name + "' listed twice");
      p.over.emplace_back(name, &item);
    }
  }
  return p;
}

void check_over_declared(const Parsed& sel,
                         const std::vector<std::pair<std::string, const ParamSchema*>>& methods) {
  for (const auto& [name, at] : sel.over) {
    bool declared = false;
    std::vector<std::string> all;
    for (const auto& [method, schema] : methods) {
      declared = declared || schema->find(name) != nullptr;
      for (const auto& spec : schema->specs())
        if (std::find(all.begin(), all.end(), spec.name) == all.end()) all.push_back(spec.name);
    }
    if (declared) continue;
    std::string hint = did_you_mean(name, all);
    yamlr::fail(*at, "no method of the spec has a parameter '" + name + "'" +
                         (hint.empty() ? std::string() : "; " + hint));
  }
}

std::vector<std::string> over_for_method(const Parsed& sel, const std::string& method,
                                         const ParamSchema& schema,
                                         const std::vector<ParamAxis>& axes) {
  std::vector<const ParamAxis*> varying;
  for (const auto& a : axes) {
    std::set<std::string> values;
    for (const auto& v : a.values->seq) values.insert(value_text(v));
    bool seen = std::any_of(varying.begin(), varying.end(),
                            [&](const ParamAxis* b) { return b->param == a.param; });
    if (values.size() > 1 && !seen) varying.push_back(&a);
  }
  switch (sel.spec.mode) {
    case SelectSpec::Mode::kAbsent:
      if (!varying.empty()) {
        const ParamAxis& a = *varying.front();
        yamlr::fail(*a.values,
                    fmt::format("method '{}' takes {} values of '{}', and the spec has no `select:` "
                                "key: write `select: none` to report every configuration, or a "
                                "`select:` block (metric, split or val_shots) to choose one on "
                                "held-out rows (experiments/SPEC.md \"Model selection\")",
                                method, a.values->seq.size(), a.param));
      }
      return {};
    case SelectSpec::Mode::kNone:
      return {};
    case SelectSpec::Mode::kActive:
      break;
  }
  std::vector<std::string> out;
  if (sel.over_given) {
    for (const auto& [name, at] : sel.over)
      if (schema.find(name)) out.push_back(name);
  } else {
    for (const auto* a : varying) out.push_back(a->param);
  }
  return out;
}

nlohmann::json select_key_json(const SelectConfig& s) {
  nlohmann::json j = {{"metric", s.metric}, {"over", s.over}};
  if (!s.split.empty())
    j["split"] = s.split;
  else if (s.val_shots == kValShotsFromShots)
    j["val_shots"] = "shots";
  else
    j["val_shots"] = s.val_shots;
  return j;
}

}  // namespace vlb::select_detail
