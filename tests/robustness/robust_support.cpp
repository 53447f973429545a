#include "robust_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "test_support.h"

namespace fs = std::filesystem;

namespace vlb::robust {

std::string small_spec(int seeds) {
  std::string s = "[";
  for (int i = 0; i < seeds; ++i) s += (i ? ", " : "") + std::to_string(i);
  return "experiment: robust\n"
         "dataset:\n"
         "  source: synth\n"
         "  params: {classes: 5, dim: 8, train_per_class: 8, test_per_class: 4, seed: 0}\n"
         "  train_split: train\n"
         "  eval_split: test\n"
         "  shots: 4\n"
         "methods: [{name: ncm}, {name: zeroshot}]\n"
         "metrics: [top1]\n"
         "runtime: {threads: 1, seeds: " + s + "]}\n";
}

pid_t start_cli(const std::string& args, const std::string& log, const std::string& env) {
  std::string cmd = "cd '" + vlb::test::source_dir() + "' && exec env " + env + " '" + VLB_CLI +
                    "' " + args + " > '" + log + "' 2>&1";
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

int exit_code(int st) {
  if (st < 0) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

namespace {

// Fields of /proc/<pid>/stat after the command name: state, ppid, ...
bool stat_of(pid_t pid, char* state, pid_t* ppid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  long pp = 0;
  rest >> *state >> pp;
  *ppid = static_cast<pid_t>(pp);
  return static_cast<bool>(rest);
}

}  // namespace

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (!std::regex_match(name, std::regex("[0-9]+"))) continue;
    char state = 0;
    pid_t pp = 0;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (stat_of(pid, &state, &pp) && pp == parent && state != 'Z') out.push_back(pid);
  }
  return out;
}

bool alive(pid_t pid) {
  char state = 0;
  pid_t pp = 0;
  return stat_of(pid, &state, &pp) && state != 'Z' && state != 'X';
}

bool wait_gone(const std::vector<pid_t>& pids, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    bool any = false;
    for (pid_t p : pids) any = any || alive(p);
    if (!any) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string cmdline(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (char& c : text)
    if (c == '\0') c = ' ';
  return text;
}

bool wait_for_runs(const std::string& experiment_dir, size_t n, double seconds, pid_t watched) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline && (watched == 0 || alive(watched))) {
    if (fs::exists(experiment_dir) && vlb::test::run_dir_names(experiment_dir).size() >= n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<std::string> leftovers(const std::string& experiment_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(experiment_dir, ec)) {
    std::string name = e.path().filename().string();
    if (std::regex_match(name, std::regex("[0-9a-f]{16}")) || name == ".locks") continue;
    if (name == ".plan") {
      for (const auto& p : fs::directory_iterator(e.path(), ec))
        if (p.path().filename().string().rfind("local-", 0) == 0)
          out.push_back(".plan/" + p.path().filename().string());
      continue;
    }
    out.push_back(name);
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) out.push_back(line);
  return out;
}

}  // namespace vlb::robust
