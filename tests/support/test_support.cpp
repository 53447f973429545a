#include "test_support.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "vlb/core/sha256.h"

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
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);  // the shell's 128 + signal when the command was killed
  } else if (WIFSIGNALED(status)) {
    r.exit_code = 128 + WTERMSIG(status);
  }
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
  // Reference checks use the distribution's python (apt's python3-numpy, python3-h5py), so that
  // they do not depend on whichever interpreter a developer's PATH finds first.
  const std::string py = "/usr/bin/python3";
  if (!fs::exists(py)) return "";
  return run_command(py + " -c 'import " + modules + "'").exit_code == 0 ? py : "";
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

std::string copy_experiment(const std::string& experiment_dir, const std::string& dest_root) {
  fs::path to = fs::path(dest_root) / fs::path(experiment_dir).filename();
  fs::create_directories(dest_root);
  fs::copy(experiment_dir, to, fs::copy_options::recursive);
  return to.string();
}

namespace {

std::string cache_root() { return VLB_TEST_CACHE_DIR; }

void log_sweep(const std::string& name, const std::string& where) {
  fs::create_directories(cache_root());
  std::ofstream(cache_root() + "/sweeps.log", std::ios::app)
      << name << " pid " << getpid() << " -> " << where << "\n";
}

// Runs and reports the spec into results_root; false (and gtest failures) if either exits non-zero.
bool compute_sweep(const std::string& name, const std::string& results_root, std::string* output) {
  auto r = run_cli("run experiments/specs/" + name + ".yaml --results " + results_root);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  *output = r.output;
  if (r.exit_code != 0) return false;
  auto rep = run_cli("report " + results_root + "/" + name);
  EXPECT_EQ(rep.exit_code, 0) << rep.output;
  return rep.exit_code == 0;
}

// What decides a sweep's results: the binary (methods, metrics and datasets are linked in
// statically) and the plan, whose run keys hash each run's resolved config.
std::string sweep_key(const std::string& name) {
  auto plan = run_cli("run experiments/specs/" + name +
                      ".yaml --dry-run --results /nonexistent/vlb-test-cache");
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  vlb::Sha256 h;
  h.update(vlb::sha256_file_hex(VLB_CLI));
  h.update(plan.output);
  return h.hex_digest().substr(0, 16);
}

}  // namespace

const SharedSweep& shared_sweep(const std::string& name) {
  static std::map<std::string, SharedSweep> done;
  static std::vector<std::unique_ptr<TempDir>> fresh_dirs;  // removed at exit
  if (auto it = done.find(name); it != done.end()) return it->second;
  SharedSweep& s = done[name];

  const char* fresh = std::getenv("VLB_TEST_FRESH");
  if (fresh && std::string(fresh) == "1") {
    fresh_dirs.push_back(std::make_unique<TempDir>());
    compute_sweep(name, fresh_dirs.back()->path(), &s.run_output);
    log_sweep(name, fresh_dirs.back()->path() + " (fresh)");
    s.experiment_dir = fresh_dirs.back()->path() + "/" + name;
    return s;
  }

  fs::create_directories(cache_root());
  const std::string entry = name + "-" + sweep_key(name);
  const fs::path final_dir = fs::path(cache_root()) / entry;
  const std::string lock_path = cache_root() + "/" + name + ".lock";
  int lock = open(lock_path.c_str(), O_CREAT | O_RDWR, 0644);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) ADD_FAILURE() << "cannot lock " << lock_path;

  if (!fs::exists(final_dir / "run-output.txt")) {
    // Built beside the final name and renamed into place: a killed test leaves no half entry.
    const fs::path tmp = fs::path(cache_root()) / (".tmp-" + entry + "-" + std::to_string(getpid()));
    fs::remove_all(tmp);
    std::string output;
    if (compute_sweep(name, tmp.string(), &output)) {
      write_text((tmp / "run-output.txt").string(), output);
      fs::remove_all(final_dir);
      fs::rename(tmp, final_dir);
      // Older entries of this spec (an earlier binary) are never read again.
      const std::regex older("(\\.tmp-)?" + name + "-[0-9a-f]{16}(-[0-9]+)?");
      for (const auto& e : fs::directory_iterator(cache_root())) {
        const std::string n = e.path().filename().string();
        if (n != entry && std::regex_match(n, older)) fs::remove_all(e.path());
      }
      log_sweep(name, final_dir.string());
    } else {
      s.run_output = output;
      s.experiment_dir = (tmp / name).string();  // left for a look at what failed
    }
  }
  if (s.experiment_dir.empty()) {
    s.experiment_dir = (final_dir / name).string();
    s.run_output = read_text((final_dir / "run-output.txt").string());
  }
  if (lock >= 0) close(lock);  // releases the flock
  return s;
}

}  // namespace vlb::test
