#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "vlb/core/error.h"
#include "vlb/core/params.h"
#include "vlb/core/registry.h"

namespace vlb {

const char* to_string(ParamType t) {
  switch (t) {
    case ParamType::kInt: return "int";
    case ParamType::kFloat: return "float";
    case ParamType::kBool: return "bool";
    case ParamType::kString: return "string";
  }
  return "?";
}

std::string format_value(const ParamValue& v) {
  if (auto p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto p = std::get_if<double>(&v)) return fmt::format("{}", *p);  // shortest round-trip
  if (auto p = std::get_if<bool>(&v)) return *p ? "true" : "false";
  return std::get<std::string>(v);
}

const ParamValue& Params::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error("internal: parameter '" + name + "' was not declared");
  return it->second;
}

int64_t Params::get_int(const std::string& name) const {
  const auto& v = at(name);
  if (auto p = std::get_if<int64_t>(&v)) return *p;
  throw Error("internal: parameter '" + name + "' is not an int");
}

double Params::get_float(const std::string& name) const {
  const auto& v = at(name);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  throw Error("internal: parameter '" + name + "' is not a number");
}

bool Params::get_bool(const std::string& name) const {
  const auto& v = at(name);
  if (auto p = std::get_if<bool>(&v)) return *p;
  throw Error("internal: parameter '" + name + "' is not a bool");
}

const std::string& Params::get_string(const std::string& name) const {
  const auto& v = at(name);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  throw Error("internal: parameter '" + name + "' is not a string");
}

ParamSchema& ParamSchema::add(ParamSpec spec) {
  if (find(spec.name)) throw Error("parameter '" + spec.name + "' declared twice");
  specs_.push_back(std::move(spec));
  return *this;
}

ParamSchema& ParamSchema::add_int(const std::string& name, int64_t def, std::optional<double> min,
                                  std::optional<double> max, const std::string& help) {
  return add({name, ParamType::kInt, def, min, max, {}, help});
}
ParamSchema& ParamSchema::add_float(const std::string& name, double def,
                                    std::optional<double> min, std::optional<double> max,
                                    const std::string& help) {
  return add({name, ParamType::kFloat, def, min, max, {}, help});
}
ParamSchema& ParamSchema::add_bool(const std::string& name, bool def, const std::string& help) {
  return add({name, ParamType::kBool, def, std::nullopt, std::nullopt, {}, help});
}
ParamSchema& ParamSchema::add_string(const std::string& name, const std::string& def,
                                     std::vector<std::string> choices, const std::string& help) {
  return add({name, ParamType::kString, def, std::nullopt, std::nullopt, std::move(choices), help});
}

const ParamSpec* ParamSchema::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Params ParamSchema::defaults() const {
  Params p;
  for (const auto& s : specs_) p.set(s.name, s.default_value);
  return p;
}

ParamValue ParamSchema::check(const std::string& name, const ParamValue& v) const {
  const ParamSpec* s = find(name);
  if (!s) {
    std::vector<std::string> names;
    for (const auto& sp : specs_) names.push_back(sp.name);
    std::string msg = "unknown parameter '" + name + "'";
    std::string hint = did_you_mean(name, names);
    if (!hint.empty()) msg += "; " + hint;
    if (names.empty()) {
      msg += " (this component takes no parameters)";
    } else {
      msg += " (known: ";
      for (size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : "") + names[i];
      msg += ")";
    }
    throw ConfigError(msg);
  }
  auto type_error = [&]() {
    return ConfigError(fmt::format("expected {} for '{}', got '{}'", to_string(s->type), name,
                                   format_value(v)));
  };
  ParamValue out = v;
  switch (s->type) {
    case ParamType::kInt:
      if (!std::holds_alternative<int64_t>(v)) throw type_error();
      break;
    case ParamType::kFloat:
      if (auto p = std::get_if<int64_t>(&v)) {
        out = static_cast<double>(*p);
      } else if (!std::holds_alternative<double>(v)) {
        throw type_error();
      }
      break;
    case ParamType::kBool:
      if (!std::holds_alternative<bool>(v)) throw type_error();
      break;
    case ParamType::kString:
      if (!std::holds_alternative<std::string>(v)) throw type_error();
      break;
  }
  if (s->type == ParamType::kInt || s->type == ParamType::kFloat) {
    double x = std::holds_alternative<int64_t>(out) ? static_cast<double>(std::get<int64_t>(out))
                                                    : std::get<double>(out);
    if (!std::isfinite(x)) throw ConfigError(fmt::format("'{}' must be finite", name));
    if ((s->min && x < *s->min) || (s->max && x > *s->max)) {
      throw ConfigError(fmt::format("{} = {} is out of range [{}, {}]", name, format_value(out),
                                    s->min ? fmt::format("{}", *s->min) : "-inf",
                                    s->max ? fmt::format("{}", *s->max) : "inf"));
    }
  }
  if (s->type == ParamType::kString && !s->choices.empty()) {
    const auto& str = std::get<std::string>(out);
    if (std::find(s->choices.begin(), s->choices.end(), str) == s->choices.end()) {
      std::string msg = fmt::format("'{}' is not one of: {}", str, fmt::join(s->choices, ", "));
      std::string hint = did_you_mean(str, s->choices);
      if (!hint.empty()) msg += "; " + hint;
      throw ConfigError(name + ": " + msg);
    }
  }
  return out;
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // Close enough: at most a third of the name wrong (and at least one edit allowed).
  if (best.empty() || best_d > std::max<size_t>(1, name.size() / 3)) return "";
  return "did you mean '" + best + "'?";
}

}  // namespace vlb
