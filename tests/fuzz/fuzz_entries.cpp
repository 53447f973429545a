// The fuzzed entry functions (fuzz_entries.h). File-based readers get the bytes through a file in
// a per-process scratch directory, since that is the interface users reach them by.
#include "fuzz_entries.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "vlb/core/error.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/npy.h"
#include "vlb/datasets/xlsa17.h"
#include "vlb/experiments/predictions.h"
#include "vlb/experiments/yaml_reader.h"
#include "vlb/reports/current_plan.h"
#include "vlb/reports/report.h"

namespace fs = std::filesystem;

namespace vlb::fuzz {
namespace {

fs::path scratch_path() { return fs::temp_directory_path() / ("vlb-fuzz-" + std::to_string(getpid())); }

const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = scratch_path();
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch_path(), ec);
    });
    return d;
  }();
  return dir;
}

std::string put(const std::string& rel, const uint8_t* data, size_t size) {
  fs::path p = scratch() / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                             static_cast<std::streamsize>(size));
  return p.string();
}

template <class F>
void refused_ok(F&& f) {
  try {
    f();
  } catch (const vlb::Error&) {
    // the located refusal every reader owes a bad input
  }
}

}  // namespace

void npy(const uint8_t* data, size_t size) {
  refused_ok([&] { parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy"); });
}

void yaml_spec(const uint8_t* data, size_t size) {
  refused_ok([&] {
    yamlr::Node n = yamlr::load_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    yamlr::assign_paths(n, "");
    if (n.kind == yamlr::Node::Kind::kMap)
      for (const auto& e : n.map) {
        if (e.value.kind == yamlr::Node::Kind::kScalar) {
          refused_ok([&] { yamlr::as_int(e.value); });
          refused_ok([&] { yamlr::to_param_value(e.value, ParamType::kFloat); });
          refused_ok([&] { yamlr::to_param_value(e.value, ParamType::kBool); });
        }
      }
  });
}

void h5_loader(const uint8_t* data, size_t size) {
  const std::string file = put("in.h5", data, size);
  refused_ok([&] { read_dataset(file); });
  refused_ok([&] { compute_fingerprint(file); });
}

void metrics_json(const uint8_t* data, size_t size) {
  put("exp/run1/metrics.json", data, size);
  std::ofstream((scratch() / "exp/run1/config.resolved.yaml").string())
      << "experiment: fz\nmethod:\n  name: ncm\nruntime:\n  seed: 0\n";
  refused_ok([&] { load_runs((scratch() / "exp").string()); });
}

void baseline_json(const uint8_t* data, size_t size) {
  const std::string file = put("baseline.json", data, size);
  Leaderboard lb;
  lb.experiment = "fz";
  lb.primary_metric = "top1";
  lb.rows = {"ncm"};
  lb.columns = {""};
  lb.cells["top1"]["ncm"][""] = Cell{0.5, 0.0, 1};
  lb.higher_is_better["top1"] = true;
  refused_ok([&] { check_baseline(file, lb); });
}

void plan_json(const uint8_t* data, size_t size) {
  put("plan/.plan/current.json", data, size);
  refused_ok([&] { read_current_plan((scratch() / "plan").string()); });
}

void mat(const uint8_t* data, size_t size) {
  const std::string file = put("att_splits.mat", data, size);
  refused_ok([&] { read_xlsa17_splits(file); });
}

void predictions(const uint8_t* data, size_t size) {
  const std::string file = put("predictions.h5", data, size);
  refused_ok([&] { to_prediction(read_predictions(file)); });
}

const std::vector<Target>& targets() {
  static const std::vector<Target> t = {
      {"npy", npy},           {"yaml_spec", yaml_spec},         {"h5_loader", h5_loader},
      {"metrics_json", metrics_json}, {"baseline_json", baseline_json}, {"plan_json", plan_json},
      {"mat", mat},           {"predictions", predictions},
  };
  return t;
}

}  // namespace vlb::fuzz
