#pragma once
// Typed parameters declared by every registered component (method, dataset source, metric...).
// One declaration feeds YAML validation, `vlb describe`, sweep type checks and report columns.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace vlb {

enum class ParamType { kInt, kFloat, kBool, kString };
const char* to_string(ParamType t);

using ParamValue = std::variant<int64_t, double, bool, std::string>;
std::string format_value(const ParamValue& v);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  ParamValue default_value = 0.0;
  std::optional<double> min;            // inclusive, numbers only
  std::optional<double> max;            // inclusive, numbers only
  std::vector<std::string> choices;     // strings only; empty = any string
  std::string help;
};

/// A resolved parameter set: every declared parameter has a value of its declared type.
class Params {
 public:
  void set(const std::string& name, ParamValue v) { values_[name] = std::move(v); }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;  // ints widen to double
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const std::map<std::string, ParamValue>& values() const { return values_; }

 private:
  const ParamValue& at(const std::string& name) const;
  std::map<std::string, ParamValue> values_;
};

class ParamSchema {
 public:
  ParamSchema& add(ParamSpec spec);
  // Shorthands for the common cases.
  ParamSchema& add_int(const std::string& name, int64_t def, std::optional<double> min,
                       std::optional<double> max, const std::string& help);
  ParamSchema& add_float(const std::string& name, double def, std::optional<double> min,
                         std::optional<double> max, const std::string& help);
  ParamSchema& add_bool(const std::string& name, bool def, const std::string& help);
  ParamSchema& add_string(const std::string& name, const std::string& def,
                          std::vector<std::string> choices, const std::string& help);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(const std::string& name) const;
  Params defaults() const;

  /// Checks type, range and choices of one value; an int is accepted for a float parameter.
  /// Throws ConfigError (no location: callers add it) on a mismatch, and for unknown names
  /// with a "did you mean" hint.
  ParamValue check(const std::string& name, const ParamValue& v) const;

 private:
  std::vector<ParamSpec> specs_;
};

}  // namespace vlb
