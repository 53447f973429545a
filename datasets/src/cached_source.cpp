// Cached generator sources and the synthetic-source hook of `vlb synth` (cached_source.h).
#include "vlb/datasets/cached_source.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/feature_store.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

class CachedGeneratorSource final : public DatasetSource {
 public:
  CachedGeneratorSource(std::string file_name, std::function<Dataset()> generate)
      : file_name_(std::move(file_name)), generate_(std::move(generate)) {}

  Dataset load(const SourceContext& ctx) override {
    fs::path file = fs::path(ctx.cache_dir) / file_name_;
    if (!fs::exists(file)) {
      fs::create_directories(file.parent_path());
      Dataset ds = generate_();
      // Atomic: a concurrent process writing the same key renames identical bytes into place.
      write_dataset(ds, file.string());
    }
    return read_dataset(file.string());
  }

 private:
  std::string file_name_;
  std::function<Dataset()> generate_;
};

}  // namespace

std::unique_ptr<DatasetSource> make_cached_generator_source(const std::string& name,
                                                            const std::string& version,
                                                            const Params& params,
                                                            std::function<Dataset()> generate) {
  // Canonical text of the parameters (std::map: sorted by name) + generator version.
  std::string canon = name + " v" + version + "\n";
  for (const auto& [k, v] : params.values()) canon += k + "=" + format_value(v) + "\n";
  return std::make_unique<CachedGeneratorSource>(
      name + "-" + sha256_hex(canon).substr(0, 16) + ".h5", std::move(generate));
}

bool is_synthetic(const RegistryEntry<DatasetSource>& e) {
  return has_tag(e.tags, kSyntheticTag);
}

std::vector<std::string> synthetic_source_names(const DatasetRegistry& reg) {
  std::vector<std::string> out;
  for (const auto* e : reg.entries())
    if (is_synthetic(*e)) out.push_back(e->name);
  return out;
}

Dataset generate_synthetic(const RegistryEntry<DatasetSource>& e, const Params& params) {
  if (!is_synthetic(e))
    throw ConfigError("dataset source '" + e.name + "' is not synthetic: it reads existing data");
  fs::path scratch = fs::temp_directory_path() / fmt::format("vlb-synth-{}", getpid());
  SourceContext ctx;
  ctx.cache_dir = scratch.string();
  try {
    Dataset ds = e.factory(params)->load(ctx);
    fs::remove_all(scratch);
    return ds;
  } catch (...) {
    fs::remove_all(scratch);
    throw;
  }
}

std::string params_json_text(const Params& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : p.values())
    std::visit([&j, &k = k](const auto& x) { j[k] = x; }, v);
  return j.dump();
}

}  // namespace vlb
