#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <regex>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace vlb::test {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "vlbtest-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CommandResult run_cli(const std::string& args, const std::string& cwd) {
  std::string dir = cwd.empty() ? source_dir() : cwd;
  return run_command("cd '" + dir + "' && CI=true '" + std::string(VLB_CLI) + "' " + args);
}

std::string source_dir() { return VLB_SOURCE_DIR; }

std::vector<std::string> run_dir_names(const std::string& experiment_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(experiment_dir)) {
    std::string n = e.path().filename().string();
    if (std::regex_match(n, std::regex("[0-9a-f]{16}"))) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string shared_data_dir() {
  if (const char* env = std::getenv("VLB_SHARED_DATA")) {
    return fs::is_directory(env) ? std::string(env) : std::string();
  }
  fs::path p = fs::path(source_dir()).parent_path() / "shared" / "data";
  return fs::is_directory(p) ? p.string() : std::string();
}

std::string system_python_with(const std::string& modules) {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    auto r = run_command(std::string(py) + " -c 'import " + modules + "'");
    if (r.exit_code == 0) return py;
  }
  return "";
}

void write_text(const std::string& path, const std::string& content) {
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream f(path, std::ios::binary);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) { return fs::exists(path); }

int expect_rerun_identical(const std::string& spec, const std::string& experiment_dir, int seed) {
  namespace fs = std::filesystem;
  TempDir again;
  auto r = run_cli("run " + spec + " --set runtime.seeds=[" + std::to_string(seed) + "] --results " +
                   again.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return 0;
  const std::string name = fs::path(experiment_dir).filename().string();
  int compared = 0;
  for (const auto& run : run_dir_names(again.path() + "/" + name)) {
    auto mine = fs::path(experiment_dir) / run;
    EXPECT_TRUE(fs::exists(mine)) << mine;
    if (!fs::exists(mine)) return 0;
    auto a = nlohmann::json::parse(std::ifstream(fs::path(again.path()) / name / run / "metrics.json"));
    auto b = nlohmann::json::parse(std::ifstream(mine / "metrics.json"));
    EXPECT_EQ(a["metrics"], b["metrics"]) << run;
    ++compared;
  }
  return compared;
}

void expect_passes_baseline(const std::string& name, const std::string& experiment_dir) {
  auto ok = run_cli("check --baseline " + source_dir() + "/tests/regression/baselines/" + name +
                    ".json " + experiment_dir);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

std::string run_spec_and_report(const std::string& name, const std::string& results_root) {
  auto r = run_cli("run experiments/specs/" + name + ".yaml --results " + results_root);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string exp = results_root + "/" + name;
  auto rep = run_cli("report " + exp);
  EXPECT_EQ(rep.exit_code, 0) << rep.output;
  return exp;
}

double leaderboard_mean(const std::string& experiment_dir, const std::string& row,
                        const std::string& metric) {
  std::ifstream f(experiment_dir + "/leaderboard.json");
  auto lb = nlohmann::json::parse(f);
  for (const auto& [name, cols] : lb["cells"][metric].items())
    if (name == row || name.rfind(row + " (", 0) == 0)
      for (const auto& [col, cell] : cols.items()) return cell["mean"].get<double>();
  ADD_FAILURE() << "no row '" << row << "' for " << metric << " in " << experiment_dir;
  return 0;
}

}  // namespace vlb::test
