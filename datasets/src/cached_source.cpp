#include <filesystem>

#include "vlb/core/sha256.h"
#include "vlb/datasets/cached_source.h"
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

}  // namespace vlb
