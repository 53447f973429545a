#pragma once
// One declaration per option: an OptionTable binds parameter names to the fields of a plain
// Options struct, and both the ParamSchema (name, type, default, range, help) and the parsing of
// resolved Params back into the struct come from that one table.
//
// Note [options tables]: the default of every parameter is the field's default member initialiser
// in the Options struct, read from a default-constructed struct, so a default is written once. The
// table is built once per component (a function-local static) and copied into registry entries.
// In the spirit of PyTorch's TORCH_ARG options, the struct stays a plain aggregate that C++
// callers (tests, benchmarks) fill directly, while YAML reaches the same fields by name.
//
//   struct ProbeOptions { double l2 = 1e-4; int64_t max_iter = 300; std::string solver = "lbfgs"; };
//   OptionTable<ProbeOptions> t;
//   t.add("l2", &ProbeOptions::l2, "L2 penalty").min(0.0)
//    .add("max_iter", &ProbeOptions::max_iter, "iterations").range(1, 100000)
//    .add("solver", &ProbeOptions::solver, "solver").choices({"lbfgs", "adam"});
//   ProbeOptions o = t.parse(params);
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/core/params.h"
#include "vlb/core/registry.h"

namespace vlb {

template <class O>
class OptionTable {
 public:
  /// Defaults are read from `proto`: a default-constructed O, or an instance with other defaults
  /// for a component that shares an Options struct with another one.
  explicit OptionTable(O proto = O{}) : proto_(std::move(proto)) {}

  /// A number (any integral type but bool -> int; floating -> float), a bool or a string field.
  template <class T>
  OptionTable& add(const std::string& name, T O::*field, const std::string& help) {
    return add_field<T>(name, [field](O& o) -> T& { return o.*field; }, help);
  }

  /// A field of a nested Options struct (e.g. a loss's options inside a trainer's).
  template <class S, class T>
  OptionTable& add(const std::string& name, S O::*sub, T S::*field, const std::string& help) {
    return add_field<T>(name, [sub, field](O& o) -> T& { return (o.*sub).*field; }, help);
  }

  /// Every field of `table`, under the same names, bound to the nested struct `sub`.
  template <class S>
  OptionTable& include(S O::*sub, const OptionTable<S>& table) {
    for (const auto& f : table.fields_) {
      Field g;
      g.spec = f.spec;
      g.spec.default_value = f.get(proto_.*sub);
      auto read = f.read;
      auto get = f.get;
      g.read = [sub, read](O& o, const Params& p) { read(o.*sub, p); };
      g.get = [sub, get](const O& o) { return get(o.*sub); };
      push(std::move(g));
    }
    return *this;
  }

  // Modifiers of the option added last.
  OptionTable& min(double v) { return last().spec.min = v, *this; }
  OptionTable& max(double v) { return last().spec.max = v, *this; }
  OptionTable& range(double lo, double hi) { return min(lo).max(hi); }
  OptionTable& choices(std::vector<std::string> c) {
    if (last().spec.type != ParamType::kString)
      throw Error("internal: option '" + last().spec.name + "': choices on a non-string option");
    last().spec.choices = std::move(c);
    return *this;
  }

  /// The declared parameters, defaults taken from a default-constructed O.
  ParamSchema schema() const {
    ParamSchema s;
    for (const auto& f : fields_) s.add(f.spec);
    return s;
  }

  /// Reads every declared field from resolved (validated) Params; other fields keep their defaults.
  O parse(const Params& p) const {
    O o = proto_;
    for (const auto& f : fields_) f.read(o, p);
    return o;
  }

  /// The Params the prototype corresponds to (the schema's defaults).
  Params defaults() const { return schema().defaults(); }

  /// The other direction: the declared fields of `o` as Params (for provenance records).
  Params to_params(const O& o) const {
    Params p;
    for (const auto& f : fields_) p.set(f.spec.name, f.get(o));
    return p;
  }

 private:
  template <class>
  friend class OptionTable;

  struct Field {
    ParamSpec spec;
    std::function<void(O&, const Params&)> read;
    std::function<ParamValue(const O&)> get;
  };

  template <class T>
  static constexpr ParamType type_of() {
    if constexpr (std::is_same_v<T, bool>) return ParamType::kBool;
    else if constexpr (std::is_integral_v<T>) return ParamType::kInt;
    else if constexpr (std::is_floating_point_v<T>) return ParamType::kFloat;
    else {
      static_assert(std::is_same_v<T, std::string>, "options are numbers, bools or strings");
      return ParamType::kString;
    }
  }

  template <class T>
  static ParamValue to_value(const T& v) {
    if constexpr (std::is_same_v<T, bool>) return v;
    else if constexpr (std::is_integral_v<T>) return static_cast<int64_t>(v);
    else if constexpr (std::is_floating_point_v<T>) return static_cast<double>(v);
    else return v;
  }

  template <class T>
  OptionTable& add_field(const std::string& name, std::function<T&(O&)> ref,
                         const std::string& help) {
    Field f;
    f.spec.name = name;
    f.spec.type = type_of<T>();
    f.spec.help = help;
    f.get = [ref](const O& o) { return to_value<T>(ref(const_cast<O&>(o))); };
    f.spec.default_value = f.get(proto_);
    f.read = [ref, name](O& o, const Params& p) {
      T& dst = ref(o);
      if constexpr (std::is_same_v<T, bool>) dst = p.get_bool(name);
      else if constexpr (std::is_integral_v<T>) dst = static_cast<T>(p.get_int(name));
      else if constexpr (std::is_floating_point_v<T>) dst = static_cast<T>(p.get_float(name));
      else dst = p.get_string(name);
    };
    return push(std::move(f));
  }

  OptionTable& push(Field f) {
    for (const auto& g : fields_)
      if (g.spec.name == f.spec.name)
        throw Error("internal: option '" + f.spec.name + "' declared twice");
    fields_.push_back(std::move(f));
    return *this;
  }

  Field& last() {
    if (fields_.empty()) throw Error("internal: option modifier before any option");
    return fields_.back();
  }

  O proto_;
  std::vector<Field> fields_;
};

/// What a registry entry says about a component besides its options.
struct EntryInfo {
  std::string name;
  std::string help;                // one line
  std::vector<std::string> tags;   // capability tags
  std::string version = "1";       // part of every run key: bump when outputs change
};

/// A registry entry whose schema and parsing come from `options`; `make` builds the component
/// from the parsed struct.
template <class Base, class O>
RegistryEntry<Base> make_entry(EntryInfo info, const OptionTable<O>& options,
                               std::function<std::unique_ptr<Base>(const O&)> make) {
  RegistryEntry<Base> e;
  e.name = std::move(info.name);
  e.help = std::move(info.help);
  e.version = std::move(info.version);
  e.tags = std::move(info.tags);
  e.schema = options.schema();
  auto table = std::make_shared<const OptionTable<O>>(options);
  e.factory = [table, make = std::move(make)](const Params& p) { return make(table->parse(p)); };
  return e;
}

/// The common case: `Impl` is constructible from `const O&`.
template <class Base, class Impl, class O>
RegistryEntry<Base> make_entry(EntryInfo info, const OptionTable<O>& options) {
  return make_entry<Base, O>(std::move(info), options,
                             [](const O& o) -> std::unique_ptr<Base> {
                               return std::make_unique<Impl>(o);
                             });
}

/// Options struct for components that take no parameters.
struct NoOptions {};

}  // namespace vlb
