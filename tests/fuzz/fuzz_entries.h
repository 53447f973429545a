#pragma once
// One entry function per fuzzed reader. The libFuzzer targets (tests/fuzz/targets/, built by
// tests/fuzz/run.sh) and the corpus replay test (test_fuzz_replay.cpp, a normal gtest) both call
// these, so the regular build replays every committed input through exactly what was fuzzed.
// Each returns normally for any input: a located vlb::Error is the expected way to refuse one;
// any other exception or a crash is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vlb::fuzz {

void npy(const uint8_t* data, size_t size);           // parse_npy
void yaml_spec(const uint8_t* data, size_t size);     // the spec YAML reader (located tree)
void h5_loader(const uint8_t* data, size_t size);     // read_dataset + compute_fingerprint
void metrics_json(const uint8_t* data, size_t size);  // load_runs on a run dir with this metrics.json
void baseline_json(const uint8_t* data, size_t size); // check_baseline on this baseline file
void plan_json(const uint8_t* data, size_t size);     // read_current_plan on this .plan/current.json
void mat(const uint8_t* data, size_t size);           // read_xlsa17_splits (matio)
void predictions(const uint8_t* data, size_t size);   // read_predictions + to_prediction

struct Target {
  const char* name;  // tests/fuzz/corpus/<name>/
  void (*fn)(const uint8_t*, size_t);
};
const std::vector<Target>& targets();

}  // namespace vlb::fuzz
