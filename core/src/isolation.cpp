// Note [reading in a child]: HDF5 1.10 and matio trust the sizes and offsets a file declares; a
// malformed file can make them read past their buffers (SIGSEGV), loop forever or allocate
// gigabytes, and none of that can be caught in-process. So a reader of an untrusted file runs
// once in a forked child, which the parent kills at a wall-clock limit or when its resident
// memory grows past a limit. What the child reports:
//  - it finished: the parent runs the same read (deterministic, so it finishes too);
//  - it threw cheaply (little CPU and memory): the parent runs the read itself and throws the
//    same error with its own type, and a fuzzer keeps the coverage of that error path;
//  - it threw expensively, crashed, timed out or outgrew the memory limit: a DataError naming
//    the file.
// Memory is watched, not capped with RLIMIT_AS: a capped allocation fails fast, the reader then
// throws a cheap error the limit caused, and the parent's rerun, without the cap, would do the
// expensive work after all. Under a watch the child fails only as the parent would.
// An exit the child did not choose (a sanitizer report: exit 1) counts as "threw cheaply", so a
// memory error in our own instrumented code shows up in the parent, where a fuzzer sees it.
// fork() copies only the calling thread, so the child never waits on a lock another thread held;
// the readers take no locks of their own across a fork.
#include "vlb/core/isolation.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>  // wait4
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <tuple>

#include "vlb/core/error.h"
#include "vlb/core/io_error.h"

namespace vlb {
namespace {

// Exit codes the child chooses; anything else is an exit it did not choose.
constexpr int kOk = 0;
constexpr int kThrew = 90;    // message on the pipe: one type letter, then what()
constexpr int kNoMemory = 91;
constexpr int kCrashed = 92;  // a fatal signal, caught by crash_handler

// Reruns in the parent only below these: a cheap failure costs the parent little to repeat.
constexpr double kCheapCpuSeconds = 1.0;
constexpr long kCheapGrowthKb = 256 * 1024;

using FileKey = std::tuple<std::string, std::string, dev_t, ino_t, off_t, int64_t>;

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::set<FileKey>& passed() {
  static std::set<FileKey> s;
  return s;
}

bool file_key(const std::string& path, const std::string& what, FileKey& key, uint64_t& size) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  size = static_cast<uint64_t>(st.st_size);
  key = {path, what, st.st_dev, st.st_ino, st.st_size,
         static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  return true;
}

long resident_kb_of(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  long pages_total = 0, pages_resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  return got == 2 ? pages_resident * (sysconf(_SC_PAGESIZE) / 1024) : 0;
}

extern "C" void crash_handler(int) { _exit(kCrashed); }

void write_all(int fd, const std::string& s) {
  const char* p = s.data();
  size_t left = std::min<size_t>(s.size(), 8192);
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

[[noreturn]] void run_child(int fd, const std::function<void()>& read, const IsolationOptions& o) {
  struct sigaction sa {};
  sa.sa_handler = crash_handler;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
  for (int sig : {SIGALRM, SIGXCPU, SIGPIPE}) signal(sig, SIG_DFL);
  int code = kOk;
  std::string message;
  try {
    if (o.child_setup) o.child_setup();
    read();
  } catch (const std::bad_alloc&) {
    code = kNoMemory;
  } catch (const EnvironmentError& e) {
    code = kThrew, message = std::string("E") + e.what();
  } catch (const ConfigError& e) {
    code = kThrew, message = std::string("C") + e.what();
  } catch (const DataError& e) {
    code = kThrew, message = std::string("D") + e.what();
  } catch (const Error& e) {
    code = kThrew, message = std::string("V") + e.what();
  } catch (const std::exception& e) {
    code = kThrew, message = std::string("X") + e.what();
  } catch (...) {
    code = kThrew, message = "Xan exception that is not a std::exception";
  }
  write_all(fd, message);
  _exit(code);
}

[[noreturn]] void rethrow(const std::string& tagged, const std::string& path, const std::string& what) {
  const std::string msg = tagged.size() > 1 ? tagged.substr(1) : std::string();
  switch (tagged.empty() ? 'X' : tagged[0]) {
    case 'E': throw EnvironmentError(msg);
    case 'C': throw ConfigError(msg);
    case 'D': throw DataError(msg);
    case 'V': throw Error(msg);
    default: throw DataError(path, "", what + " failed: " + msg);
  }
}

}  // namespace

void check_in_child(const std::string& path, const std::string& what,
                    const std::function<void()>& read, const IsolationOptions& o) {
  FileKey key;
  uint64_t size = 0;
  // Not a regular file (missing, a directory): the read itself says so, without any risk.
  if (!file_key(path, what, key, size)) return;
  {
    std::lock_guard<std::mutex> lock(cache_mutex());
    if (passed().count(key)) return;
  }
  const double seconds = o.seconds > 0 ? o.seconds : 10.0 + static_cast<double>(size) / 20e6;
  const uint64_t memory = o.memory_bytes > 0 ? o.memory_bytes : (uint64_t(512) << 20) + 16 * size;

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_io_error(path, "cannot check " + what + " (pipe)", errno);
  std::fflush(nullptr);  // the child must not write the parent's buffered output a second time
  const long parent_kb = resident_kb_of(getpid());
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw_io_error(path, "cannot check " + what + " (fork)", err);
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(fds[1], read, o);
  }
  ::close(fds[1]);

  std::string tagged;
  bool timed_out = false, outgrew = false;
  const long limit_kb = parent_kb + static_cast<long>(memory >> 10);
  int slice_ms = 1;  // most reads take milliseconds: look often first, then every 20 ms
  for (;;) {
    const double left =
        seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    if (resident_kb_of(pid) > limit_kb) {
      outgrew = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, std::min(slice_ms, static_cast<int>(left * 1000.0) + 1));
    slice_ms = std::min(slice_ms * 2, 20);
    if (r <= 0) continue;  // a time slice ended (or EINTR): check the limits again
    char buf[4096];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is exiting
    tagged.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out || outgrew) ::kill(pid, SIGKILL);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }

  if (timed_out)
    throw DataError(path, "", fmt::format("{} gave up after {:.0f} s: the file keeps the reader "
                                          "busy without end (malformed?)", what, seconds));
  if (outgrew)
    throw DataError(path, "", fmt::format("{} needs more than {} MB of memory for a {}-byte file "
                                          "(a malformed size?)", what, memory >> 20, size));
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == kOk) {
    std::lock_guard<std::mutex> lock(cache_mutex());
    passed().insert(key);
    return;
  }
  if (code == kNoMemory)
    throw DataError(path, "", fmt::format("{} ran out of memory on a {}-byte file (a malformed "
                                          "size?)", what, size));
  if (WIFSIGNALED(status) || code == kCrashed) {
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    throw DataError(path, "", fmt::format("{} crashed on this file{}: it is malformed or not what "
                                          "it claims to be", what,
                                          sig ? fmt::format(" (signal {}, {})", sig, strsignal(sig))
                                              : std::string(" (a fatal signal in the reader)")));
  }
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  const bool cheap = cpu < kCheapCpuSeconds && ru.ru_maxrss - parent_kb < kCheapGrowthKb;
  if (cheap) return;
  if (code == kThrew) rethrow(tagged, path, what);
  throw DataError(path, "", fmt::format("{} failed on this file (exit {})", what, code));
}

}  // namespace vlb
