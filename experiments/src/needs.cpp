// Plan-time checks of what methods need from their datasets (needs.h): the `needs:` tag grammar,
// the per-need test against a loaded Dataset with the converter flag that adds what is missing,
// and the one ConfigError that lists every problem of a plan before anything runs.
#include "vlb/experiments/needs.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "vlb/core/error.h"
#include "vlb/experiments/spec.h"
#include "vlb/experiments/yaml_reader.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

const std::set<std::string>& plain_needs() {
  static const std::set<std::string> s = {"texts",        "class_texts",    "text_types",
                                          "image_texts",  "text_parent",    "feature_maps",
                                          "partial_labels", "multilabels"};
  return s;
}
const std::set<std::string>& named_needs() {
  static const std::set<std::string> s = {"text_tower", "descriptor", "class_split", "split", "group"};
  return s;
}

std::vector<std::string> split_on(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

template <class Map>
std::string names_of(const Map& m) {
  std::string s;
  for (const auto& kv : m) s += (s.empty() ? "" : ", ") + kv.first;
  return s.empty() ? "none" : s;
}

template <class Map>
std::string have_hint(const std::string& name, const Map& m) {
  std::vector<std::string> names;
  for (const auto& kv : m) names.push_back(kv.first);
  std::string hint = did_you_mean(name, names);
  return fmt::format("has: {}{}", names_of(m), hint.empty() ? "" : "; " + hint);
}

bool any_nonnegative(const at::Tensor& t) { return t.defined() && t.numel() > 0 && t.ge(0).any().item<bool>(); }

std::string param_note(const Need& n) { return n.param.empty() ? "" : " (params." + n.param + ")"; }

// How to add each kind of content, as far as the converters can.
std::string check_one(const Need& n, const std::string& arg, const Dataset& ds) {
  const Texts& t = ds.texts;
  const std::string& w = n.what;
  if (w == "texts") {
    if (t.size() > 0) return "";
    return "needs texts (/texts), the file has none: add class texts with `vlb convert npy "
           "--text-features TEXTS.npy --text-classes CLASSES.npy` or a text bank with "
           "`--text-bank FEATURES.npy[:NAMES.txt]`";
  }
  if (w == "class_texts") {
    if (t.size() > 0 && any_nonnegative(t.cls)) return "";
    return "needs class texts (/texts rows with /texts/class >= 0): add them with `vlb convert npy "
           "--text-features TEXTS.npy --text-classes CLASSES.npy`";
  }
  if (w == "text_types") {
    if (t.size() > 0 && t.type.defined()) return "";
    return "needs a text type per text row (/texts/type): add it with `vlb convert npy "
           "--text-types TYPES.npy` (with --text-features/--text-classes)";
  }
  if (w == "image_texts") {
    if (t.size() > 0 && any_nonnegative(t.image)) return "";
    return "needs texts linked to images (/texts/image >= 0: captions or MLLM label strings): "
           "`vlb convert near-labels` adds simulated MLLM labels, `vlb convert sugarcrepe` captions";
  }
  if (w == "text_parent") {
    if (any_nonnegative(t.parent)) return "";
    return "needs sentence rows (/texts/parent >= 0); no `vlb convert` writes them: use a file "
           "that has them (datasets/SCHEMA.md) or the synth_composition source";
  }
  if (w == "feature_maps") {
    if (ds.feature_maps.defined()) return "";
    return "needs spatial feature maps (/images/feature_maps [N, H*W, C_f]); no `vlb convert` "
           "writes them: use the synth_multilabel source (`vlb synth multilabel`) or a file with "
           "them (datasets/SCHEMA.md)";
  }
  if (w == "partial_labels" || w == "multilabels") {
    if (ds.partial_labels.defined() || (w == "multilabels" && ds.labels.defined())) return "";
    return std::string("needs ") +
           (w == "multilabels" ? "multi-label targets (/images/labels or /images/partial_labels)"
                               : "partial labels (/images/partial_labels)") +
           "; no `vlb convert` writes them: use the synth_multilabel source (`vlb synth "
           "multilabel`) or a file with them (datasets/SCHEMA.md)";
  }
  if (w == "text_tower") {
    if (t.towers.count(arg)) return "";
    return fmt::format("needs the text tower /texts/towers/{}{} ({}); no `vlb convert` writes "
                       "towers: use a file that has it (datasets/SCHEMA.md), or \"\" for "
                       "/texts/features",
                       arg, param_note(n), have_hint(arg, t.towers));
  }
  if (w == "descriptor") {
    if (ds.descriptors.count(arg)) return "";
    return fmt::format("needs class descriptors of kind '{}'{} (/classes/descriptors/{}; {}): add "
                       "them with `vlb convert xlsa17 --descriptor {}=FILE.npy` (or `vlb convert "
                       "sun-clip-gzsl --descriptor`){}",
                       arg, param_note(n), arg, have_hint(arg, ds.descriptors), arg,
                       arg == "name_embedding" ? "; `vlb convert near-labels` writes name_embedding"
                                               : "");
  }
  if (w == "class_split") {
    if (ds.class_splits.count(arg)) return "";
    return fmt::format("needs the class split '{}'{} (/class_splits/{}; {}): `vlb convert xlsa17` "
                       "writes the seen/unseen class splits",
                       arg, param_note(n), arg, have_hint(arg, ds.class_splits));
  }
  if (w == "split") {
    if (ds.splits.count(arg)) return "";
    return fmt::format("needs the split '{}'{} (/splits/{}; {}): add it with `vlb convert npy "
                       "--split {}:FEATURES.npy:LABELS.npy`",
                       arg, param_note(n), arg, have_hint(arg, ds.splits), arg);
  }
  if (w == "group") {
    std::map<std::string, int> kinds;
    for (const auto& [name, g] : ds.groups) ++kinds[g.kind];
    if (kinds.count(arg)) return "";
    return fmt::format("needs a /groups entry of kind '{}'{} (kinds: {}): `vlb convert sugarcrepe` "
                       "writes one",
                       arg, param_note(n), names_of(kinds));
  }
  throw Error("internal: unknown need '" + w + "'");
}

bool applies(const Need& n, const Params& p) {
  for (const auto& c : n.when) {
    if (!p.has(c.param)) return false;
    bool eq = format_value(p.values().at(c.param)) == c.value;
    if (eq != c.equal) return false;
  }
  return true;
}

std::string loc_text(const yamlr::Loc& l) {
  if (l.line <= 0) return l.file;
  return fmt::format("{}:{}:{}", l.file, l.line, l.column);
}

// The spec tree as expand_spec sees it (includes merged, overrides applied), for locations only:
// anything that fails here already passed expand_spec, so a failure just means "no location".
yamlr::Node load_for_locations(const std::string& path, int depth) {
  yamlr::Node own = yamlr::load_file(path);
  const yamlr::Node* inc = own.find("include");
  if (!inc || depth > 16) return own;
  std::vector<const yamlr::Node*> items;
  if (inc->kind == yamlr::Node::Kind::kSeq) {
    for (const auto& i : inc->seq) items.push_back(&i);
  } else {
    items.push_back(inc);
  }
  yamlr::Node merged;
  merged.kind = yamlr::Node::Kind::kMap;
  for (const auto* i : items) {
    fs::path rel(i->scalar);
    fs::path full = rel.is_absolute() ? rel : fs::path(path).parent_path() / rel;
    yamlr::merge_into(merged, load_for_locations(full.lexically_normal().string(), depth + 1));
  }
  yamlr::merge_into(merged, own);
  return merged;
}

struct SpecLocations {
  std::map<std::string, std::vector<std::string>> methods;  // name -> "file:l:c: methods[i]"
  std::map<std::string, std::string> dataset_keys;          // "eval_split" -> its location
  std::map<std::string, std::string> dataset_values;        // "eval_split" -> its value
};

SpecLocations locate(const Plan& plan) {
  SpecLocations out;
  try {
    yamlr::Node root = load_for_locations(plan.spec_path, 0);
    for (const auto& o : plan.overrides) yamlr::apply_override(root, o);
    if (const yamlr::Node* ms = root.find("methods"))
      for (size_t i = 0; i < ms->seq.size(); ++i)
        if (const yamlr::Node* name = ms->seq[i].find("name"))
          out.methods[name->scalar].push_back(loc_text(name->loc) + fmt::format(": methods[{}]", i));
    if (const yamlr::Node* ds = root.find("dataset"))
      for (const char* k : {"train_split", "eval_split"})
        if (const yamlr::Node* v = ds->find(k)) {
          out.dataset_keys[k] = loc_text(v->loc) + ": dataset." + k;
          out.dataset_values[k] = v->scalar;
        }
  } catch (const std::exception&) {
  }
  return out;
}

std::string dataset_text(const RunConfig& c, const Dataset& ds) {
  std::string where = ds.path.empty() ? "generated by source " + c.dataset_source : ds.path;
  return fmt::format("dataset '{}' ({})", dataset_display_name(c, ds), where);
}

}  // namespace

