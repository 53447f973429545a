// Environment probes for env.json, each answering "unknown" rather than failing a run.
#include "vlb/experiments/environment.h"

#include <fmt/format.h>
#include <hdf5.h>
#include <torch/version.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>

namespace vlb {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string capture(const std::string& cmd, bool* ok) {
  std::string out;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) {
    *ok = false;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *ok = pclose(p) == 0;
  return out;
}

}  // namespace

GitInfo git_info(const std::string& dir) {
  GitInfo g;
  bool ok = false;
  std::string sha = capture("git -C " + shell_quote(dir) + " rev-parse HEAD", &ok);
  if (!ok) return g;
  while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r')) sha.pop_back();
  g.sha = sha;
  std::string st = capture("git -C " + shell_quote(dir) + " status --porcelain", &ok);
  if (ok) g.dirty = !st.empty();
  return g;
}

std::string hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string host_tag() {
  std::string h = hostname();
  for (char& c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') c = '_';
  return h;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
      }
    }
  }
  return "unknown";
}

std::string vlb_version() { return VLB_VERSION; }

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __VERSION__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return __VERSION__;
#endif
}

std::string torch_version() { return TORCH_VERSION; }

std::string hdf5_version() {
  unsigned maj = 0, min = 0, rel = 0;
  if (H5get_libversion(&maj, &min, &rel) < 0) return "unknown";
  return fmt::format("{}.{}.{}", maj, min, rel);
}

}  // namespace vlb
