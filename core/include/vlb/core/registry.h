#pragma once
// A typed, explicit registry: name -> factory, help, parameter schema, version and tags.
// Filled by explicit register_<name>(Registry&) calls gathered in experiments/src/builtins.cpp;
// no static self-registration (it silently vanishes from static libraries).
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vlb/core/error.h"
#include "vlb/core/params.h"

namespace vlb {

/// "did you mean 'x'?" for the closest candidate by edit distance (empty if none is close).
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

/// Whether a registry entry's `tags` hold `tag` exactly.
inline bool has_tag(const std::vector<std::string>& tags, const std::string& tag) {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

template <class T>
struct RegistryEntry {
  std::string name;
  std::string help;          // one line
  std::string version = "1"; // bump when outputs change: it is part of every run key
  ParamSchema schema;
  std::vector<std::string> tags;  // capability tags, e.g. "task:classification"
  std::function<std::unique_ptr<T>(const Params&)> factory;
};

template <class T>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  void add(RegistryEntry<T> e) {
    if (entries_.count(e.name)) throw Error(kind_ + " '" + e.name + "' is registered twice");
    std::string name = e.name;
    entries_.emplace(std::move(name), std::move(e));
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  const RegistryEntry<T>& get(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::vector<std::string> names = this->names();
      std::string msg = "unknown " + kind_ + " '" + name + "'";
      std::string hint = did_you_mean(name, names);
      if (!hint.empty()) msg += "; " + hint;
      msg += " (registered: ";
      for (size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : "") + names[i];
      msg += ")";
      throw ConfigError(msg);
    }
    return it->second;
  }

  std::unique_ptr<T> create(const std::string& name, const Params& params) const {
    return get(name).factory(params);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }
  std::vector<const RegistryEntry<T>*> entries() const {
    std::vector<const RegistryEntry<T>*> out;
    for (const auto& kv : entries_) out.push_back(&kv.second);
    return out;
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::map<std::string, RegistryEntry<T>> entries_;  // sorted: list output is stable
};

}  // namespace vlb