std::vector<Need> parse_needs(const std::vector<std::string>& tags) {
  std::vector<Need> out;
  for (const auto& tag : tags) {
    if (tag.rfind("needs:", 0) != 0) continue;
    Need n;
    n.tag = tag;
    std::string body = tag.substr(6);
    size_t q = body.find('?');
    std::string head = body.substr(0, q);
    auto bad = [&](const std::string& why) { throw Error("tag '" + tag + "': " + why); };
    if (q != std::string::npos) {
      for (const auto& c : split_on(body.substr(q + 1), ',')) {
        size_t ne = c.find("!="), eq = c.find('=');
        NeedCondition nc;
        if (ne != std::string::npos && ne < eq) {
          nc = {c.substr(0, ne), c.substr(ne + 2), false};
        } else if (eq != std::string::npos) {
          nc = {c.substr(0, eq), c.substr(eq + 1), true};
        } else {
          bad("condition '" + c + "' is not param=value or param!=value");
        }
        if (nc.param.empty()) bad("a condition without a parameter name");
        n.when.push_back(nc);
      }
    }
    auto parts = split_on(head, ':');
    if (parts.size() > 2) bad("expected needs:<what>[:<arg>]");
    n.what = parts[0];
    if (plain_needs().count(n.what)) {
      if (parts.size() != 1) bad("'" + n.what + "' takes no argument");
    } else if (named_needs().count(n.what)) {
      if (parts.size() != 2 || parts[1].empty() || parts[1] == "@") bad("'" + n.what + "' needs a name or @param");
      if (parts[1][0] == '@') n.param = parts[1].substr(1);
      else n.arg = parts[1];
    } else {
      bad("unknown need '" + n.what + "'");
    }
    out.push_back(std::move(n));
  }
  return out;
}

