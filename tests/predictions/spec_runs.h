#pragma once
// Tiny synthetic sweeps run through the CLI, shared by the predictions and rescore tests.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.h"

namespace vlb::test {

/// Writes `yaml` to dir/<name>.yaml and runs it into dir/<results>; returns the experiment
/// directory (the spec's `experiment:` must be `name`). gtest failure on a non-zero exit.
inline std::string run_tiny(const TempDir& dir, const std::string& name, const std::string& yaml,
                            const std::string& extra = "", const std::string& results = "results") {
  const std::string spec = dir / (name + ".yaml");
  write_text(spec, yaml);
  auto r = run_cli("run " + spec + " --results " + (dir / results) + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir / (results + "/" + name);
}

inline nlohmann::json read_json_file(const std::string& path) {
  return nlohmann::json::parse(read_text(path));
}

/// The run directories of an experiment (full paths, sorted).
inline std::vector<std::string> run_paths(const std::string& exp_dir) {
  std::vector<std::string> out;
  for (const auto& n : run_dir_names(exp_dir)) out.push_back(exp_dir + "/" + n);
  return out;
}

}  // namespace vlb::test
