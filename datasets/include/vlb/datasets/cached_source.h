#pragma once
// The one DatasetSource shape every seeded generator shares: generate once into the cache dir,
// under a name keyed by the generator's version and parameters, and always hand back what is on
// disk (so the fingerprint is the file's and every run of a sweep sees the same bytes).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vlb/core/options.h"
#include "vlb/datasets/dataset.h"

namespace vlb {

/// `name` prefixes the cache file ("synth" -> synth-<16 hex>.h5); the key hashes `name`,
/// `version` and every parameter value. Writes are atomic, so concurrent workers are safe.
std::unique_ptr<DatasetSource> make_cached_generator_source(const std::string& name,
                                                            const std::string& version,
                                                            const Params& params,
                                                            std::function<Dataset()> generate);

/// The tag of sources that make their data from their parameters alone: `vlb synth --source NAME`
/// reaches every source that carries it.
inline constexpr const char* kSyntheticTag = "synthetic";

/// A seeded generator's registry entry: schema and parsing from `options`, the tag `synthetic`
/// after info.tags, and a factory that runs `check` (if any) on the parsed options and returns a
/// cached generator source named info.name, keyed by info.version and the options.
template <class O>
RegistryEntry<DatasetSource> make_generator_entry(EntryInfo info, const OptionTable<O>& options,
                                                  Dataset (*generate)(const O&),
                                                  void (*check)(const O&) = nullptr) {
  info.tags.push_back(kSyntheticTag);
  const std::string name = info.name, version = info.version;
  auto table = std::make_shared<const OptionTable<O>>(options);
  return make_entry<DatasetSource, O>(
      std::move(info), options,
      [name, version, table, generate, check](const O& o) -> std::unique_ptr<DatasetSource> {
        if (check) check(o);
        // The parsed options as Params equal the resolved ones, so the cache key is unchanged.
        return make_cached_generator_source(name, version, table->to_params(o),
                                            [o, generate] { return generate(o); });
      });
}

bool is_synthetic(const RegistryEntry<DatasetSource>& e);
/// Names of the registered synthetic sources, sorted.
std::vector<std::string> synthetic_source_names(const DatasetRegistry& reg);

/// Generates the dataset of a synthetic source from resolved `params`, through the source's own
/// load() (the code path of `dataset: {source: NAME}`) in a private scratch cache that is removed
/// afterwards. ConfigError when `e` is not synthetic.
Dataset generate_synthetic(const RegistryEntry<DatasetSource>& e, const Params& params);

/// The sorted-key JSON text of `p` (ints stay ints, floats stay floats): the `synth_params`
/// provenance attribute, which is part of the file content and so of its fingerprint.
std::string params_json_text(const Params& p);

}  // namespace vlb