void check_needs_against(const std::vector<Need>& needs, const ParamSchema& schema,
                         const std::string& component) {
  for (const auto& n : needs) {
    if (!n.param.empty()) {
      const ParamSpec* s = schema.find(n.param);
      if (!s || s->type != ParamType::kString)
        throw Error(fmt::format("{}: tag '{}': @{} is not a string parameter", component, n.tag, n.param));
    }
    for (const auto& c : n.when)
      if (!schema.find(c.param))
        throw Error(fmt::format("{}: tag '{}': no parameter '{}'", component, n.tag, c.param));
  }
}

std::vector<std::string> missing_needs(const std::vector<Need>& needs, const Params& params,
                                       const Dataset& ds) {
  std::vector<std::string> out;
  for (const auto& n : needs) {
    if (!applies(n, params)) continue;
    std::string arg = n.param.empty() ? n.arg : params.get_string(n.param);
    std::string m = check_one(n, arg, ds);
    if (!m.empty()) out.push_back(m);
  }
  return out;
}

std::string missing_split(const Dataset& ds, const std::string& split, const std::string& dataset) {
  if (ds.splits.count(split)) return "";
  return fmt::format("'{}' is not a split of {} ({}): `vlb convert npy --split NAME:FEATURES.npy:"
                     "LABELS.npy` adds one",
                     split, dataset, have_hint(split, ds.splits));
}

void validate_plan(const Plan& plan, const Registries& reg) {
  SpecLocations where = locate(plan);
  // (method, dataset) -> the distinct missing things over every parameter setting of it.
  struct PairProblems {
    const RunConfig* config;  // the first run of the pair, for names in the message
    const Dataset* dataset;
    std::vector<std::string> missing;
  };
  std::map<std::pair<std::string, const Dataset*>, size_t> pair_index;
  std::vector<PairProblems> pairs;
  std::map<std::string, std::vector<std::string>> split_problems;  // location -> problems
  std::set<std::tuple<std::string, std::string, const Dataset*>> seen_split;
  std::set<std::pair<const Dataset*, std::string>> checked;  // dataset, resolved config
  for (const auto& r : plan.runs) {
    const RunConfig& c = r.config;
    const Dataset* ds = r.dataset.get();
    using Split = std::pair<std::string, std::string>;  // spec key, split name
    for (const auto& [key, split] : {Split{"train_split", c.train_split}, Split{"eval_split", c.eval_split}}) {
      if (!seen_split.insert({key, split, ds}).second) continue;
      std::string m = missing_split(*ds, split, dataset_text(c, *ds));
      if (m.empty()) continue;
      auto loc = where.dataset_keys.find(key);
      std::string at = loc != where.dataset_keys.end() && where.dataset_values[key] == split
                           ? loc->second
                           : "dataset." + key;
      split_problems[at].push_back(m);
    }
    // Seeds and metrics do not change what a method needs, but its parameters may.
    if (!checked.insert({ds, c.method + "\n" + resolved_config_yaml(c)}).second) continue;
    auto [it, fresh] = pair_index.emplace(std::make_pair(c.method, ds), pairs.size());
    if (fresh) pairs.push_back({&c, ds, {}});
    auto& list = pairs[it->second].missing;
    for (const auto& m : missing_needs(parse_needs(reg.methods.get(c.method).tags), c.method_params, *ds))
      if (std::find(list.begin(), list.end(), m) == list.end()) list.push_back(m);
  }

  std::vector<std::string> lines;
  for (const auto& [at, problems] : split_problems)
    for (const auto& p : problems) lines.push_back(at + ": " + p);
  for (const auto& p : pairs) {
    if (p.missing.empty()) continue;
    const RunConfig& c = *p.config;
    auto loc = where.methods.find(c.method);
    std::string at = loc == where.methods.end() ? "method " + c.method
                                                : fmt::format("{}", fmt::join(loc->second, ", "));
    std::string text;
    for (const auto& m : p.missing) text += (text.empty() ? "" : "; ") + m;
    lines.push_back(fmt::format("{}: {} on {} {}", at, c.method, dataset_text(c, *p.dataset), text));
  }
  if (lines.empty()) return;
  std::string msg = fmt::format("{}: {} problem{} found before any run started (nothing was run):",
                                plan.spec_path, lines.size(), lines.size() == 1 ? "" : "s");
  for (const auto& l : lines) msg += "\n  " + l;
  throw ConfigError(msg);
}

}  // namespace vlb
