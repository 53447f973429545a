#pragma once
// The one DatasetSource shape every seeded generator shares: generate once into the cache dir,
// under a name keyed by the generator's version and parameters, and always hand back what is on
// disk (so the fingerprint is the file's and every run of a sweep sees the same bytes).
#include <functional>
#include <memory>
#include <string>

#include "vlb/datasets/dataset.h"

namespace vlb {

/// `name` prefixes the cache file ("synth" -> synth-<16 hex>.h5); the key hashes `name`,
/// `version` and every parameter value. Writes are atomic, so concurrent workers are safe.
std::unique_ptr<DatasetSource> make_cached_generator_source(const std::string& name,
                                                            const std::string& version,
                                                            const Params& params,
                                                            std::function<Dataset()> generate);

}  // namespace vlb
