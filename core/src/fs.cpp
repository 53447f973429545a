#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vlb/core/error.h"
#include "vlb/core/io_error.h"
#include "vlb/core/fs.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

std::string this_host() {
  char buf[HOST_NAME_MAX + 1] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string h(buf);
  for (char& c : h)
    if (c == '/' || c == ' ') c = '_';
  return h;
}

// An unreadable input is the input's fault (DataError) unless errno says the environment's.
[[noreturn]] void open_failed(const std::string& path, const std::string& what, int err) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw DataError(path, "", "is a directory; expected a " + what);
  if (!fs::exists(path, ec)) throw DataError(path, "", "cannot open the " + what + ": no such file");
  throw_io_error(path, "cannot open the " + what, err);
}

}  // namespace

std::string temp_sibling(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

std::string host_temp_sibling(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".tmp-" + this_host() + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++);
}

bool is_stale_host_temp(const std::string& name) {
  const size_t at = name.rfind(".tmp-");
  if (at == std::string::npos) return false;
  const std::string tail = name.substr(at + 5);  // host-pid-n
  const size_t n_dash = tail.rfind('-');
  if (n_dash == std::string::npos || n_dash == 0) return false;
  const size_t pid_dash = tail.rfind('-', n_dash - 1);
  if (pid_dash == std::string::npos || pid_dash == 0) return false;
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  const std::string host = tail.substr(0, pid_dash);
  const std::string pid = tail.substr(pid_dash + 1, n_dash - pid_dash - 1);
  if (!digits(pid) || !digits(tail.substr(n_dash + 1))) return false;
  // Another host's pid means nothing here (a shared results or cache directory).
  if (host != this_host()) return false;
  const long p = std::stol(pid);
  if (p <= 0 || p == getpid()) return false;
  return kill(static_cast<pid_t>(p), 0) != 0 && errno == ESRCH;
}

std::vector<std::string> remove_stale_temporaries_in(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  const fs::path d = dir.empty() ? fs::path(".") : fs::path(dir);
  if (!fs::is_directory(d, ec)) return removed;
  for (const auto& e : fs::directory_iterator(d, ec)) {
    const std::string name = e.path().filename().string();
    if (!is_stale_host_temp(name)) continue;
    std::error_code rec;
    if (e.is_regular_file(rec) && fs::remove(e.path(), rec)) removed.push_back(e.path().string());
  }
  return removed;
}

void write_file_atomic(const std::string& path, const std::string& content) {
  fs::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) throw_io_error(p.parent_path().string(), "cannot create the directory", ec.value());
  }
  std::string tmp = temp_sibling(path);
  {
    errno = 0;
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw_io_error(path, "cannot open a temporary file for writing", errno);
    errno = 0;
    f << content;
    f.flush();
    const int err = errno;
    if (!f) {
      f.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      throw_io_error(path, "write failed", err);
    }
    f.close();
    if (!f) {
      const int cerr = errno;
      std::error_code ec;
      fs::remove(tmp, ec);
      throw_io_error(path, "write failed", cerr);
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code rec;
    fs::remove(tmp, rec);
    throw_io_error(path, "cannot move the finished file into place", ec.value());
  }
}

std::string read_file(const std::string& path) {
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  std::error_code ec;
  if (!f || fs::is_directory(path, ec)) open_failed(path, "file", errno);
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw_io_error(path, "read failed", errno);
  return ss.str();
}

std::vector<std::string> read_text_lines(const std::string& path, const std::string& what,
                                         bool trim_and_skip_empty) {
  errno = 0;
  std::ifstream f(path);
  std::error_code ec;
  if (!f || fs::is_directory(path, ec)) open_failed(path, what, errno);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim_and_skip_empty) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty()) continue;
    }
    out.push_back(line);
  }
  if (f.bad()) throw_io_error(path, "read failed", errno);
  return out;
}

void check_readable_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw DataError(path, "", "is a directory; expected a " + what);
  if (!fs::exists(path, ec)) throw DataError(path, "", "cannot open the " + what + ": no such file");
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw_io_error(path, "cannot open the " + what, errno);
}

}  // namespace vlb
