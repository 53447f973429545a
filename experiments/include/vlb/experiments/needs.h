#pragma once
// What a method needs from a dataset, declared in its registration as `needs:` tags and checked
// once per (method, dataset) before any run starts, so that a missing text bank or a misspelt
// split is one error naming the fix instead of one failed run per grid point.
//
// Tag grammar (shown as-is by `vlb describe`):
//   needs:<what>[:<arg>][?<cond>[,<cond>...]]
//   <arg>   a name, or @<param>: the value of that (string) method parameter
//   <cond>  <param>=<value> or <param>!=<value>, values as `vlb describe` prints them ("" allowed);
//           the need applies only when every condition holds
// <what>: texts, class_texts, text_types, image_texts, text_parent, feature_maps, partial_labels,
//         multilabels (labels or partial labels), and with an <arg>: text_tower, descriptor,
//         class_split, split, group (a /groups entry of that kind).
// Example: "needs:split:@search_split?search=val,no_split=error" - the split named by
// params.search_split, unless the method searches nothing or falls back without it.
// A need that a method can do without (a fallback) is not declared: only real needs are errors.
#include <string>
#include <vector>

#include "vlb/core/params.h"
#include "vlb/datasets/dataset.h"
#include "vlb/experiments/builtins.h"

namespace vlb {

struct Plan;

struct NeedCondition {
  std::string param;
  std::string value;
  bool equal = true;  // false: !=
};

struct Need {
  std::string tag;    // the tag it was parsed from
  std::string what;   // texts, descriptor, split, ...
  std::string arg;    // literal argument ("" when none or taken from a parameter)
  std::string param;  // @param: the parameter whose value is the argument
  std::vector<NeedCondition> when;
};

/// The `needs:` tags of `tags`, parsed. Error naming the tag for a malformed one or an unknown
/// <what> (a registration bug, caught by tests for every registered method).
std::vector<Need> parse_needs(const std::vector<std::string>& tags);

/// Every parameter a need refers to must exist in `schema`: Error naming the tag otherwise.
void check_needs_against(const std::vector<Need>& needs, const ParamSchema& schema,
                         const std::string& component);

/// What `ds` lacks of `needs` under `params`: one phrase per missing thing, each naming how to add
/// it (which `vlb convert` flag, or the source that generates it). Empty when nothing is missing.
std::vector<std::string> missing_needs(const std::vector<Need>& needs, const Params& params,
                                       const Dataset& ds);

/// "" when `split` is a split of `ds`, else a phrase naming the available splits (with a "did you
/// mean" hint for a near miss); `dataset` names the dataset in it.
std::string missing_split(const Dataset& ds, const std::string& split, const std::string& dataset);

/// Checks every (method, dataset) pair of the plan once, and the train/eval split of every run:
/// one ConfigError listing all problems, one line per (method, dataset) or split, located in
/// the spec where known. Called by make_plan, so `--dry-run` reports the same.
void validate_plan(const Plan& plan, const Registries& reg);

}  // namespace vlb
