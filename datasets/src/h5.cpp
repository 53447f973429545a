// The `h5` dataset source (vlb/datasets/h5.h).
#include "vlb/datasets/h5.h"

#include "vlb/core/error.h"
#include "vlb/core/options.h"
#include "vlb/datasets/feature_store.h"

namespace vlb {
namespace {

class H5Source : public DatasetSource {
 public:
  explicit H5Source(std::string path) : path_(std::move(path)) {}
  Dataset load(const SourceContext&) override { return read_dataset(path_); }

 private:
  std::string path_;
};

const OptionTable<H5SourceOptions>& h5_options() {
  static const OptionTable<H5SourceOptions> t = [] {
    OptionTable<H5SourceOptions> o;
    o.add("path", &H5SourceOptions::path, "path of the .h5 feature file");
    return o;
  }();
  return t;
}

}  // namespace

void register_h5_source(DatasetRegistry& reg) {
  reg.add(make_entry<DatasetSource, H5SourceOptions>(
      EntryInfo{"h5", "an existing schema-v1 feature file (see datasets/SCHEMA.md)", {}, "1"},
      h5_options(), [](const H5SourceOptions& o) -> std::unique_ptr<DatasetSource> {
        if (o.path.empty()) throw ConfigError("dataset.params.path is required for the h5 source");
        return std::make_unique<H5Source>(o.path);
      }));
}

}  // namespace vlb
