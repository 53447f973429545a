// `vlb status` is often the first command after a crash: it removes the temporaries that dead
// processes of this host left (kill -9 gives them no chance to clean up), and leaves those of other
// hosts alone, whose pids mean nothing here.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "robust_support.h"
#include "test_support.h"
#include "vlb/experiments/environment.h"

namespace {

namespace fs = std::filesystem;

std::string fmt_name(const std::string& prefix, const std::string& host, pid_t pid) {
  return prefix + host + "-" + std::to_string(pid);
}

pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;  // reaped: no process has it (pids are not reused this quickly)
}

TEST(StatusCleanup, RemovesTemporariesOfDeadProcessesOfThisHostOnly) {
  vlb::test::TempDir dir;
  std::string spec = dir / "spec.yaml";
  vlb::test::write_text(spec, vlb::robust::small_spec(1));
  auto run = vlb::test::run_cli("run " + spec + " --results " + dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string exp = dir / "robust";

  const std::string ours = fmt_name(".tmp-0123456789abcdef-", vlb::host_tag(), dead_pid());
  const std::string theirs = fmt_name(".tmp-0123456789abcdef-", "other-host", dead_pid());
  fs::create_directories(exp + "/" + ours);
  vlb::test::write_text(exp + "/" + ours + "/config.resolved.yaml", "half written");
  fs::create_directories(exp + "/" + theirs);

  auto st = vlb::test::run_cli("status " + exp);
  EXPECT_EQ(st.exit_code, 0) << st.output;
  EXPECT_FALSE(fs::exists(exp + "/" + ours)) << st.output;
  EXPECT_NE(st.output.find("removed"), std::string::npos) << st.output;
  EXPECT_NE(st.output.find(ours), std::string::npos) << st.output;
  EXPECT_TRUE(fs::exists(exp + "/" + theirs)) << st.output;
}

}  // namespace
