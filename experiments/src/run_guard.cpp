// What keeps sweeps safe beside each other and against kills: run locks, the cleanup a signal
// triggers, publishing a run directory (runner_detail.h), and running a list of runs under their
// locks, shared by `vlb run` and `vlb worker`.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "runner_detail.h"
#include "vlb/core/error.h"
#include "vlb/core/io_error.h"
#include "vlb/core/sha256.h"
#include "vlb/experiments/workers.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace vlb {
namespace runner_detail {
namespace {

// Note [Cleanup on signals]: SIGINT, SIGTERM and SIGHUP (a parent's death reaches a worker as
// SIGTERM, Note [Local workers]) must not leave temporaries behind. The handler only writes the
// signal number to a pipe; a thread started by install_signal_cleanup() reads it and, holding the
// cleanup mutex for good, stops the workers (SIGTERM, SIGKILL after 10 s), removes this process's
// temporaries (the tracked ones, and any .tmp-/.old- of this host and pid in the sweep's
// directory, which also catches one created just before it was tracked), the local plan, and
// then dies of the same signal, as the shell expects. Everything that creates or publishes a
// temporary takes the same mutex, so nothing new appears once the cleanup has begun, and a
// publish is never cut in half. SIGKILL cannot be caught: its leftovers are removed by the next
// command on that directory (Note [Stale temporaries] in runner.cpp).
struct CleanupState {
  std::mutex m;
  std::set<std::string> temporaries, sweep_dirs, plan_dirs;
  std::vector<pid_t> workers;
};

CleanupState& state() {
  static auto* s = new CleanupState;  // never destroyed: the cleanup thread may outlive main()
  return *s;
}

int g_pipe_write = -1;
pid_t g_owner = 0;

void on_cleanup_signal(int sig) {
  if (getpid() != g_owner) _exit(128 + sig);  // a forked child between fork and exec
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t n = write(g_pipe_write, &b, 1);
  (void)n;
}

// Reaps what it can; the main thread may reap some first (ECHILD then).
void wait_for(std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pids.empty() && std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < pids.size();) {
      int st = 0;
      pid_t r = waitpid(pids[i], &st, WNOHANG);
      if (r == pids[i] || (r < 0 && errno == ECHILD))
        pids.erase(pids.begin() + static_cast<long>(i));
      else
        ++i;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

[[noreturn]] void cleanup_and_die(int sig) {
  CleanupState& s = state();
  s.m.lock();  // never unlocked: the process ends here
  try {
    std::vector<pid_t> alive = s.workers;
    for (pid_t p : alive) kill(p, SIGTERM);
    wait_for(alive, std::chrono::seconds(10));
    for (pid_t p : alive) kill(p, SIGKILL);
    wait_for(alive, std::chrono::seconds(2));
    auto sweep = [&] {
      std::error_code ec;
      for (const auto& t : s.temporaries) fs::remove_all(t, ec);
      for (const auto& d : s.sweep_dirs) remove_stale_temporaries(d);
    };
    sweep();
    for (const auto& d : s.plan_dirs) {
      std::error_code ec;
      fs::remove_all(d, ec);
      fs::remove(fs::path(d).parent_path(), ec);  // only if empty
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    sweep();
  } catch (...) {
  }
  std::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  kill(getpid(), sig);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  _exit(128 + sig);
}

// Note [Test hooks]: three environment variables exist only for tests of the sweep machinery and
// change no result. VLB_TEST_RUN_SLEEP_MS delays the start of each run (its lock held) so that a
// test can cancel a sweep mid-plan; VLB_TEST_PUBLISH_SLEEP_MS delays the publication of each
// finished run, so that a test can kill a process while its temporary exists; VLB_TEST_EXEC_LOG
// names a file that gets one line "<key16> <host> <pid>" per run started, so that a test can
// count executions across processes.
long env_ms(const char* name) {
  const char* s = std::getenv(name);
  return s ? std::strtol(s, nullptr, 10) : 0;
}

void test_hooks(const PlannedRun& r) {
  if (const char* log = std::getenv("VLB_TEST_EXEC_LOG")) {
    std::string line = fmt::format("{} {} {}\n", r.key16(), host_tag(), getpid());
    int fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ssize_t n = write(fd, line.data(), line.size());  // one write: lines never interleave
      (void)n;
      ::close(fd);
    }
  }
  if (long ms = env_ms("VLB_TEST_RUN_SLEEP_MS"); ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

void test_publish_delay() {
  if (long ms = env_ms("VLB_TEST_PUBLISH_SLEEP_MS"); ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

namespace {

// A full disk or a read-only results directory is the machine's fault, not the spec's: exit 4.
[[noreturn]] void throw_errno(const std::string& what, int e) {
  std::string msg = fmt::format("{}: {}", what, std::strerror(e));
  if (is_environment_errno(e)) throw EnvironmentError(msg);
  throw Error(msg);
}

constexpr uintmax_t kHashAtMost = 4u << 20;  // larger files (predictions.h5): size only

void write_manifest(const fs::path& tmp) {
  json files = json::object();
  for (const auto& e : fs::directory_iterator(tmp)) {
    std::string name = e.path().filename().string();
    // metrics.json is judged by parsing (a cut object never parses), and later tools may
    // rewrite it (rescoring): it is not listed.
    if (!e.is_regular_file() || name == "manifest.json" || name == "metrics.json") continue;
    uintmax_t n = e.file_size();
    json f = {{"bytes", n}};
    if (n <= kHashAtMost) f["sha256"] = sha256_file_hex(e.path().string());
    files[name] = f;
  }
  std::ofstream out(tmp / "manifest.json", std::ios::binary | std::ios::trunc);
  out << json{{"format", "vlbench-manifest/1"}, {"files", files}}.dump(1) << "\n";
  out.flush();
  if (!out) throw DataError((tmp / "manifest.json").string(), "", "write failed");
}

}  // namespace

// Note [Run locks]: each run key has a lock file, <experiment>/.locks/<key16>.lock, held with
// flock(LOCK_EX) by the process executing the run (the worker, under --jobs) from before it
// checks whether the run is done until it has published it. A sweep that finds a run locked goes
// on with the others and waits for it at the end; if the holder published a result meanwhile
// (the directory's stamp changed) that result counts, as run by another process; if it did not
// (it died: the kernel drops the lock with the process, even for SIGKILL), the run is executed
// here. So concurrent `vlb run` of one spec run each run once, and a restart never runs a run
// that a dying worker of an earlier sweep still holds. Lock files stay (empty, one per key): a
// lock file removed while another process waits on it would let two processes hold "the" lock.
// The file system must honour flock across every host that runs sweeps into the directory:
// local file systems do, NFS clients map flock to NFS byte-range locks (NFSv4, or NFSv3 with
// lockd), but a mount with `nolock` or `local_lock=flock` makes locks per host. Then concurrent
// sweeps from different hosts may execute a run twice; results stay whole (publishing by rename
// retries a lost race and the last complete directory stands). Where flock fails with ENOLCK the
// sweep runs without locks and says so once.
RunLock RunLock::open_and_lock(const std::string& experiment_dir, const std::string& key16,
                               bool wait) {
  const fs::path dir = fs::path(experiment_dir) / ".locks";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string path = (dir / (key16 + ".lock")).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw_errno("cannot open the run lock " + path, errno);
  for (;;) {
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) break;
    int e = errno;
    if (e == EINTR) continue;
    if (e == ENOLCK) {
      static bool said = false;
      if (!said) {
        said = true;
        fmt::print(stderr, "vlb: note: {}: the file system refuses locks; concurrent sweeps into "
                           "this directory may run a run twice\n", path);
      }
      break;
    }
    ::close(fd);
    if (e == EWOULDBLOCK) return RunLock();
    throw_errno("cannot lock " + path, e);
  }
  // Who holds it, for a person looking at a sweep that waits.
  std::string who = fmt::format("{} {}\n", host_tag(), getpid());
  if (ftruncate(fd, 0) == 0) {
    ssize_t n = pwrite(fd, who.data(), who.size(), 0);
    (void)n;
  }
  RunLock l;
  l.fd_ = fd;
  return l;
}

RunLock RunLock::try_acquire(const std::string& experiment_dir, const std::string& key16) {
  return open_and_lock(experiment_dir, key16, false);
}
RunLock RunLock::acquire(const std::string& experiment_dir, const std::string& key16) {
  return open_and_lock(experiment_dir, key16, true);
}
RunLock& RunLock::operator=(RunLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}
RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

DirStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  DirStamp d;
  d.dev = static_cast<uint64_t>(st.st_dev);
  d.ino = static_cast<uint64_t>(st.st_ino);
  d.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  return d;
}

void publish_run_dir(const std::string& tmp, const std::string& final_dir, const std::string& old) {
  write_manifest(tmp);
  auto fail = [&](const std::string& what, int e) {
    throw_errno(fmt::format("cannot publish run directory {} ({})", final_dir, what), e);
  };
  std::error_code ec;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (::rename(tmp.c_str(), final_dir.c_str()) == 0) return;
    int e = errno;
    if (e != EEXIST && e != ENOTEMPTY && e != EISDIR && e != ENOTDIR) fail("rename", e);
    // An earlier (damaged, failed or --force) directory is in the way: swap the two atomically.
    if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
      fs::remove_all(tmp, ec);  // now the previous directory
      return;
    }
    e = errno;
    if (e == ENOENT) continue;  // it went away meanwhile
    if (e != EINVAL && e != ENOSYS && e != EOPNOTSUPP) fail("exchange", e);
    // No exchange on this file system (NFS): move it aside, then ours in.
    fs::remove_all(old, ec);
    if (::rename(final_dir.c_str(), old.c_str()) != 0) {
      if (errno == ENOENT) continue;
      fail("move aside", errno);
    }
    if (::rename(tmp.c_str(), final_dir.c_str()) == 0) {
      fs::remove_all(old, ec);
      return;
    }
    e = errno;
    if (e == EEXIST || e == ENOTEMPTY) {  // another process published in between: try again
      fs::remove_all(old, ec);
      continue;
    }
    if (::rename(old.c_str(), final_dir.c_str()) != 0) fs::remove_all(old, ec);
    fail("rename", e);
  }
  throw Error("cannot publish run directory " + final_dir +
              ": other processes kept replacing it (20 attempts)");
}

void track_temporary(const std::string& path) {
  std::lock_guard<std::mutex> l(state().m);
  state().temporaries.insert(path);
}
void untrack_temporary(const std::string& path) {
  std::lock_guard<std::mutex> l(state().m);
  state().temporaries.erase(path);
}
void track_sweep_dir(const std::string& experiment_dir) {
  std::lock_guard<std::mutex> l(state().m);
  state().sweep_dirs.insert(experiment_dir);
}
void track_worker(pid_t pid) {
  std::lock_guard<std::mutex> l(state().m);
  state().workers.push_back(pid);
}
void track_plan_dir(const std::string& dir) {
  std::lock_guard<std::mutex> l(state().m);
  state().plan_dirs.insert(dir);
}
void untrack_workers() {
  std::lock_guard<std::mutex> l(state().m);
  state().workers.clear();
  state().plan_dirs.clear();
}
std::unique_lock<std::mutex> hold_cleanup() { return std::unique_lock<std::mutex>(state().m); }

LockedRun run_under_lock(const Plan& plan, const PlannedRun& r, const Registries& reg,
                         const GitInfo& git, bool force, bool wait, const DirStamp& seen,
                         const std::function<void()>& on_start, TrainedTogether* together) {
  const std::string dir = plan.experiment_dir + "/" + r.key16();
  LockedRun out;
  RunLock lock = wait ? RunLock::acquire(plan.experiment_dir, r.key16())
                      : RunLock::try_acquire(plan.experiment_dir, r.key16());
  if (!lock.held()) return out;  // busy
  std::string status = run_status(dir, r.key);
  if (stamp_of(dir) != seen && !status.empty()) {
    out.fate = status == "ok" ? RunFate::elsewhere_ok : RunFate::elsewhere_failed;
    return out;
  }
  if (!force && status == "ok") {
    out.fate = RunFate::done;
    return out;
  }
  if (on_start) on_start();
  test_hooks(r);
  out.outcome = execute(plan, r, reg, git, together);
  out.fate = out.outcome.ok ? RunFate::ran_ok : RunFate::ran_failed;
  return out;
}

void run_all_locked(const Plan& plan, const std::vector<const PlannedRun*>& runs,
                    const Registries& reg, const GitInfo& git, bool force,
                    const std::function<void(const PlannedRun&)>& start,
                    const std::function<void(const PlannedRun&, const LockedRun&)>& done,
                    const std::function<void(const std::string&)>& note) {
  std::vector<std::pair<const PlannedRun*, DirStamp>> busy;
  // A group fits its members when the first is run; one that another process then holds or has
  // finished wastes its share of the group's time, never a result.
  TrainedTogether together(plan, runs, reg);
  for (const PlannedRun* r : runs) {
    DirStamp seen = stamp_of(plan.experiment_dir + "/" + r->key16());
    LockedRun lr = run_under_lock(plan, *r, reg, git, force, false, seen, [&] {
      if (start) start(*r);
    }, &together);
    if (lr.fate == RunFate::busy) busy.emplace_back(r, seen);
    else done(*r, lr);
  }
  if (!busy.empty() && note)
    note(fmt::format("{}: waiting for {} run{} that another process is running\n",
                     plan.experiment, busy.size(), busy.size() == 1 ? "" : "s"));
  for (const auto& [r, seen] : busy) {
    LockedRun lr = run_under_lock(plan, *r, reg, git, force, true, seen, [&] {
      if (start) start(*r);
    }, &together);
    done(*r, lr);
  }
}

}  // namespace runner_detail

void install_signal_cleanup() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    runner_detail::throw_errno("cannot create a pipe for signals", errno);
  runner_detail::g_pipe_write = p[1];
  runner_detail::g_owner = getpid();
  const int read_end = p[0];
  std::thread([read_end] {
    unsigned char b = 0;
    for (;;) {
      ssize_t n = read(read_end, &b, 1);
      if (n == 1) runner_detail::cleanup_and_die(b);
      if (n < 0 && errno == EINTR) continue;
      return;  // the write end is never closed: not reached
    }
  }).detach();
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. nohup, or a background job of a script
    struct sigaction sa {};
    sa.sa_handler = runner_detail::on_cleanup_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, nullptr);
  }
}

std::vector<std::string> clean_stale_temporaries(const std::string& experiment_dir) {
  return runner_detail::remove_stale_temporaries(experiment_dir);
}

}  // namespace vlb
