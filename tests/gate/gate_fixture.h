#pragma once
// Run directories written as the runner writes them (config.resolved.yaml, metrics.json, env.json
// with dataset name/path/fingerprint), for the gate and export tests.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

namespace vlb::gate_test {

inline void put(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  test::write_text(path, content);
}

struct Run {
  int plan = 0;
  std::string method = "linear_probe";
  std::string params = "{l2: 0.01}";
  std::string data_dir = "/data/a";  // the dataset file is <data_dir>/dtd.h5; "": generated (synth)
  std::string fingerprint = "f00dfeed" + std::string(56, '0');
  int shots = 1;
  int seed = 0;
  double top1 = 0.5;
  std::map<std::string, double> aux;
  bool failed = false;
};

/// 64 hex digits that differ per (method, params, shots, seed, fingerprint): a stand-in run key.
inline std::string key_of(const Run& r) {
  std::string text = r.method + r.params + std::to_string(r.shots) + "/" + std::to_string(r.seed) +
                     r.fingerprint;
  unsigned long long h = 1469598103934665603ull;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", h);
  return std::string(hex) + std::string(48, '0');
}

/// Writes the run under exp/<first 16 hex of its key>; returns that directory.
inline std::string write_run(const std::string& exp, const Run& r) {
  const std::string key = key_of(r);
  const std::string dir = exp + "/" + key.substr(0, 16);
  const bool generated = r.data_dir.empty();
  const std::string path = generated ? "/cache/vlb/synth-0123.h5" : r.data_dir + "/dtd.h5";
  const std::string params = generated ? "    classes: 20\n" : "    path: \"" + path + "\"\n";
  put(dir + "/config.resolved.yaml",
      "ablation: \"\"\n"
      "dataset:\n  eval_split: test\n  params:\n" + params + "  shots: " + std::to_string(r.shots) +
          "\n  source: " + (generated ? "synth" : "h5") + "\n  train_split: train\n"
      "experiment: fewshot\n"
      "method:\n  name: " + r.method + "\n  params: " + r.params + "\n"
      "metrics: [top1]\n"
      "runtime:\n  predictions: none\n  predictions_max_mb: 64\n  predictions_topk: 5\n  seed: " +
          std::to_string(r.seed) + "\n  threads: 1\n");
  nlohmann::json m = {{"run_key", key}, {"plan_index", r.plan}};
  if (r.failed) {
    m["status"] = "failed";
    m["error"] = "boom";
  } else {
    m["status"] = "ok";
    m["metrics"] = {{"cls/top1", r.top1}};
    m["higher_is_better"] = {{"cls/top1", true}};
    if (!r.aux.empty()) m["aux"] = r.aux;
  }
  put(dir + "/metrics.json", m.dump(2));
  nlohmann::json env = {{"wall_seconds", 1.0},
                        {"dataset", {{"name", generated ? "synth" : "dtd"},
                                     {"source", generated ? "synth" : "h5"}, {"path", path},
                                     {"fingerprint", r.fingerprint}}}};
  put(dir + "/env.json", env.dump(2));
  return dir;
}

/// linear_probe and zeroshot at `shots`, seeds 0..2. top1 = base + 0.125 * seed (+ 0.25 for
/// linear_probe), so the means are 0.625 (linear_probe) and 0.375 (zeroshot) at base 0.25.
inline std::vector<Run> sweep(const std::string& data_dir, int shots, int first_plan = 0,
                              const std::string& l2 = "0.01") {
  std::vector<Run> runs;
  int plan = first_plan;
  for (const char* method : {"linear_probe", "zeroshot"})
    for (int seed = 0; seed < 3; ++seed) {
      Run r;
      r.plan = plan++;
      r.method = method;
      r.params = r.method == "zeroshot" ? "{}" : "{l2: " + l2 + "}";
      r.data_dir = data_dir;
      r.shots = shots;
      r.seed = seed;
      r.top1 = 0.25 + 0.125 * seed + (r.method == "zeroshot" ? 0.0 : 0.25);
      runs.push_back(r);
    }
  return runs;
}

inline void write_all(const std::string& exp, const std::vector<Run>& runs) {
  for (const auto& r : runs) write_run(exp, r);
}

/// .plan/current.json naming exactly these runs.
inline void write_plan(const std::string& exp, const std::vector<Run>& runs) {
  nlohmann::json arr = nlohmann::json::array();
  for (size_t i = 0; i < runs.size(); ++i) arr.push_back({{"key", key_of(runs[i])}, {"index", i}});
  nlohmann::json j = {{"format", "vlb-current-plan/1"}, {"experiment", "fewshot"}, {"spec", "s.yaml"},
                      {"overrides", nlohmann::json::array()}, {"written_at", "2026-01-01T00:00:00Z"},
                      {"runs", arr}};
  put(exp + "/.plan/current.json", j.dump());
}

using vlb::test::contains;

}  // namespace vlb::gate_test
